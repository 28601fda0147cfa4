"""One self-describing HDF5 file per run, written by all ranks.

Modes (chosen by :func:`io_mode`):

``mpio``    h5py built with MPI: every rank opens the file with the mpio driver; metadata
            (datasets, attributes, dimension scales) is created collectively and each rank
            writes its own members' slabs independently.
``funnel``  h5py without MPI (or HPCBELT_IO=funnel): rank 0 alone opens the file and the
            other ranks send their slabs to it through :class:`hpcbelt.parallel.Hub`.
            Slower for big runs; one warning line says so.
``serial``  one rank: a plain file.

Every dataset gets a ``units`` attribute; the root carries the study text, code version,
git commit, MPI size, host, start and end time, and the I/O mode.
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


def check_output_path(path: str | Path, overwrite: bool) -> Path:
    """Refuse an existing file without ``overwrite`` and an unwritable directory (rank 0 only)."""
    p = Path(path)
    if p.exists() and not overwrite:
        raise InputError(f"output {p}: file exists; pass --overwrite to replace it")
    if p.is_dir():
        raise InputError(f"output {p}: is a directory; expected a file name")
    parent = p.resolve().parent
    if not parent.is_dir():
        raise InputError(f"output {p}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise InputError(f"output {p}: not writable")
    return p


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
    configuration as JSON) and the layout version, plus ``extra`` (same on every rank)."""
    import json

    attrs = provenance(comm, mode)
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
        self.path = Path(path)
        self.comm = comm
        self.mode = mode
        self.rank = comm.Get_rank()
        self.h5 = None

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

        self = cls(Path(path), comm, mode)
        building = self.path.with_name(f".{self.path.name}.creating")
        if self.rank == 0 and building.exists():
            building.unlink()
        comm.Barrier()
        if mode == "mpio":
            self.h5 = h5py.File(building, "w", driver="mpio", comm=comm)
        elif self.rank == 0:
            self.h5 = h5py.File(building, "w")
        if self.writes_here:
            for k, v in attrs.items():
                self.h5.attrs[k] = v
            self.h5.attrs["status"] = "running"
            layout(self.h5)
            # Everything structural is on disk before any member is computed; from here on only
            # raw data goes into preallocated space, so a killed run leaves a readable file.
            self.h5.flush()
        comm.Barrier()
        if self.rank == 0:
            os.replace(building, self.path)   # open handles follow the file to its new name
        comm.Barrier()
        return self

    @classmethod
    def reopen(cls, path, comm, mode: str, attrs: dict) -> "RunFile":
        """Open an existing run file for a restart (collective in mpio mode)."""
        import h5py

        self = cls(Path(path), comm, mode)
        if mode == "mpio":
            self.h5 = h5py.File(self.path, "r+", driver="mpio", comm=comm)
        elif self.rank == 0:
            self.h5 = h5py.File(self.path, "r+")
        if self.writes_here:
            for k, v in attrs.items():
                self.h5.attrs[k] = v
            self.h5.flush()
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

    def member_finished(self) -> None:
        """Push buffered raw data to the OS after a member (serial files; mpio writes directly)."""
        if self.mode != "mpio" and self.rank == 0:
            self.h5.flush()

    def write(self, dset: str, selection, array) -> None:
        """Write ``array`` to ``dset[selection]`` (independent I/O; only where the file is open)."""
        self.h5[dset][selection] = array

    def close(self, attrs: dict) -> None:
        """Write final root attributes (same values on every rank) and close (collective)."""
        if self.writes_here:
            for k, v in attrs.items():
                self.h5.attrs[k] = v
            self.h5.close()
        self.comm.Barrier()


def preallocated(h5, name: str, shape, dtype, fillvalue):
    """A contiguous dataset whose space is allocated (and filled) when it is created.

    With early allocation, later writes change no metadata: a run killed at any moment leaves
    the file's structure intact (the property restarts rely on).
    """
    import h5py

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
def restart_file(path, kind: str, label: str, layout_version: int, doc: dict):
    """Open an earlier run file read-only after checking it is a run of this very study.

    Yields the open ``h5py.File``.  Refused with a one-line InputError when the file is not a
    readable HDF5 file, is not a ``kind`` run (``label`` names it in the message), was written
    by another hpcbelt version or file layout, or by a study whose validated configuration
    ``doc`` differs in any key (the first difference is named).
    """
    import h5py

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
        if stored != doc:
            raise InputError(f"{where}: written by a different study ({first_difference(stored, doc)}); "
                             "restart only continues the same study")
        yield fh


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
