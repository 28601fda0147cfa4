"""``hpcbelt verify RUN.h5`` and ``hpcbelt status RUN.h5``: what a script can ask a run file.

``verify``  reads every finished work item back and checks it against the checksum stored when
            it was written, that its values are finite (and non-negative where the physics says
            so), that the done flags are 0 or 1 and the layout is one the readers know.  One line
            on stdout per problem, then a last line with the verdict.
            Exit 0: clean; 1: damaged (at least one problem); 2: not a run file.
``status``  one line on stdout: the run's status and how many work items are finished.  The lock
            ``.RUN.h5.lock`` beside the file is read first (:func:`hpcbelt.guard.inspect_lock`).
            Exit 0: complete; 3: running -- a live process on this host holds the lock, or a
            process on another host does (whether it is alive cannot be told from here); 75:
            interrupted, unfinished or stopped by a crash or ``kill -9`` (a stale lock is named:
            ``hpcbelt run --restart`` removes it and continues the run); 2: not a run file.

Both are serial: they are meant for job scripts after the launcher has returned, where the
launcher's own exit code says little (``mpirun`` exits 1 when it is itself sent SIGTERM or
SIGINT, even though every rank checkpointed and exited 75).  Started under ``mpirun``/``srun``
(the launcher's environment says so before MPI starts), rank 0 alone reads and prints and
every rank exits with its code; otherwise mpi4py is not even imported.  The per-kind
verification is the ``verify(path) -> hpcbelt.integrity.Report`` function of the kind's
run-file module.
"""

from __future__ import annotations

import os
import sys

from .errors import InputError, RunInterrupted

EXIT_CLEAN = 0
EXIT_DAMAGED = 1
EXIT_COMPLETE = 0
EXIT_RESUMABLE = RunInterrupted.exit_code     # 75
EXIT_NOT_A_RUN = InputError.exit_code         # 2
EXIT_RUNNING = 3                              # status: the run's lock is held (live, or on another host)


def register(subparsers) -> None:
    p = subparsers.add_parser("verify", help="check a run file: checksums and values of every finished item",
                              description="Check every finished work item of a run file against the checksum "
                                          "stored when it was written, its values (finite; f >= 0), its done "
                                          "flags and its layout.  Exit 0 clean, 1 damaged, 2 not a run file.")
    p.add_argument("run", help="run file written by 'hpcbelt run'")
    p.set_defaults(func=cmd_verify)
    p = subparsers.add_parser("status", help="say whether a run file is complete (exit 0), still running (3) or "
                                             "resumable (75)",
                              description="One line: the run's status and finished work items.  Exit 0 "
                                          "complete, 3 running (its lock .RUN.lock is held by a live process, "
                                          "or by one on another host), 75 interrupted or unfinished (resume "
                                          "with 'hpcbelt run --restart'; a stale lock of a killed run is named "
                                          "and removed by the restart), 2 not a run file.")
    p.add_argument("run", help="run file written by 'hpcbelt run'")
    p.set_defaults(func=cmd_status)


def run_kind(path) -> str:
    """The registered study kind of the run file ``path``; InputError (exit 2) for anything else."""
    from . import output, studies

    kind = output.file_kind(path)
    if kind is None:
        raise InputError(f"{path}: HDF5 file without a 'kind' attribute: not an hpcbelt run file")
    if kind not in studies.names():
        raise InputError(f"{path}: kind = {kind!r}: not a run file of a known study kind "
                         f"(expected one of {', '.join(repr(k) for k in studies.names())})")
    return kind


def verifier(kind_name: str):
    """The ``verify`` function of a study kind (its :class:`hpcbelt.studies.StudyKind` field)."""
    from . import studies

    kind = studies.get(kind_name)
    if kind.verify is None:
        raise InputError(f"study kind {kind_name!r}: its run files cannot be verified (no verify function)")
    return kind.get("verify")


def verify_file(path):
    """An :class:`hpcbelt.integrity.Report` for ``path``.  InputError when it is not a run file;
    a run file whose layout is damaged is a report with that one problem."""
    from . import integrity

    kind = run_kind(path)
    try:
        return verifier(kind)(path)
    except InputError as exc:
        rep = integrity.Report(str(path), kind, -1)
        rep.problems.append(str(exc))
        return rep


def verify_outcome(path) -> tuple[int, list[str]]:
    """(exit code, lines) of ``hpcbelt verify``; InputError when ``path`` is not a run file."""
    rep = verify_file(path)
    lines = list(rep.notes) + list(rep.problems)
    if rep.clean:
        return EXIT_CLEAN, lines + [f"{path}: ok: {rep.checked} finished item(s) match their checksums and values"]
    return EXIT_DAMAGED, lines + [f"{path}: damaged: {len(rep.problems)} problem(s)"]


def cmd_verify(args) -> int:
    return _report(lambda: verify_outcome(args.run))


def done_counts(h5) -> dict:
    """``{flag dataset: (finished, total)}`` for every done flag of a run file: the uint8
    datasets whose name ends in ``done`` (``<experiment>/member_done``, ``particles/perm_done``,
    ``pde/done``, ...), the one convention every study kind's layout follows."""
    import h5py
    import numpy as np

    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and name.rsplit("/", 1)[-1].endswith("done") and obj.dtype == np.uint8:
            flags = np.atleast_1d(obj[()])
            out[name] = (int(np.count_nonzero(flags == 1)), int(flags.size))

    h5.visititems(visit)
    return out


