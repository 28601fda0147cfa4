"""``hpcbelt verify RUN.h5`` and ``hpcbelt status RUN.h5``: what a script can ask a run file.

``verify``  reads every finished work item back and checks it against the checksum stored when
            it was written, that its values are finite (and non-negative where the physics says
            so), that the done flags are 0 or 1 and the layout is one the readers know.  One line
            on stdout per problem, then a last line with the verdict.
            Exit 0: clean; 1: damaged (at least one problem); 2: not a run file.
``status``  one line on stdout: the run's status and how many work items are finished.
            Exit 0: complete; 75: interrupted, or still running, or stopped by a crash --
            ``hpcbelt run --restart`` continues it; 2: not a run file.

Both are serial (no MPI): they are meant for job scripts after the launcher has returned, where
the launcher's own exit code says little (``mpirun`` exits 1 when it is itself sent SIGTERM or
SIGINT, even though every rank checkpointed and exited 75).  The per-kind verification is the
``verify(path) -> hpcbelt.integrity.Report`` function of the kind's run-file module.
"""

from __future__ import annotations

import sys

from .errors import InputError, RunInterrupted

EXIT_CLEAN = 0
EXIT_DAMAGED = 1
EXIT_COMPLETE = 0
EXIT_RESUMABLE = RunInterrupted.exit_code     # 75
EXIT_NOT_A_RUN = InputError.exit_code         # 2


def register(subparsers) -> None:
    p = subparsers.add_parser("verify", help="check a run file: checksums and values of every finished item",
                              description="Check every finished work item of a run file against the checksum "
                                          "stored when it was written, its values (finite; f >= 0), its done "
                                          "flags and its layout.  Exit 0 clean, 1 damaged, 2 not a run file.")
    p.add_argument("run", help="run file written by 'hpcbelt run'")
    p.set_defaults(func=cmd_verify)
    p = subparsers.add_parser("status", help="say whether a run file is complete (exit 0) or resumable (exit 75)",
                              description="One line: the run's status and finished work items.  Exit 0 "
                                          "complete, 75 interrupted or unfinished (resume with 'hpcbelt run "
                                          "--restart'), 2 not a run file.")
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


def cmd_verify(args) -> int:
    rep = verify_file(args.run)
    for line in rep.notes + rep.problems:
        print(line)
    if rep.clean:
        print(f"{args.run}: ok: {rep.checked} finished item(s) match their checksums and values")
        return EXIT_CLEAN
    print(f"{args.run}: damaged: {len(rep.problems)} problem(s)")
    return EXIT_DAMAGED


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


def status_of(path) -> tuple[int, str]:
    """(exit code, one line) for ``hpcbelt status``; InputError when it is not a run file."""
    from . import output

    run_kind(path)
    with output.open_h5(path) as h5:
        try:
            status = str(output.attr_str(h5, "status", "unknown"))
            counts = done_counts(h5)
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            raise InputError(f"{path}: cannot read the run's status (corrupted?): {exc}") from None
    finished = sum(c[0] for c in counts.values())
    total = sum(c[1] for c in counts.values())
    detail = ", ".join(f"{k} {a}/{b}" for k, a, b in ((k, *v) for k, v in counts.items()))
    items = f"{finished}/{total} work items finished" + (f" ({detail})" if detail else "")
    if status == "complete" and finished == total:
        return EXIT_COMPLETE, f"{path}: complete: {items}"
    if status == "complete":
        status = "complete but with unfinished items"
    return EXIT_RESUMABLE, f"{path}: {status}: {items}; resume with 'hpcbelt run --restart'"


def cmd_status(args) -> int:
    code, line = status_of(args.run)
    print(line)
    sys.stdout.flush()
    return code
