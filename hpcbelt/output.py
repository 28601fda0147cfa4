"""One self-describing HDF5 file per run, written by all ranks.

Modes (chosen by :func:`io_mode`):

``mpio``    h5py built with MPI: every rank opens the file with the mpio driver; metadata
            (datasets, attributes, dimension scales) is created collectively.  The slabs of
            one round of work items are written as collective operations at the end of the
            round (ranks without an item join with an empty selection), dataset by dataset
            in an order that keeps every rank's own order (data, then checksum, then done
            flag); ``HPCBELT_WRITES=independent`` writes each slab at once, independently.
``funnel``  h5py without MPI (or HPCBELT_IO=funnel): rank 0 alone opens the file and the
            other ranks send their slabs to it through :class:`hpcbelt.parallel.Hub`.
            Slower for big runs; one warning line says so.

``serial``  one rank: a plain file.

Drivers never branch on the mode: :meth:`RunFile.put` writes directly (mpio, serial) or posts
to rank 0 (funnel), and :meth:`RunFile.finish` closes the file with its final status.

Every dataset gets a ``units`` attribute; the root carries the study text, code version,
git commit, MPI size, host, start and end time, and the I/O mode.

The study-neutral readers (:func:`open_h5`, :func:`read_metadata`, :func:`read_root_attrs`,
:func:`file_identity`) turn every problem with a file someone hands us into one InputError.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Callable

import numpy as np

from . import __version__
from .errors import InputError


def h5py_has_mpi() -> bool:
    import h5py

    return bool(h5py.get_config().mpi)


def io_mode(comm) -> str:
    """'serial', 'mpio' or 'funnel' for this communicator and this h5py (HPCBELT_IO overrides)."""
    forced = os.environ.get("HPCBELT_IO", "").strip().lower()
    if forced and forced not in ("mpio", "funnel", "serial"):
        raise InputError(f"environment HPCBELT_IO={forced!r}: expected mpio, funnel or serial")
    if comm.Get_size() == 1:
        return "serial" if forced != "mpio" or not h5py_has_mpi() else "mpio"
    if forced == "funnel" or not h5py_has_mpi():
        return "funnel"
    return "mpio"


def git_commit() -> str:
    """The commit of the hpcbelt source tree, or 'unknown' (e.g. an installed wheel)."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        if out.returncode == 0:
            dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=10).stdout.strip()
            return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown"


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def check_output_path(path: str | Path, overwrite: bool, exists: str = "file exists") -> Path:
    """Refuse an existing file without ``overwrite``, a directory, a missing or unwritable
    directory (rank 0 only).  ``exists`` says what is wrong with an existing file."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"output {p}: is a directory; expected a file name")
    if p.exists() and not overwrite:
        raise InputError(f"output {p}: {exists}; pass --overwrite to replace it")
    parent = p.resolve().parent
    if not parent.is_dir():
        raise InputError(f"output {p}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise InputError(f"output {p}: not writable")
    return p


class WriteFailed(InputError):
    """Writing an output file failed (disk full, quota, failing file system): exit 74 (EX_IOERR).

    Raised on every rank at once, after the ranks agreed on it, with one line naming the file
    and the operating system's reason.  It derives from InputError so that the command line
    prints it as one ``hpcbelt: error:`` line; only its exit code differs.
    """

    exit_code = 74


def io_reason(exc: BaseException) -> str:
    """The operating system's reason for an I/O error, in a few words."""
    errno = getattr(exc, "errno", None)
    if errno is not None:
        return f"{os.strerror(errno)} (errno {errno})"
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


MIB = 1 << 20


def free_bytes(directory: str | Path) -> int:
    """Bytes an unprivileged writer may still put in the file system holding ``directory``."""
    st = os.statvfs(directory)
    return int(st.f_bavail) * int(st.f_frsize)


# While :func:`layout_bytes` runs a layout, :func:`preallocated` records the size of each
# dataset here instead of allocating it.
_COUNTING: list | None = None


