"""Open and check run files before aggregating them; read slabs of finished members.

Every problem with the input file (missing, not HDF5, truncated, not an hpcbelt run, wrong
layout, a finished member holding NaN) becomes an :class:`~hpcbelt.errors.InputError` that
names the file and what was expected, so the command exits with code 2 and one line.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from .stats import runs_of

SUMMARY_KIND = "aggregate_summary"
# Members per HDF5 read call.  One call over many chunks makes HDF5 (1.10) keep a selection per
# chunk touched, about 7 kB each: 10,000 members in one call cost ~70 MB outside numpy.  Reading
# at most this many members (one chunk each) per call bounds that overhead to a few MB.
MEMBERS_PER_READ = 256
PITCH_ANGLE_LAYOUTS = (1,)


def open_h5(path: str | Path, chunk_cache_bytes: int = 0):
    """Open ``path`` read-only; HDF5 errors become InputError.

    ``chunk_cache_bytes = 0`` (the default) disables HDF5's chunk cache: the run files store one
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


def file_identity(path: str | Path, checksum: bool = True) -> dict:
    """Size, modification time and (unless ``checksum`` is False) sha256 of a file, streamed."""
    p = Path(path)
    st = p.stat()
    info = {"source_path": str(p.resolve()), "source_size_bytes": int(st.st_size),
            "source_mtime": _iso(st.st_mtime), "source_sha256": ""}
    if checksum:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        info["source_sha256"] = h.hexdigest()
    return info


def _iso(t: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="seconds")


def _attr_str(obj, key, default=""):
    v = obj.attrs.get(key, default)
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if isinstance(v, str):
        _check_text(v, f"{obj.file.filename}: {obj.name} attribute '{key}'")
    return v


def read_root_attrs(h5, keys, where: str) -> dict:
    """The root attributes ``keys`` that are present, as Python values (text decoded and checked)."""
    root = {}
    for k in keys:
        if k in h5.attrs:
            v = h5.attrs[k]
            v = v.decode("utf-8", "replace") if isinstance(v, bytes) else (v.item() if hasattr(v, "item") else v)
            if isinstance(v, str):
                _check_text(v, f"{where}: root attribute '{k}'")
            root[k] = v
    return root


def _check_text(v: str, what: str) -> None:
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{what} is not valid UTF-8 text: corrupted file") from None


def run_kind(path: str | Path) -> str:
    """The ``kind`` root attribute of an hpcbelt run file (InputError for anything else)."""
    with open_h5(path) as h5:
        try:
            kind = _attr_str(h5, "kind", None)
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            raise InputError(f"{path}: cannot read the root attributes (corrupted?): {exc}") from None
    if kind is None:
        raise InputError(f"{path}: HDF5 file without a 'kind' attribute: not an hpcbelt run file")
    if kind == SUMMARY_KIND:
        raise InputError(f"{path}: this is an aggregation summary, not a run file; pass the run file "
                         f"that 'hpcbelt run' wrote")
    return str(kind)


@dataclass
class ExperimentInfo:
    """One experiment of a pitch-angle run and which of its members are finished."""

    name: str
    mode: str
    members: int
    switch_every_s: float
    description: str
    done: np.ndarray                       # indices of finished members, increasing

    @property
    def n_done(self) -> int:
        return int(self.done.size)

    @property
    def runs(self) -> list[tuple[int, int]]:
        return runs_of(self.done)


@dataclass
class PitchAngleRun:
    """Everything the aggregation needs to know about a pitch-angle run file (picklable)."""

    path: str
    time_s: np.ndarray
    alpha_deg: np.ndarray
    experiments: list[ExperimentInfo]
    root: dict                             # selected root attributes (strings / numbers)
    f_units: str
    loss_cone_deg: float
    database: dict = field(default_factory=dict)   # path, sha256, n_profiles, daa_mean, ...

    @property
    def n_time(self) -> int:
        return int(self.time_s.size)

    @property
    def n_alpha(self) -> int:
        return int(self.alpha_deg.size)

    def experiment(self, name: str) -> ExperimentInfo:
        for ex in self.experiments:
            if ex.name == name:
                return ex
        raise InputError(f"{self.path}: no experiment named {name!r} (have "
                         f"{', '.join(e.name for e in self.experiments)})")


ROOT_ATTRS = ("kind", "title", "status", "hpcbelt_version", "git_commit", "method", "seed", "start_time",
              "end_time", "mpi_size", "study_file", "study_config_json", "layout_version")


