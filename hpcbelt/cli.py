"""The ``hpcbelt`` command: run studies, aggregate runs, build diffusion-coefficient databases.

Works the same under ``python``, ``mpirun -n N`` and ``srun``.  Exit codes::

  0   success
  2   bad input (InputError): one line ``hpcbelt: error: ...`` on rank 0, same code on every rank
  1   hpcbelt verify: the run file is damaged (one line per problem); any command on one rank:
      its output went to a pipe whose reader has gone (no traceback)
  3   hpcbelt status: the run is still running (its lock is held by a live process, or by one
      on another host, which cannot be checked from here)
  74  an I/O error writing an output (full disk, failing file system): one line on every rank;
      finished members are kept, resume with --restart
  75  stopped by SIGTERM / SIGUSR1 / SIGINT with the output consistent: rerun with --restart
      (hpcbelt status: the run is unfinished)

Any other exception aborts all ranks (MPI_Abort) so that an MPI job never hangs.
"""

from __future__ import annotations

import os

# one BLAS/OpenMP thread per rank and Open MPI's ROMIO MPI-IO, before numpy and mpi4py load
# (hpcbelt/runtime.py says why; hpcbelt.api applies the same settings)
from . import runtime  # noqa: F401

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from . import __version__  # noqa: E402
from .errors import InputError, RunInterrupted  # noqa: E402


def cmd_run(args) -> int:
    import signal

    from .parallel import StopRequests

    # catch stop signals before anything slow (imports, MPI start-up, propagators)
    try:
        with StopRequests():
            return _run(args)
    finally:
        # the outcome is decided and in the file: a stop signal from here until the process
        # exits (MPI_Finalize can take a while) must not turn it into a death by signal
        for name in StopRequests.SIGNALS:
            signal.signal(getattr(signal, name), signal.SIG_IGN)


def _run(args) -> int:
    from . import api
    from .parallel import abort_on_exception, root_decides, world

    comm = world()
    abort_on_exception(comm)
    study_path = Path(args.study)
    out = Path(args.output) if args.output else Path(study_path.stem + ".h5")
    # rank 0 reads the study file once; the checks, the lock and the run: hpcbelt.api
    study = root_decides(comm, lambda: api.load_study(study_path, overrides=args.set,
                                                      experiments=args.experiments))
    api.execute(study, out, comm, overwrite=args.overwrite, restart=args.restart, quiet=args.quiet,
                say_complete=True)
    return 0


def _launcher_rank() -> int:
    """This process's rank as the MPI launcher set it (0 outside a launcher): known before MPI
    starts, so a usage error can be printed by rank 0 alone."""
    for var in ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"):
        v = os.environ.get(var, "").strip()
        if v.isdigit():
            return int(v)
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors printed once under mpirun/srun (exit 2 on every rank)."""

    def error(self, message):
        if _launcher_rank() == 0:
            self.print_usage(sys.stderr)
            sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hpcbelt", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"hpcbelt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run a study file under python, mpirun or srun")
    p.add_argument("study", help="study file (TOML)")
    p.add_argument("-o", "--output", help="output HDF5 file (default: <study name>.h5 here); never one of "
                                          "the study's inputs; locked (.OUT.lock beside it) while a run writes it")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--restart", action="store_true",
                   help="continue the run in OUT.h5 (same study): keep finished members, compute "
                        "the rest; starts a new run if OUT.h5 does not exist")
    p.add_argument("--experiments", metavar="NAME[,NAME...]",
                   help="run only these experiments of the study (e.g. one per job-array task)")
    p.add_argument("--set", action="append", metavar="TABLE.KEY=VALUE",
                   help="override a study key (TOML value), e.g. --set time.method='\"explicit\"' "
                        "or --set time.method=explicit; repeatable; stored in the output")
    p.set_defaults(func=cmd_run)

    from . import studies

    p = sub.add_parser("keys", help="list every key of a study kind with type, default and unit")
    p.add_argument("kind", choices=studies.names())
    p.set_defaults(func=cmd_keys)

    # the other commands live with their subpackages; each adds its own sub-parser
    from .aggregate import cli as aggregate_cli
    from .aggregate.lejosne2023 import energies as drift_energies
    from .aggregate.watt2021 import sweep
    from .dxx import cli as dxx_cli
    from .examples import cli as examples_cli
    from . import runcheck
    from .slurm import cli as slurm_cli

    for mod in (aggregate_cli, sweep, drift_energies, dxx_cli, slurm_cli, runcheck, examples_cli):
        mod.register(sub)
    return parser


def cmd_keys(args) -> int:
    from . import studies
    from .config import describe

    print("\n".join(describe(studies.get(args.kind).get("schema"))))
    return 0


def _world() -> tuple[int, int]:
    """(rank, size) in COMM_WORLD if the command started MPI, else (0, 1)."""
    if "mpi4py" in sys.modules:
        from mpi4py import MPI

        return MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
    return 0, 1


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        if _world()[0] == 0:
            print(f"hpcbelt: error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except RunInterrupted as exc:
        if _world()[0] == 0:
            print(f"hpcbelt: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except BrokenPipeError:
        # the reader stopped early (``hpcbelt keys drift_diffusion | head``): no traceback, and
        # nothing more is written to the closed pipe when Python flushes stdout at exit.  Under
        # several MPI ranks the other ranks may be in a collective: let the abort hook end them all
        if _world()[1] > 1:
            raise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