def layout_bytes(layout: Callable) -> int:
    """The size of the file ``layout(h5)`` makes, found without writing anything to disk.

    The layout runs on an in-memory HDF5 file in which the preallocated datasets are created
    without their space (their byte sizes are added up instead); the in-memory image then holds
    the metadata and the small datasets.  A few pages are added for what HDF5 writes on close.
    """
    import h5py
    import io

    global _COUNTING
    _COUNTING = []
    try:
        with h5py.File(io.BytesIO(), "w") as h5:
            layout(h5)
            h5.flush()
            small = int(h5.id.get_filesize())
        return small + sum(_COUNTING) + 64 * 1024
    finally:
        _COUNTING = None


def check_space(out: str | Path, needed: int, what: str = "the run file's preallocated layout") -> None:
    """InputError (with the numbers) when the file system of ``out`` has less than ``needed`` bytes free."""
    out = Path(out)
    free = free_bytes(out.resolve().parent)
    if needed > free:
        raise InputError(f"output {out}: not enough free space for {what}: {needed / MIB:.1f} MiB "
                         f"needed, {free / MIB:.1f} MiB free in {out.resolve().parent}")


def provenance(comm, mode: str) -> dict:
    """Root attributes known at the start of a run (computed on rank 0, same on all ranks)."""
    info = None
    if comm.Get_rank() == 0:
        info = {
            "hpcbelt_version": __version__,
            "git_commit": git_commit(),
            "mpi_size": comm.Get_size(),
            "host": socket.gethostname(),
            "start_time": now_iso(),
            "parallel_io": mode,
        }
    return comm.bcast(info, root=0)


def write_mode() -> str:
    """'collective' (default) or 'independent': how mpio ranks write their slabs (HPCBELT_WRITES)."""
    mode = os.environ.get("HPCBELT_WRITES", "").strip().lower() or "collective"
    if mode not in ("collective", "independent"):
        raise InputError(f"environment HPCBELT_WRITES={mode!r}: expected collective or independent")
    return mode


def _hyperslab(shape: tuple, selection):
    """(start, count) of a selection made of integers and full slices, or None for anything else."""
    sel = selection if isinstance(selection, tuple) else (selection,)
    if not shape or len(sel) > len(shape):
        return None
    start, count = [], []
    for dim, s in zip(shape, sel + (slice(None),) * (len(shape) - len(sel))):
        if isinstance(s, slice) and s == slice(None):
            start.append(0)
            count.append(dim)
        elif isinstance(s, (int, np.integer)) and 0 <= int(s) < dim:
            start.append(int(s))
            count.append(1)
        else:
            return None
    return tuple(start), tuple(count)


def write_order(sequences: list[list[str]]) -> list[tuple[str, int]]:
    """One order of the writes of all ranks that keeps the order of every rank's own sequence.

    A write is (dataset name, j): the j-th write of that rank to that dataset, so a name
    written several times in a round (the PDE's frames) is several writes, each matched across
    ranks.  A topological order of the union (each sequence's consecutive writes are edges),
    ties broken by (name, j) so every rank computes the same list; two ranks writing a pair in
    opposite orders (never done by the drivers) is an error.
    """
    after: dict[tuple[str, int], set] = {}
    before_count: dict[tuple[str, int], int] = {}
    for seq in sequences:
        seen: dict[str, int] = {}
        nodes = []
        for name in seq:
            nodes.append((name, seen.get(name, 0)))
            seen[name] = seen.get(name, 0) + 1
        for node in nodes:
            after.setdefault(node, set())
            before_count.setdefault(node, 0)
        for x, y in zip(nodes, nodes[1:]):
            if y not in after[x]:
                after[x].add(y)
                before_count[y] += 1
    ready = sorted(n for n, c in before_count.items() if c == 0)
    order = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for y in after[node]:
            before_count[y] -= 1
            if before_count[y] == 0:
                ready.append(y)
        ready.sort()
    if len(order) != len(after):
        raise RuntimeError("ranks write datasets in contradicting orders: "
                           + ", ".join(sorted({n for n, _ in after})))
    return order