def _holder(info: dict) -> str:
    """'host H, PID P, started T' and the job the lock's holder belongs to (Slurm or MPI)."""
    from .guard import holder_text

    text = holder_text(info)
    job = info.get("launcher") or {}
    if "SLURM_JOB_ID" not in job:
        if "PMIX_NAMESPACE" in job:
            text += f", MPI job {job['PMIX_NAMESPACE']}"
        elif "OMPI_COMM_WORLD_SIZE" in job or "PMI_SIZE" in job:
            text += f", MPI job of {job.get('OMPI_COMM_WORLD_SIZE', job.get('PMI_SIZE'))} ranks"
    elif "SLURM_ARRAY_TASK_ID" in job:
        text += f" (array task {job['SLURM_ARRAY_TASK_ID']})"
    return text


def lock_status(path) -> tuple[int, str] | None:
    """(EXIT_RUNNING, one line) when the lock of run file ``path`` says a run may still be
    writing it; None when there is no lock or a stale one."""
    from . import guard

    state, lock, info = guard.inspect_lock(path)
    if state == guard.LOCK_LIVE:
        return EXIT_RUNNING, (f"{path}: running: the lock {lock} is held by a live process ({_holder(info)}); "
                              "wait for it to end")
    if state == guard.LOCK_OTHER_HOST:
        return EXIT_RUNNING, (f"{path}: lock {lock} held by host {info.get('host', '?')}, pid {info.get('pid', '?')}: "
                              f"cannot tell from here whether it is alive ({_holder(info)}); ask on that host, "
                              f"or if that run is certainly gone remove {lock}")
    if state == guard.LOCK_UNREADABLE:
        return EXIT_RUNNING, (f"{path}: the lock {lock} records no holder: cannot tell whether a run is writing "
                              f"{path}; if none is, remove {lock}")
    return None


def status_of(path) -> tuple[int, str]:
    """(exit code, one line) for ``hpcbelt status``; InputError when it is not a run file.

    The lock beside the file is read first: a run that holds it is running (exit 3) and its
    file, still being written, is not opened.
    """
    from . import guard, output

    running = lock_status(path)
    if running is not None:
        return running
    try:
        run_kind(path)
        with output.open_h5(path) as h5:
            try:
                status = str(output.attr_str(h5, "status", "unknown"))
                counts = done_counts(h5)
            except (OSError, RuntimeError, ValueError, KeyError) as exc:
                raise InputError(f"{path}: cannot read the run's status (corrupted?): {exc}") from None
    except InputError:
        # a run that took the lock meanwhile may hold the file open: it is running, not broken
        running = lock_status(path)
        if running is not None:
            return running
        raise
    finished = sum(c[0] for c in counts.values())
    total = sum(c[1] for c in counts.values())
    detail = ", ".join(f"{k} {a}/{b}" for k, a, b in ((k, *v) for k, v in counts.items()))
    items = f"{finished}/{total} work items finished" + (f" ({detail})" if detail else "")
    state, lock, info = guard.inspect_lock(path)
    stale = ""
    if state == guard.LOCK_STALE:
        stale = f"the lock {lock} is stale (its run, {_holder(info)}, is gone)"
    if status == "complete" and finished == total:
        return EXIT_COMPLETE, f"{path}: complete: {items}" + (f"; {stale}: the next run removes it" if stale else "")
    if status == "complete":
        status = "complete but with unfinished items"
    line = f"{path}: {status}: {items}; resume with 'hpcbelt run --restart'"
    return EXIT_RESUMABLE, line + (f"; {stale} and will be recovered by --restart" if stale else "")


def cmd_status(args) -> int:
    def outcome():
        code, line = status_of(args.run)
        return code, [line]

    return _report(outcome)


# ------------------------------------------------------------------------------------------
# Once under a launcher: rank 0 reads and prints, every rank exits with its code
# ------------------------------------------------------------------------------------------

# The number of processes the launcher started, from the environment it gives them before MPI
# starts: Open MPI (mpirun, also under PMIx), MPICH/Hydra and Slurm's srun.  A Slurm batch shell
# has SLURM_NTASKS but no SLURM_STEP_NUM_TASKS unless srun started it.
_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS")


def launcher_size() -> int:
    """How many processes the launcher started with this one (1 outside a launcher)."""
    for var in _SIZE_VARIABLES:
        v = os.environ.get(var, "").strip()
        if v.isdigit() and int(v) > 0:
            return int(v)
    return 1


def _report(outcome) -> int:
    """Compute ``outcome() -> (code, lines)`` once and print its lines once.

    Alone (no launcher, or a launcher of one process), mpi4py is not imported.  Under ``mpirun
    -n N`` / ``srun``, rank 0 computes and broadcasts the result, or its InputError (printed by
    the command line on rank 0 only, exit 2 everywhere): every rank exits with the same code.
    """
    comm = None
    if launcher_size() > 1:
        from .parallel import abort_on_exception, root_decides, world

        comm = world()
        if comm.Get_size() > 1:
            abort_on_exception(comm)          # an unexpected error on rank 0 ends every rank
            code, lines = root_decides(comm, outcome)
        else:
            comm = None
    if comm is None:
        code, lines = outcome()
    if comm is None or comm.Get_rank() == 0:
        for line in lines:
            print(line)
        sys.stdout.flush()
    return code
