"""The ``hpcbelt aggregate`` sub-command (registered by :mod:`hpcbelt.cli` when importable)."""

from __future__ import annotations

from ..errors import InputError

HELP = ("summarise a run file (pitch-angle or drift-diffusion): ensemble statistics, PDFs, figures "
        "and a Markdown report")


def _floats(text: str, flag: str, n: int | None = None) -> tuple:
    try:
        vals = tuple(float(x) for x in text.split(",") if x.strip() != "")
    except ValueError:
        raise InputError(f"{flag} {text!r}: expected comma-separated numbers") from None
    if not vals or (n is not None and len(vals) != n):
        want = f"{n} comma-separated numbers" if n else "at least one number"
        raise InputError(f"{flag} {text!r}: expected {want}")
    return vals


def register(subparsers) -> None:
    p = subparsers.add_parser("aggregate", help=HELP, description=HELP + ". Runs under python, mpirun or srun; "
                              "with N ranks the time blocks are divided over the ranks (same result).")
    p.add_argument("run", help="run file written by 'hpcbelt run'")
    p.add_argument("-o", "--output", help="summary HDF5 file (default: RUN_summary.h5 next to the run); "
                   "an earlier summary is replaced, any other existing file needs --overwrite")
    p.add_argument("--figures", metavar="DIR", help="write PNG figures into DIR (created if missing)")
    p.add_argument("--report", metavar="FILE.md", help="Markdown report (default: the summary name with .md)")
    p.add_argument("--alpha-deg", type=float, default=30.0,
                   help="pitch angle of the PDFs, Fig 4, bootstrap and convergence [deg] (default 30)")
    p.add_argument("--days", help="snapshot days, comma-separated (default 2,10,30 where the run reaches)")
    p.add_argument("--bins", metavar="LO,HI,N",
                   help="PDF bins: N bins of log10 f from LO to HI (default: automatic range, one pass "
                        "less over the file when given)")
    p.add_argument("--n-bins", type=int, default=80, help="number of bins of the automatic range (default 80)")
    p.add_argument("--ratio-alpha-deg", default="30,45,60,70",
                   help="pitch angles of the ratios between experiments [deg] (default 30,45,60,70)")
    p.add_argument("--bootstrap", type=int, default=1000,
                   help="bootstrap resamples of the median at each output time (default 1000; 0: none)")
    p.add_argument("--subsets", type=int, default=200,
                   help="random subsets per ensemble size for the convergence plot (default 200; 0: none)")
    p.add_argument("--ensemble-sizes", help="ensemble sizes for the convergence plot (default: ~12 "
                   "log-spaced from 1 to the number of finished members)")
    p.add_argument("--confidence", type=float, default=0.90, help="level of the intervals (default 0.90)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and subset draws (default 0)")
    p.add_argument("--memory-mb", type=float, default=256.0,
                   help="memory budget per rank for member data [MiB] (default 256; see the summary's "
                        "memory_bound attribute)")
    p.add_argument("--fig3-experiment", help="random experiment shown in Fig 3 (default: the one with the "
                   "longest switching interval)")
    p.add_argument("--fig3-member", type=int, help="member shown in Fig 3 (default: first finished)")
    p.add_argument("--fig3-days", type=float, default=5.0, help="time span of Fig 3 [day] (default 5)")
    p.add_argument("--floor", type=float, default=100.0, help="floor on f in Fig 3 (default 100, as the paper)")
    p.add_argument("--hours", help="drift-diffusion runs: hours of the (L, MLT) maps, comma-separated "
                   "(default 3,10 where the run reaches)")
    p.add_argument("--no-checksum", action="store_true",
                   help="do not compute the run file's sha256 (size and mtime are still recorded)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output that is not a summary")
    p.add_argument("--quiet", action="store_true", help="no summary line on stderr")
    p.set_defaults(func=cmd_aggregate)


def options_from_args(args):
    from .pitch_angle import Options

    days = _floats(args.days, "--days") if args.days else None
    bins = None
    if args.bins:
        lo, hi, n = _floats(args.bins, "--bins", 3)
        if n != int(n):
            raise InputError(f"--bins {args.bins!r}: N must be an integer")
        bins = (lo, hi, int(n))
    sizes = None
    if args.ensemble_sizes:
        sizes = tuple(int(v) for v in _floats(args.ensemble_sizes, "--ensemble-sizes"))
    if args.memory_mb <= 0:
        raise InputError(f"--memory-mb {args.memory_mb:g}: expected a positive size")
    if args.floor <= 0 or args.fig3_days <= 0:
        raise InputError("--floor and --fig3-days: expected positive values")
    return Options(alpha_deg=args.alpha_deg, days=days, bins=bins, n_bins=args.n_bins,
                   ratio_alphas_deg=_floats(args.ratio_alpha_deg, "--ratio-alpha-deg"),
                   n_boot=args.bootstrap, n_sub=args.subsets, confidence=args.confidence,
                   ensemble_sizes=sizes, seed=args.seed, memory_bytes=int(args.memory_mb * 2**20),
                   fig3_experiment=args.fig3_experiment, fig3_member=args.fig3_member,
                   fig3_days=args.fig3_days, floor_f=args.floor, checksum=not args.no_checksum)


def drift_options_from_args(args):
    from .drift import DriftOptions

    hours = _floats(args.hours, "--hours") if args.hours else None
    return DriftOptions(hours=hours, memory_bytes=int(args.memory_mb * 2**20), checksum=not args.no_checksum)


def cmd_aggregate(args) -> int:
    from ..parallel import abort_on_exception, root_decides, world
    from .driver import aggregate_file

    comm = world()
    abort_on_exception(comm)
    opts, dopts = root_decides(comm, lambda: (options_from_args(args), drift_options_from_args(args)))
    aggregate_file(args.run, output=args.output, figures_dir=args.figures, report=args.report, opts=opts,
                   comm=comm, quiet=args.quiet, overwrite=args.overwrite, drift_opts=dopts)
    return 0