def io_mode_announced(comm) -> str:
    """:func:`io_mode`, with the one warning line when h5py's lack of MPI forces funnelling."""
    mode = io_mode(comm)
    if mode == "funnel" and comm.Get_rank() == 0 and not h5py_has_mpi():
        import sys

        print("hpcbelt: warning: h5py has no MPI support; writes are funnelled through rank 0 "
              "(slower; see README 'Cluster install')", file=sys.stderr, flush=True)
    return mode


def run_attrs(comm, mode: str, kind: str, study, layout_version: int, **extra) -> dict:
    """Root attributes of a new run file: provenance, the study (text, overrides, validated
    configuration as JSON), the sha256 and path of every input file (``input_sha256_json``,
    ``input_paths_json``: what a restart checks) and the layout version, plus ``extra`` (same
    on every rank)."""
    import json

    from . import guard
    from .parallel import root_decides

    attrs = provenance(comm, mode)
    attrs.update(root_decides(comm, lambda: guard.input_records(study)))
    attrs.update({
        "kind": kind,
        "study_toml": study.text,
        "study_overrides": json.dumps(list(study.overrides)),
        "study_config_json": json.dumps(study.doc, sort_keys=True),
        "study_file": study.path,
        "title": study.doc["title"],
        "layout_version": layout_version,
        "seed": study.seed,
        "restarts": 0,
        **extra,
    })
    return attrs


