"""The options of a pitch-angle aggregation: the ``hpcbelt aggregate`` flags of this study kind
and the :class:`Options` object built from them.

Every field of :class:`Options` is stored in the summary (root attribute ``options_json``), so
fields are a contract like dataset names: add freely, rename none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...errors import InputError

DEFAULT_DAYS = (2.0, 10.0, 30.0)
DEFAULT_RATIO_ALPHAS = (30.0, 45.0, 60.0, 70.0)


@dataclass
class Options:
    """What to aggregate and how; every field is stored in the summary (options_json)."""

    alpha_deg: float = 30.0                 # pitch angle of the PDFs, bootstrap and convergence [deg]
    days: tuple | None = None               # snapshot days (None: 2, 10, 30 where the run reaches)
    bins: tuple | None = None               # (lo, hi, n) in log10 f; None: automatic range
    n_bins: int = 80                        # number of bins of the automatic range
    ratio_alphas_deg: tuple = DEFAULT_RATIO_ALPHAS
    n_boot: int = 1000                      # bootstrap resamples of the median (0: none)
    n_sub: int = 200                        # random subsets per ensemble size (0: none)
    confidence: float = 0.90                # two-sided level of the intervals
    ensemble_sizes: tuple | None = None     # None: about 12 log-spaced sizes from 1 to n
    seed: int = 0                           # seed of the bootstrap and subset streams
    memory_bytes: int = 256 * 2**20         # per-rank budget for member slabs [bytes]
    fig3_experiment: str | None = None      # random experiment shown in Fig 3 (None: longest dt)
    fig3_member: int | None = None          # its member (None: first finished)
    fig3_days: float = 5.0                  # time span of Fig 3 [day]
    floor_f: float = 100.0                  # floor applied to f in Fig 3 (as in the paper)
    checksum: bool = True                   # sha256 of the run file in the summary


def add_options(group) -> None:
    """The pitch-angle flags of ``hpcbelt aggregate`` (an argparse argument group)."""
    group.add_argument("--alpha-deg", type=float, default=30.0,
                       help="pitch angle of the PDFs, Fig 4, bootstrap and convergence [deg] (default 30)")
    group.add_argument("--days", help="snapshot days, comma-separated (default 2,10,30 where the run reaches)")
    group.add_argument("--bins", metavar="LO,HI,N",
                       help="PDF bins: N bins of log10 f from LO to HI (default: automatic range, one pass "
                            "less over the file when given)")
    group.add_argument("--n-bins", type=int, default=80,
                       help="number of bins of the automatic range (default 80)")
    group.add_argument("--ratio-alpha-deg", default="30,45,60,70",
                       help="pitch angles of the ratios between experiments [deg] (default 30,45,60,70)")
    group.add_argument("--bootstrap", type=int, default=1000,
                       help="bootstrap resamples of the median at each output time (default 1000; 0: none)")
    group.add_argument("--subsets", type=int, default=200,
                       help="random subsets per ensemble size for the convergence plot (default 200; 0: none)")
    group.add_argument("--ensemble-sizes", help="ensemble sizes for the convergence plot (default: ~12 "
                       "log-spaced from 1 to the number of finished members)")
    group.add_argument("--confidence", type=float, default=0.90, help="level of the intervals (default 0.90)")
    group.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and subset draws (default 0)")
    group.add_argument("--fig3-experiment", help="random experiment shown in Fig 3 (default: the one with the "
                       "longest switching interval)")
    group.add_argument("--fig3-member", type=int, help="member shown in Fig 3 (default: first finished)")
    group.add_argument("--fig3-days", type=float, default=5.0, help="time span of Fig 3 [day] (default 5)")
    group.add_argument("--floor", type=float, default=100.0,
                       help="floor on f in Fig 3 (default 100, as the paper)")


def options(args=None) -> Options:
    """:class:`Options` from parsed ``hpcbelt aggregate`` arguments (None: the defaults).

    Uses this kind's flags (:func:`add_options`) and the common ``--memory-mb`` and
    ``--no-checksum``; a malformed value is an InputError naming its flag.
    """
    if args is None:
        return Options()
    from ..cli import floats

    for flag, v in (("--alpha-deg", args.alpha_deg), ("--confidence", args.confidence),
                    ("--fig3-days", args.fig3_days), ("--floor", args.floor), ("--memory-mb", args.memory_mb)):
        if not math.isfinite(v):
            raise InputError(f"{flag} {v:g}: expected a finite number")
    for flag, text in (("--days", args.days), ("--bins", args.bins), ("--ratio-alpha-deg", args.ratio_alpha_deg),
                       ("--ensemble-sizes", args.ensemble_sizes)):
        if text and not all(math.isfinite(v) for v in floats(text, flag)):
            raise InputError(f"{flag} {text!r}: expected finite numbers")
    days = floats(args.days, "--days") if args.days else None
    bins = None
    if args.bins:
        lo, hi, n = floats(args.bins, "--bins", 3)
        if n != int(n):
            raise InputError(f"--bins {args.bins!r}: N must be an integer")
        bins = (lo, hi, int(n))
    sizes = None
    if args.ensemble_sizes:
        given = floats(args.ensemble_sizes, "--ensemble-sizes")
        if any(v != int(v) or v < 1 for v in given):
            raise InputError(f"--ensemble-sizes {args.ensemble_sizes!r}: expected whole numbers >= 1")
        sizes = tuple(int(v) for v in given)
    if args.memory_mb <= 0:
        raise InputError(f"--memory-mb {args.memory_mb:g}: expected a positive size")
    if args.floor <= 0 or args.fig3_days <= 0:
        raise InputError("--floor and --fig3-days: expected positive values")
    return Options(alpha_deg=args.alpha_deg, days=days, bins=bins, n_bins=args.n_bins,
                   ratio_alphas_deg=floats(args.ratio_alpha_deg, "--ratio-alpha-deg"),
                   n_boot=args.bootstrap, n_sub=args.subsets, confidence=args.confidence,
                   ensemble_sizes=sizes, seed=args.seed, memory_bytes=int(args.memory_mb * 2**20),
                   fig3_experiment=args.fig3_experiment, fig3_member=args.fig3_member,
                   fig3_days=args.fig3_days, floor_f=args.floor, checksum=not args.no_checksum)