def inspect_pitch_angle(path: str | Path) -> PitchAngleRun:
    """Check the layout of a pitch-angle run file (driver.py docstring) and list finished members."""
    return read_metadata(path, _inspect)


def read_metadata(path, inspect):
    """``inspect(h5, where)`` on an open run file; HDF5 errors while reading its metadata
    (a truncated or corrupted file) become one InputError naming the file."""
    where = str(path)
    with open_h5(path) as h5:
        try:
            return inspect(h5, where)
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            raise InputError(f"{where}: cannot read the run file's metadata (truncated or corrupted?): "
                             f"{exc}") from None


def _need(h5, name, where, ndim=None):
    import h5py

    if name not in h5 or not isinstance(h5[name], h5py.Dataset):
        raise InputError(f"{where}: dataset '{name}' missing: not a complete pitch-angle run file "
                         f"(see hpcbelt/pitch_angle/driver.py for the layout)")
    d = h5[name]
    if ndim is not None and d.ndim != ndim:
        raise InputError(f"{where}: dataset '{name}' has {d.ndim} dimensions, expected {ndim}")
    return d


def _inspect(h5, where: str) -> PitchAngleRun:
    for name in h5:
        _check_text(name, f"{where}: object name {ascii(name)}")
    kind = _attr_str(h5, "kind", None)
    if kind != "pitch_angle":
        raise InputError(f"{where}: kind = {kind!r}, expected 'pitch_angle'")
    layout = int(h5.attrs.get("layout_version", -1))
    if layout not in PITCH_ANGLE_LAYOUTS:
        raise InputError(f"{where}: layout_version = {layout}; this aggregator reads "
                         f"{', '.join(map(str, PITCH_ANGLE_LAYOUTS))}")
    time_s = _need(h5, "time_s", where, 1)[()].astype(float)
    alpha = _need(h5, "alpha_deg", where, 1)[()].astype(float)
    if time_s.size == 0 or alpha.size < 2:
        raise InputError(f"{where}: empty time_s or alpha_deg")
    if np.any(np.diff(time_s) <= 0) or np.any(np.diff(alpha) <= 0):
        raise InputError(f"{where}: time_s and alpha_deg must increase")
    root = read_root_attrs(h5, ROOT_ATTRS, where)

    # experiment order: as in the study file, else alphabetical
    names = []
    try:
        cfg = json.loads(root.get("study_config_json", "{}"))
        names = [e["name"] for e in cfg.get("experiment", [])]
    except (ValueError, TypeError, KeyError):
        names = []
    if not names or not all(n in h5 for n in names):
        names = sorted(k for k in h5 if k not in ("grid", "database", "time_s", "alpha_deg")
                       and "f" in h5[k])
    if not names:
        raise InputError(f"{where}: no experiment groups with an 'f' dataset")

    shape = (time_s.size, alpha.size)
    exps = []
    for name in names:
        f = _need(h5, f"{name}/f", where, 3)
        di = _need(h5, f"{name}/daa_integral", where, 3)
        done = _need(h5, f"{name}/member_done", where, 1)
        m = f.shape[0]
        if f.shape[1:] != shape:
            raise InputError(f"{where}: {name}/f has shape {f.shape}, expected (members, {shape[0]}, "
                             f"{shape[1]}) from time_s and alpha_deg")
        if di.shape != f.shape:
            raise InputError(f"{where}: {name}/daa_integral has shape {di.shape}, expected {f.shape}")
        if done.shape != (m,):
            raise InputError(f"{where}: {name}/member_done has shape {done.shape}, expected ({m},)")
        flags = done[()]
        if not np.isin(flags, (0, 1)).all():
            raise InputError(f"{where}: {name}/member_done holds values other than 0 and 1")
        g = h5[name]
        sw = g.attrs.get("switch_every_s", np.nan)
        exps.append(ExperimentInfo(
            name=name, mode=str(_attr_str(g, "mode", "unknown")), members=int(m),
            switch_every_s=float(sw) if sw is not None else float("nan"),
            description=str(_attr_str(g, "description", "")),
            done=np.flatnonzero(flags == 1).astype(np.int64)))

    db = {}
    if "database" in h5:
        d = h5["database"]
        db = {"path": str(_attr_str(d, "path", "")), "sha256": str(_attr_str(d, "sha256", "")),
              "n_profiles": int(d.attrs.get("n_profiles", -1))}
        for key in ("daa_mean", "daa_of_mean_inputs"):
            if key in d:
                arr = d[key][()].astype(float)
                if arr.shape != (alpha.size,):
                    raise InputError(f"{where}: database/{key} has shape {arr.shape}, expected "
                                     f"({alpha.size},)")
                db[key] = arr
    lc = float(h5["grid"].attrs.get("loss_cone_deg", np.nan)) if "grid" in h5 else float("nan")
    return PitchAngleRun(path=str(Path(where).resolve()), time_s=time_s, alpha_deg=alpha, experiments=exps,
                         root=root, f_units=str(_attr_str(h5, "f_units", "")) or
                         str(_attr_str(h5[f"{names[0]}/f"], "units", "")),
                         loss_cone_deg=lc, database=db)