class RunFile:
    """The output file of a run, open on the ranks that write to it."""

    def __init__(self, path: Path, comm, mode: str):
        from .parallel import Hub

        self.path = Path(path)
        self.comm = comm
        self.mode = mode
        self.rank = comm.Get_rank()
        self.h5 = None
        # the first I/O error met on this rank (None while all is well); see :meth:`_failed`
        self.io_error: str | None = None
        # the channel funnelled writes (and the rounds loop's progress) travel through
        self.hub = Hub(comm, None, on_write=self.write)
        # mpio, collective: this round's (dataset, selection, array), written by end_round()
        self.collective = mode == "mpio" and comm.Get_size() > 1 and write_mode() == "collective"
        self._round: list[tuple[str, object, object]] = []
        if self.collective:
            self.hub.round_done = self.end_round      # run_rounds calls it after every round

    def _failed(self, exc: BaseException, doing: str) -> None:
        """Record this rank's first I/O error and ask every rank to stop after this round.

        Nothing is raised here (the other ranks may be about to enter a collective): the stop
        request travels with the rounds loop's agreement, and :meth:`finish` (or the creation
        itself) turns the agreed failure into :class:`WriteFailed` on every rank.
        """
        from .parallel import StopRequests

        if self.io_error is None:
            self.io_error = f"output {self.path}: {doing} failed: {io_reason(exc)}"
        StopRequests.request("I/O error")

    def _agreed_failure(self) -> str | None:
        """The first I/O error of any rank, or None (collective)."""
        errors = self.comm.allgather(self.io_error) if self.comm.Get_size() > 1 else [self.io_error]
        return next((e for e in errors if e is not None), None)

    def _shut(self) -> None:
        """Close the file after a failure, without raising (collective in mpio mode)."""
        if self.h5 is not None:
            try:
                self.h5.close()
            except Exception:       # the file system already failed; the error is reported
                pass
            self.h5 = None

    def put(self, dset: str, selection, array) -> None:
        """Write ``array`` to ``dset[selection]`` from any rank, whatever the I/O mode."""
        if self.mode == "funnel":
            self.hub.write(dset, selection, array)
        elif self.collective:
            self._round.append((dset, selection, array))
        else:
            self.write(dset, selection, array)

    def end_round(self) -> None:
        """Write this round's buffered slabs (collective over the ranks; mpio, collective mode).

        Every rank calls this after every round, with or without an item (:func:`run_rounds`
        does, through ``hub.round_done``), and :meth:`finish` once more.  The ranks exchange
        the names they hold, agree on one order (:func:`write_order`), and write dataset by
        dataset: one collective H5Dwrite per dataset (and per repeated write to it), an empty
        selection on ranks with nothing for it.  A dataset that cannot be written that way (a
        scalar, a string, a selection other than integers and full slices, on any rank) is
        written independently by the ranks that hold data for it, at its place in the order.
        After an I/O error a rank keeps joining the collectives with empty selections, so no
        rank waits for it; the error is agreed at the next round (:meth:`_failed`).
        """
        if not self.collective:
            return
        mine, self._round = self._round, []
        shapes = {}
        for name, sel, _ in mine:
            if name not in shapes:
                shapes[name] = self.h5[name]
        ok = [bool(shapes[name].dtype.kind in "iufb" and _hyperslab(shapes[name].shape, sel))
              for name, sel, _ in mine]
        held = self.comm.allgather([(name, flag) for (name, _, _), flag in zip(mine, ok)])
        order = write_order([[name for name, _ in seq] for seq in held])
        together = {}
        for seq in held:
            for name, flag in seq:
                together[name] = together.get(name, True) and flag
        for name, j in order:
            entries = [(sel, arr) for n, sel, arr in mine if n == name]
            entry = entries[j] if j < len(entries) else None
            if not together[name]:
                if entry is not None:
                    self.write(name, *entry)
                continue
            self._write_collective(name, self.h5[name], entry if self.io_error is None else None)

    def _write_collective(self, name: str, dset, entry) -> None:
        """One collective H5Dwrite of ``entry`` = (selection, array), or of nothing (None)."""
        import h5py

        try:
            dxpl = h5py.h5p.create(h5py.h5p.DATASET_XFER)
            dxpl.set_dxpl_mpio(h5py.h5fd.MPIO_COLLECTIVE)
            fspace = dset.id.get_space()
            if entry is None:
                fspace.select_none()
                mspace = h5py.h5s.create_simple((1,))
                mspace.select_none()
                buf = np.zeros(1, dset.dtype)
            else:
                start, count = _hyperslab(dset.shape, entry[0])
                fspace.select_hyperslab(start, count)
                buf = np.ascontiguousarray(np.asarray(entry[1], dtype=dset.dtype).reshape(count))
                mspace = h5py.h5s.create_simple(count)
            dset.id.write(mspace, fspace, buf, dxpl=dxpl)
        except OSError as exc:
            self._failed(exc, f"writing {name}")

    @classmethod
    def open_run(cls, path, comm, *, resume: bool, kind: str, study, layout_version: int,
                 layout: Callable, **extra_attrs) -> "RunFile":
        """The run file of ``hpcbelt run`` (collective): a new one with ``layout`` and the root
        attributes of :func:`run_attrs` (plus ``extra_attrs``), or, with ``resume``, the earlier
        one continued.  The I/O mode is chosen and announced here."""
        mode = io_mode_announced(comm)
        if resume:
            return cls.resume(path, comm, mode)
        attrs = run_attrs(comm, mode, kind, study, layout_version, **extra_attrs)
        return cls.create(path, comm, mode, layout, attrs)

    def finish(self, rounds, what: str, extra: dict | None = None, note: str = "") -> None:
        """Close after :func:`hpcbelt.parallel.run_rounds` with status 'complete', or
        'interrupted (SIGNAL)' and RunInterrupted (exit 75) when the ranks agreed to stop.

        An I/O error met by any rank while writing (or while closing) ends here on every rank
        as :class:`WriteFailed` (exit 74); members finished before it keep ``done = 1`` and a
        ``--restart`` on a disk with room continues from them.
        """
        from .errors import RunInterrupted

        self.end_round()              # anything put outside the rounds loop (collective)
        failure = self._agreed_failure()
        if failure is not None:
            self._shut()
            self.comm.Barrier()
            raise WriteFailed(f"{failure}; members finished before it are kept: free space, then "
                              "'hpcbelt run --restart'")
        end = self.comm.bcast(now_iso() if self.rank == 0 else None, root=0)
        final = {"end_time": end, **(extra or {})}
        if rounds.stopped:
            self.close({**final, "status": f"interrupted ({rounds.stopped})"})
            raise RunInterrupted(f"stopped by {rounds.stopped} with {rounds.remaining} of {rounds.total} "
                                 f"{what} left{note}; {self.path} is consistent: resume with "
                                 "'hpcbelt run --restart'")
        self.close({**final, "status": "complete"})

    @property
    def writes_here(self) -> bool:
        """True on ranks that hold the file open (all in mpio, rank 0 otherwise)."""
        return self.mode == "mpio" or self.rank == 0

    @classmethod
    def create(cls, path, comm, mode: str, layout: Callable, attrs: dict) -> "RunFile":
        """Create the file and its whole layout (collective in mpio mode).

        ``layout(h5file)`` creates every dataset; it must behave identically on every rank.
        The file is built under a temporary name beside ``path`` and renamed over it once its
        whole structure is on disk: a run killed while creating (large layouts take seconds)
        leaves any earlier file untouched and no half-made file under the real name, so a
        requeued ``--restart`` simply starts afresh.
        """
        import h5py

        from .parallel import root_decides

        self = cls(Path(path), comm, mode)
        building = self.path.with_name(f".{self.path.name}.creating")

        def room():
            # rank 0 sizes the layout in memory and compares with the free space: a layout that
            # does not fit is refused before anything is written
            if building.exists():
                building.unlink()
            def whole(h5):
                for k, v in attrs.items():
                    h5.attrs[k] = v
                layout(h5)

            check_space(self.path, layout_bytes(whole))

        root_decides(comm, room)
        try:
            if mode == "mpio":
                self.h5 = h5py.File(building, "w", driver="mpio", comm=comm)
            elif self.rank == 0:
                self.h5 = open_unbuffered(building, "w")
            if self.writes_here:
                for k, v in attrs.items():
                    self.h5.attrs[k] = v
                self.h5.attrs["status"] = "running"
                layout(self.h5)
                # Everything structural is on disk before any member is computed; from here on
                # only raw data goes into preallocated space, so a killed run leaves a readable file.
                self.h5.flush()
        except OSError as exc:
            self.io_error = f"output {self.path}: creating the run file failed: {io_reason(exc)}"
        failure = self._agreed_failure()
        if failure is None and self.rank == 0:
            try:
                os.replace(building, self.path)   # open handles follow the file to its new name
            except OSError as exc:
                self.io_error = f"output {self.path}: renaming the new run file failed: {io_reason(exc)}"
        failure = failure or self._agreed_failure()
        if failure is not None:
            self._shut()
            comm.Barrier()
            if self.rank == 0 and building.exists():
                building.unlink()              # no half-made file is left behind
            comm.Barrier()
            raise WriteFailed(failure)
        return self

    @classmethod
    def reopen(cls, path, comm, mode: str, attrs: dict) -> "RunFile":
        """Open an existing run file for a restart (collective in mpio mode)."""
        import h5py

        self = cls(Path(path), comm, mode)
        try:
            if mode == "mpio":
                self.h5 = h5py.File(self.path, "r+", driver="mpio", comm=comm)
            elif self.rank == 0:
                self.h5 = open_unbuffered(self.path, "r+")
            if self.writes_here:
                for k, v in attrs.items():
                    self.h5.attrs[k] = v
                self.h5.flush()
        except OSError as exc:
            self.io_error = f"output {self.path}: reopening the run file failed: {io_reason(exc)}"
        failure = self._agreed_failure()
        if failure is not None:
            self._shut()
            comm.Barrier()
            raise WriteFailed(failure)
        return self

    @classmethod
    def resume(cls, path, comm, mode: str) -> "RunFile":
        """Reopen an earlier run for ``--restart`` (collective): status 'running', ``restarts``
        counted up, and this attempt's start time, git commit, MPI size and I/O mode recorded."""
        info = provenance(comm, mode)
        restarts = None
        if comm.Get_rank() == 0:
            import h5py

            with h5py.File(path, "r") as fh:
                restarts = int(fh.attrs.get("restarts", 0))
        n = comm.bcast(restarts, root=0) + 1
        return cls.reopen(path, comm, mode, {
            "status": "running", "restarts": n, "mpi_size": comm.Get_size(), "parallel_io": mode,
            f"restart_{n}_start_time": info["start_time"], f"restart_{n}_git_commit": info["git_commit"]})

    def item_finished(self) -> None:
        """Push buffered raw data to the OS after a work item (serial files; mpio writes directly)."""
        if self.mode != "mpio" and self.rank == 0 and self.io_error is None:
            try:
                self.h5.flush()
            except OSError as exc:
                self._failed(exc, "flushing")

    def write(self, dset: str, selection, array) -> None:
        """Write ``array`` to ``dset[selection]`` (independent I/O; only where the file is open).

        After an I/O error on this rank nothing more is written (see :meth:`_failed`)."""
        if self.io_error is not None:
            return
        try:
            self.h5[dset][selection] = array
        except OSError as exc:
            self._failed(exc, f"writing {dset}")

    def close(self, attrs: dict) -> None:
        """Write final root attributes (same values on every rank) and close (collective).

        Every rank goes through the same steps whatever fails; an I/O error anywhere becomes
        :class:`WriteFailed` on every rank once the file is closed."""
        if self.writes_here:
            try:
                self.h5.flush()
                for k, v in attrs.items():
                    self.h5.attrs[k] = v
            except OSError as exc:
                self.io_error = self.io_error or f"output {self.path}: closing failed: {io_reason(exc)}"
            try:
                self.h5.close()
            except OSError as exc:
                self.io_error = self.io_error or f"output {self.path}: closing failed: {io_reason(exc)}"
            self.h5 = None
        failure = self._agreed_failure()
        self.comm.Barrier()
        if failure is not None:
            raise WriteFailed(f"{failure}; members finished before it are kept: free space, then "
                              "'hpcbelt run --restart'")


