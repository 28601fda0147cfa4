"""The ``hpcbelt`` command: run studies, aggregate runs, build diffusion-coefficient databases.

Works the same under ``python``, ``mpirun -n N`` and ``srun``.  Exit codes:
  0   success
  2   bad input (InputError): one line ``hpcbelt: error: ...`` on rank 0, same code on every rank
  75  stopped by SIGTERM / SIGUSR1 / SIGINT with the output consistent: rerun with --restart
Any other exception aborts all ranks (MPI_Abort) so that an MPI job never hangs.
"""

from __future__ import annotations

import os

# One BLAS/OpenMP thread per MPI rank: parallelism comes from ranks, and a fixed thread count
# keeps floating-point results independent of how many ranks share a node.  Set before numpy.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from . import __version__  # noqa: E402
from .errors import InputError, RunInterrupted  # noqa: E402

STUDY_KINDS = {
    "pitch_angle": "hpcbelt.pitch_angle",
    "drift_diffusion": "hpcbelt.drift",
}


def _study_kind(path: Path) -> str:
    from .config import read_toml

    doc, _ = read_toml(path)
    kind = doc.get("kind")
    if kind not in STUDY_KINDS:
        raise InputError(f"{path}: kind: expected one of {', '.join(repr(k) for k in STUDY_KINDS)}, "
                         f"got {kind!r}")
    return kind


def cmd_run(args) -> int:
    from .parallel import StopRequests

    # catch stop signals before anything slow (imports, MPI start-up, propagators)
    with StopRequests():
        return _run(args)


def _run(args) -> int:
    import importlib

    from . import output
    from .parallel import abort_on_exception, root_decides, world

    comm = world()
    abort_on_exception(comm)
    study_path = Path(args.study)
    out = Path(args.output) if args.output else Path(study_path.stem + ".h5")

    def prepare():
        kind = _study_kind(study_path)
        module = importlib.import_module(STUDY_KINDS[kind] + ".study")
        if args.experiments:
            if kind != "pitch_angle":
                raise InputError(f"--experiments: only pitch_angle studies have experiments ({study_path} "
                                 f"is {kind})")
            only = [n.strip() for n in args.experiments.split(",") if n.strip()]
            study = module.load_study(study_path, args.set, only)
        else:
            study = module.load_study(study_path, args.set)
        done = None
        if args.restart and out.exists():
            driver = importlib.import_module(STUDY_KINDS[kind] + ".driver")
            done = driver.restart_state(study, out)
        output.check_output_path(out, args.overwrite or done is not None)
        return kind, study, done

    kind, study, done = root_decides(comm, prepare)
    driver = importlib.import_module(STUDY_KINDS[kind] + ".driver")
    if done is not None and all(d.all() for d in done.values()):
        if comm.Get_rank() == 0:
            print(f"hpcbelt: {out} is already complete; nothing to do", file=sys.stderr)
        return 0
    driver.run(study, comm, out, quiet=args.quiet, done=done)
    if comm.Get_rank() == 0 and not args.quiet:
        print(f"hpcbelt: wrote {out}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hpcbelt", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"hpcbelt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run a study file under python, mpirun or srun")
    p.add_argument("study", help="study file (TOML)")
    p.add_argument("-o", "--output", help="output HDF5 file (default: <study name>.h5 here)")
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

    p = sub.add_parser("keys", help="list every key of a study kind with type, default and unit")
    p.add_argument("kind", choices=sorted(STUDY_KINDS))
    p.set_defaults(func=cmd_keys)

    # the other commands live with their subpackages; each adds its own sub-parser
    from .aggregate import cli as aggregate_cli, sweep
    from .dxx import cli as dxx_cli
    from .slurm import cli as slurm_cli

    for mod in (aggregate_cli, sweep, dxx_cli, slurm_cli):
        mod.register(sub)
    return parser


def cmd_keys(args) -> int:
    import importlib

    from .config import describe

    schema = importlib.import_module(STUDY_KINDS[args.kind] + ".study").SCHEMA
    print("\n".join(describe(schema)))
    return 0


def _rank() -> int:
    if "mpi4py" in sys.modules:
        from mpi4py import MPI

        return MPI.COMM_WORLD.Get_rank()
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        if _rank() == 0:
            print(f"hpcbelt: error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except RunInterrupted as exc:
        if _rank() == 0:
            print(f"hpcbelt: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
