"""The options of a drift-diffusion aggregation: the ``hpcbelt aggregate`` flag of this study
kind (``--hours``) and the :class:`Options` object built from it and the common flags.

Every field of :class:`Options` is stored in the summary (root attribute ``options_json``), so
fields are a contract like dataset names: add freely, rename none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import InputError

DEFAULT_HOURS = (3.0, 10.0)


@dataclass
class Options:
    """What to aggregate and how; every field is stored in the summary (options_json)."""

    hours: tuple | None = None              # map hours (None: 3 and 10 h where the run reaches)
    memory_bytes: int = 256 * 2**20         # per-rank budget for blocks [bytes]
    checksum: bool = True                   # sha256 of the run file in the summary
    # a study over energies: the energy aggregated (stored only when given: files.OMIT_IF_NONE)
    energy_keV: float | None = field(default=None, metadata={"omit_if_none": True})


DriftOptions = Options      # the name before the aggregation was split by study kind


def add_options(group) -> None:
    """The drift-diffusion flags of ``hpcbelt aggregate`` (an argparse argument group)."""
    group.add_argument("--hours", help="drift-diffusion runs: hours of the (L, MLT) maps, comma-separated "
                       "(default 3,10 where the run reaches)")
    group.add_argument("--energy-keV", type=float, dest="energy_keV",
                       help="drift-diffusion study over energies: the energy [keV] to aggregate (required for one; "
                            "'hpcbelt aggregate-energies' compares them all)")


def options(args=None) -> Options:
    """:class:`Options` from parsed ``hpcbelt aggregate`` arguments (None: the defaults).

    Uses ``--hours`` and the common ``--memory-mb`` and ``--no-checksum``; a malformed value is
    an InputError naming its flag.
    """
    if args is None:
        return Options()
    from ..cli import floats

    hours = floats(args.hours, "--hours") if args.hours else None
    if hours is not None and not all(h == h and abs(h) != float("inf") for h in hours):
        raise InputError(f"--hours {args.hours!r}: expected finite numbers")
    energy = getattr(args, "energy_keV", None)
    if energy is not None and not (energy > 0 and energy != float("inf")):
        raise InputError(f"--energy-keV {energy!r}: expected a finite energy > 0 keV")
    return Options(hours=hours, memory_bytes=int(args.memory_mb * 2**20), checksum=not args.no_checksum,
                   energy_keV=energy)


def select(path, opts: Options):
    """The run of ``path`` these options aggregate: the file's, or one energy's of a study over energies."""
    from ...drift import runfile

    return runfile.inspect(path, energy_keV=opts.energy_keV)