def open_unbuffered(path, mode: str):
    """``h5py.File(path, mode)`` (a plain file on one process) without HDF5's sieve buffer.

    HDF5 gathers small writes to contiguous datasets in a 64 kB buffer written out when the
    dataset is closed; a full disk met then is reported nowhere (h5py ignores errors of
    closing a dataset id) and crashes the library at exit.  Without it every write reaches the
    file system at once and its error comes back to the caller (:meth:`RunFile.write`).  The file
    is the same as h5py's (same creation and access properties otherwise).
    """
    import h5py
    from h5py._hl import files as _files

    fapl = _files.make_fapl(None)
    fapl.set_sieve_buf_size(0)
    fcpl = (_files.make_fcpl(track_order=h5py.get_config().track_order, track_times=False)
            if mode == "w" else None)
    return h5py.File(_files.make_fid(os.fsencode(str(path)), mode, None, fapl, fcpl))


def preallocated(h5, name: str, shape, dtype, fillvalue):
    """A contiguous dataset whose space is allocated (and filled) when it is created.

    With early allocation, later writes change no metadata: a run killed at any moment leaves
    the file's structure intact (the property restarts rely on).
    """
    import h5py

    if _COUNTING is not None:           # sizing the layout (layout_bytes): count, allocate nothing
        _COUNTING.append(int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize)
        return h5.create_dataset(name, shape=shape, dtype=dtype, fillvalue=fillvalue)
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    return h5.create_dataset(name, shape=shape, dtype=dtype, fillvalue=fillvalue, dcpl=dcpl)


