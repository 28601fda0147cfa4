"""The ``hpcbelt aggregate`` sub-command: common options, then one option group per study kind.

Registered by :mod:`hpcbelt.cli` at start-up, so it imports nothing heavy: each study kind's
aggregator adds its own group of options (``add_options``) and builds its own options object
from the parsed arguments (``options``).
"""

from __future__ import annotations

from ..errors import InputError

HELP = ("summarise a run file (any study kind: pitch-angle, drift-diffusion, ...): ensemble statistics, "
        "PDFs, figures and a Markdown report")


def floats(text: str, flag: str, n: int | None = None) -> tuple:
    """Comma-separated numbers of an option; InputError naming the option otherwise."""
    try:
        vals = tuple(float(x) for x in text.split(",") if x.strip() != "")
    except ValueError:
        raise InputError(f"{flag} {text!r}: expected comma-separated numbers") from None
    if not vals or (n is not None and len(vals) != n):
        want = f"{n} comma-separated numbers" if n else "at least one number"
        raise InputError(f"{flag} {text!r}: expected {want}")
    return vals


def add_skip_damaged(parser) -> None:
    """``--skip-damaged``, common to the commands that aggregate members of run files."""
    parser.add_argument("--skip-damaged", action="store_true",
                        help="leave out finished items that fail their checksum or hold non-finite or "
                             "negative values, as if unfinished (one warning each; listed in the summary and "
                             "the report) instead of refusing the run file; a damaged drift PDE, or an "
                             "experiment left without any sound member, is still refused")


def register(subparsers) -> None:
    p = subparsers.add_parser("aggregate", help=HELP, description=HELP + ". Runs under python, mpirun or srun; "
                              "with N ranks the work is divided over the ranks (same result).")
    add_arguments(p)
    p.set_defaults(func=cmd_aggregate)


def add_arguments(p) -> None:
    """The arguments of ``hpcbelt aggregate`` (the common ones, then each kind's group), on the
    command's sub-parser or on :func:`hpcbelt.api.aggregate`'s own parser."""
    from .. import studies

    p.add_argument("run", help="run file written by 'hpcbelt run'")
    p.add_argument("-o", "--output", help="summary HDF5 file (default: RUN_summary.h5 next to the run); "
                   "an earlier summary is replaced, any other existing file needs --overwrite")
    p.add_argument("--figures", metavar="DIR", help="write PNG figures into DIR (created if missing)")
    p.add_argument("--report", metavar="FILE.md", help="Markdown report (default: the summary name with .md)")
    p.add_argument("--memory-mb", type=float, default=256.0,
                   help="memory budget per rank for member data [MiB] (default 256; see the summary's "
                        "memory_bound attribute)")
    p.add_argument("--no-checksum", action="store_true",
                   help="do not compute the run file's sha256 (size and mtime are still recorded)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output that is not a summary")
    add_skip_damaged(p)
    p.add_argument("--quiet", action="store_true", help="no summary line on stderr")
    for agg in studies.aggregators():
        agg.get("add_options")(p.add_argument_group(agg.title))


def cmd_aggregate(args) -> int:
    from ..parallel import abort_on_exception, world

    comm = world()
    abort_on_exception(comm)
    aggregate_args(args, comm)
    return 0


def aggregate_args(args, comm):
    """Aggregate as parsed ``hpcbelt aggregate`` arguments say, on ``comm`` (all ranks); returns
    the :class:`~hpcbelt.aggregate.driver.Outputs` written.  The one code path of the command
    and of :func:`hpcbelt.api.aggregate`."""
    from .. import studies
    from ..parallel import root_decides
    from .driver import aggregate_file

    def parse():
        if args.memory_mb <= 0:
            raise InputError(f"--memory-mb {args.memory_mb:g}: expected a positive size")
        return [agg.get("options")(args) for agg in studies.aggregators()]

    options = root_decides(comm, parse)
    return aggregate_file(args.run, output=args.output, figures_dir=args.figures, report=args.report, comm=comm,
                          quiet=args.quiet, overwrite=args.overwrite, options=options,
                          skip_damaged=args.skip_damaged)