def _split(runs):
    """Contiguous member runs cut into pieces of at most MEMBERS_PER_READ members."""
    for m0, m1 in runs:
        for a in range(m0, m1, MEMBERS_PER_READ):
            yield a, min(m1, a + MEMBERS_PER_READ)


def read_slab(h5, dset: str, ex: ExperimentInfo, t0: int, t1: int, a0: int, a1: int,
              out: np.ndarray) -> np.ndarray:
    """Read ``dset[finished members, t0:t1, a0:a1]`` into ``out`` (n_done, t1-t0, a1-a0).

    Contiguous runs of finished members are read straight into ``out`` (no temporary copy).
    A finished member with a non-finite value is a corrupted file.
    """
    d = h5[dset]
    row = 0
    try:
        for m0, m1 in _split(ex.runs):
            n = m1 - m0
            d.read_direct(out, source_sel=np.s_[m0:m1, t0:t1, a0:a1], dest_sel=np.s_[row:row + n])
            row += n
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        raise InputError(f"{h5.filename}: cannot read {dset} (times {t0}..{t1 - 1}): {exc} "
                         f"(truncated or corrupted file?)") from None
    if not np.isfinite(out).all():
        bad = np.flatnonzero(~np.isfinite(out.reshape(out.shape[0], -1)).all(axis=1))[0]
        raise InputError(f"{h5.filename}: {dset}: member {int(ex.done[bad])} is marked finished "
                         f"(member_done = 1) but holds non-finite values near times {t0}..{t1 - 1}: "
                         f"corrupted run file")
    return out


def read_member_column(h5, dset: str, ex: ExperimentInfo, m0_row: int, m1_row: int, ia: int,
                       out: np.ndarray) -> np.ndarray:
    """``dset[finished members m0_row..m1_row (positions in ex.done), :, ia]`` into ``out``."""
    d = h5[dset]
    idx = ex.done[m0_row:m1_row]
    row = 0
    try:
        for m0, m1 in _split(runs_of(idx)):
            n = m1 - m0
            d.read_direct(out, source_sel=np.s_[m0:m1, :, ia], dest_sel=np.s_[row:row + n])
            row += n
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        raise InputError(f"{h5.filename}: cannot read {dset}: {exc} (truncated or corrupted file?)") from None
    if not np.isfinite(out).all():
        bad = np.flatnonzero(~np.isfinite(out).all(axis=1))[0]
        raise InputError(f"{h5.filename}: {dset}: member {int(idx[bad])} is marked finished but holds "
                         f"non-finite values: corrupted run file")
    return out


def summary_path_for(run_path: str | Path) -> Path:
    p = Path(run_path)
    return p.with_name(p.stem + "_summary.h5")


def check_summary_output(out: Path, run_path: str | Path, overwrite: bool) -> Path:
    """Refuse to write over the run file, a directory, or a file that is not an earlier summary.

    An earlier summary (root attribute kind = 'aggregate_summary') is replaced without
    ``--overwrite``: it is derived data and ``make run`` re-aggregates every time.
    """
    out = Path(out)
    if out.resolve() == Path(run_path).resolve():
        raise InputError(f"output {out}: is the run file itself; choose another name")
    if out.is_dir():
        raise InputError(f"output {out}: is a directory; expected a file name")
    parent = out.resolve().parent
    if not parent.is_dir():
        raise InputError(f"output {out}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputError(f"output {out}: directory {parent} is not writable")
    if out.exists() and not overwrite:
        is_summary = False
        try:
            import h5py

            with h5py.File(out, "r") as h5:
                is_summary = _attr_str(h5, "kind", "") == SUMMARY_KIND
        except OSError:
            is_summary = False
        if not is_summary:
            raise InputError(f"output {out}: exists and is not an hpcbelt summary; pass --overwrite "
                             f"to replace it")
    return out