def units(dset, unit: str, description: str = ""):
    """Attach ``units`` (and a description) to a dataset; returns it for chaining."""
    dset.attrs["units"] = unit
    if description:
        dset.attrs["description"] = description
    return dset


def scale(h5, name: str, data, unit: str, description: str):
    """A coordinate dataset made into an HDF5 dimension scale."""
    d = h5.create_dataset(name, data=np.asarray(data))
    units(d, unit, description)
    d.make_scale(name.rsplit("/", 1)[-1])
    return d


@contextlib.contextmanager
def restart_file(path, kind: str, label: str, layout_version: int, doc: dict, inputs: dict | None = None,
                 schema: dict | None = None):
    """Open an earlier run file read-only after checking it is a run of this very study.

    Yields the open ``h5py.File``.  Refused with a one-line InputError when the file is not a
    readable HDF5 file, is not a ``kind`` run (``label`` names it in the message), was written
    by another hpcbelt version or file layout, by a study whose validated configuration
    ``doc`` differs in any key (the first difference is named), or when an input file (the
    database, the initial condition) no longer has the content whose sha256 the run recorded
    (:func:`hpcbelt.guard.check_inputs_unchanged`; ``inputs`` are the study's
    ``input_files()``, the recorded paths are checked without it).  With the study's ``schema``,
    a key the file's configuration lacks counts as equal when the study holds that key's default:
    keys are added with the default that keeps the earlier behaviour, so a file written before
    the key existed continues.
    """
    import h5py

    from . import guard

    where = f"restart file {path}"
    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"{where}: not a readable HDF5 file ({exc}); a run killed while it was creating "
                         "its file leaves nothing to continue: rerun without --restart") from None
    with fh:
        try:
            a = fh.attrs
            if a.get("kind") != kind:
                raise InputError(f"{where}: not a {label} run file (kind = {a.get('kind')!r})")
            if a.get("layout_version") != layout_version or a.get("hpcbelt_version") != __version__:
                raise InputError(f"{where}: written by hpcbelt {a.get('hpcbelt_version')} (layout "
                                 f"{a.get('layout_version')}); this is hpcbelt {__version__} (layout "
                                 f"{layout_version}): rerun from scratch")
            try:
                stored = json.loads(a.get("study_config_json", "{}"))
            except (TypeError, ValueError):
                raise InputError(f"{where}: unreadable study_config_json attribute") from None
        except (OSError, KeyError) as exc:
            raise InputError(f"{where}: damaged run file ({exc})") from None
        if schema is not None:
            stored = with_new_defaults(stored, doc, schema)
        if stored != doc:
            raise InputError(f"{where}: written by a different study ({first_difference(stored, doc)}); "
                             "restart only continues the same study")
        guard.check_inputs_unchanged(fh.attrs, path, inputs)
        yield fh


def with_new_defaults(stored: dict, doc: dict, schema: dict) -> dict:
    """``stored`` with every key of ``schema`` that it lacks (recursively, also inside arrays of
    tables of the same length) taken from ``doc`` where ``doc`` holds that key's default."""
    from .config import Key, TableList

    out = dict(stored)
    for name, spec in schema.items():
        if name not in doc:
            continue
        if isinstance(spec, Key):
            if name not in out and doc[name] == spec.default:
                out[name] = doc[name]
        elif isinstance(spec, TableList):
            have, want = out.get(name), doc[name]
            if isinstance(have, list) and isinstance(want, list) and len(have) == len(want):
                out[name] = [with_new_defaults(h, w, spec.schema) if isinstance(h, dict) and isinstance(w, dict)
                             else h for h, w in zip(have, want)]
        elif isinstance(spec, dict) and isinstance(doc[name], dict) and isinstance(out.get(name), dict):
            out[name] = with_new_defaults(out[name], doc[name], spec)
    return out


def first_difference(a, b, prefix="") -> str:
    """'key.path: file has X, study has Y' for the first key where two study configs differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if a.get(k, "<absent>") != b.get(k, "<absent>"):
                return first_difference(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{prefix}{k}.")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return first_difference(x, y, f"{prefix.rstrip('.')}[{i}].")
    return f"{prefix.rstrip('.')}: file has {a!r}, study has {b!r}"


# ------------------------------------------------------------------------------------------
# Study-neutral readers: every problem with a file handed to us becomes one InputError
# ------------------------------------------------------------------------------------------

# Members per HDF5 read call.  One call over many chunks makes HDF5 (1.10) keep a selection per
# chunk touched, about 7 kB each: 10,000 members in one call cost ~70 MB outside numpy.  Reading
# at most this many members (one chunk each) per call bounds that overhead to a few MB.
MEMBERS_PER_READ = 256


def open_h5(path: str | Path, chunk_cache_bytes: int = 0):
    """Open ``path`` read-only; HDF5 errors become InputError.

    ``chunk_cache_bytes = 0`` (the default) disables HDF5's chunk cache: run files store one
    member per chunk, and without the cache a slab of a few times is read straight from the file
    instead of the whole member's chunk being read for every time block.
    """
    import h5py

    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file not found")
    if not p.is_file():
        raise InputError(f"{p}: not a regular file")
    try:
        return h5py.File(p, "r", rdcc_nbytes=int(chunk_cache_bytes))
    except OSError as exc:
        reason = str(exc)
        if "signature" in reason or "not an hdf5" in reason.lower():
            raise InputError(f"{p}: not an HDF5 file (expected an hpcbelt run file)") from None
        if "truncated" in reason:
            raise InputError(f"{p}: truncated HDF5 file ({reason}); was the run's file copied "
                             f"completely?") from None
        if "lock" in reason:
            raise InputError(f"{p}: cannot open, the file is locked (is a run still writing it?): "
                             f"{reason}") from None
        raise InputError(f"{p}: cannot open as HDF5 (corrupted?): {reason}") from None


def read_metadata(path, inspect: Callable):
    """``inspect(h5, where)`` on an open file; HDF5 errors while reading its metadata (a truncated
    or corrupted file) become one InputError naming the file."""
    where = str(path)
    with open_h5(path) as h5:
        try:
            return inspect(h5, where)
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            raise InputError(f"{where}: cannot read the run file's metadata (truncated or corrupted?): "
                             f"{exc}") from None


def check_text(v: str, what: str) -> None:
    """Refuse text that is not valid UTF-8 (a corrupted name or attribute)."""
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{what} is not valid UTF-8 text: corrupted file") from None


def attr_str(obj, key, default=""):
    """A text attribute of an HDF5 object, decoded and checked."""
    v = obj.attrs.get(key, default)
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if isinstance(v, str):
        check_text(v, f"{obj.file.filename}: {obj.name} attribute '{key}'")
    return v


def read_root_attrs(h5, keys, where: str) -> dict:
    """The root attributes ``keys`` that are present, as Python values (text decoded and checked)."""
    root = {}
    for k in keys:
        if k in h5.attrs:
            v = h5.attrs[k]
            v = v.decode("utf-8", "replace") if isinstance(v, bytes) else (v.item() if hasattr(v, "item") else v)
            if isinstance(v, str):
                check_text(v, f"{where}: root attribute '{k}'")
            root[k] = v
    return root


def file_kind(path: str | Path) -> str | None:
    """The ``kind`` root attribute of an HDF5 file (None when absent); InputError if unreadable."""
    with open_h5(path) as h5:
        try:
            kind = attr_str(h5, "kind", None)
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            raise InputError(f"{path}: cannot read the root attributes (corrupted?): {exc}") from None
    return None if kind is None else str(kind)


def file_identity(path: str | Path, checksum: bool = True) -> dict:
    """Size, modification time and (unless ``checksum`` is False) sha256 of a file, streamed."""
    import hashlib

    p = Path(path)
    st = p.stat()
    info = {"source_path": str(p.resolve()), "source_size_bytes": int(st.st_size),
            "source_mtime": _dt.datetime.fromtimestamp(st.st_mtime, _dt.timezone.utc).isoformat(timespec="seconds"),
            "source_sha256": ""}
    if checksum:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        info["source_sha256"] = h.hexdigest()
    return info


def runs_of(indices) -> list[tuple[int, int]]:
    """Contiguous runs [(start, stop), ...] of a sorted integer array (for slab reads)."""
    idx = np.asarray(indices, np.int64)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [idx.size]])
    return [(int(idx[a]), int(idx[b - 1]) + 1) for a, b in zip(starts, stops)]


def read_runs(indices):
    """Contiguous runs of ``indices`` cut into pieces of at most MEMBERS_PER_READ items."""
    for m0, m1 in runs_of(indices):
        for a in range(m0, m1, MEMBERS_PER_READ):
            yield a, min(m1, a + MEMBERS_PER_READ)
