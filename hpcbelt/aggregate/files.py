"""The files an aggregation writes, whatever the study: summary header, datasets, figures, paths.

Every summary is written by rank 0 under a temporary name (:func:`temp_name`) and renamed into
place by the driver once its figures and report are done.  Its root attributes start with one
common header (:func:`summary_header`): what it is, who made it, from which run file.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .. import __version__, guard
from ..errors import InputError
from ..output import (WriteFailed, attr_str, check_output_path, git_commit, io_reason, now_iso, open_h5,
                      read_root_attrs)
from . import damage

SUMMARY_KIND = "aggregate_summary"
SUMMARY_LAYOUT_VERSION = 1


def summary_header(source_kind: str, run_root: dict, identity: dict, opts, mpi_size: int) -> dict:
    """Root attributes every summary starts with.

    ``run_root`` holds root attributes read from the run file (copied as ``source_<name>``),
    ``identity`` the run file's path, size, mtime and sha256 (:func:`hpcbelt.output.file_identity`),
    ``opts`` the aggregation options (a dataclass with ``memory_bytes``).
    """
    head = {
        "kind": SUMMARY_KIND,
        "summary_layout_version": SUMMARY_LAYOUT_VERSION,
        "source_kind": source_kind,
        "hpcbelt_version": __version__,
        "git_commit": git_commit(),
        "created": now_iso(),
        "host": socket.gethostname(),
        "mpi_size": int(mpi_size),
        **identity,
        **{f"source_{k}": v for k, v in run_root.items() if k != "kind"},
        "options_json": options_json(opts),
        "memory_budget_bytes_per_rank": int(opts.memory_bytes),
    }
    return head


def write_attrs(obj, attrs: dict) -> None:
    for k, v in attrs.items():
        obj.attrs[k] = v


OMIT_IF_NONE = "omit_if_none"     # field metadata: an option added later, left out of the JSON while unset


def options_json(opts) -> str:
    """The aggregation options as JSON (stored in every summary).  A field whose metadata has
    :data:`OMIT_IF_NONE` is left out while it is None, so adding an option keeps the stored
    JSON of the aggregations that do not use it as it was."""
    from dataclasses import fields

    d = asdict(opts)
    for f in fields(opts):
        if f.metadata.get(OMIT_IF_NONE) and d.get(f.name) is None:
            del d[f.name]
    return json.dumps(d, sort_keys=True, default=lambda o: list(o) if isinstance(o, tuple) else str(o))


def dataset(group, name, data, units, description, dims=()):
    """A dataset with ``units`` and ``description``; ``dims`` are dimension scales (or None)."""
    d = group.create_dataset(name, data=np.asarray(data))
    d.attrs["units"] = units
    d.attrs["description"] = description
    for i, scale in enumerate(dims):
        if scale is not None:
            d.dims[i].attach_scale(scale)
    return d


def write_text_replacing(path: Path, text: str) -> None:
    """Write ``text`` to a temporary name beside ``path``, then rename it over ``path`` (a reader
    never sees half a report); the temporary file is removed if anything fails."""
    tmp = temp_name(path)
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def temp_name(path: Path) -> Path:
    """Where a file is written before it is renamed to ``path`` (same directory)."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def summary_path_for(run_path: str | Path) -> Path:
    p = Path(run_path)
    return p.with_name(p.stem + "_summary.h5")


def is_summary(path: str | Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            return attr_str(h5, "kind", "") == SUMMARY_KIND
    except OSError:
        return False


def refuse_if_being_written(run_path: Path) -> None:
    """A run file whose single-writer lock (:class:`hpcbelt.guard.RunLock`) is held by a live
    ``hpcbelt run`` is still being written: refused (a stale lock of a killed run is not)."""
    holder = guard.live_lock(run_path)
    if holder is not None:
        raise InputError(f"{run_path}: the run file is being written ({guard.holder_text(holder)}); "
                         "aggregate it when that run has ended")


def recorded_inputs(run_path: Path) -> dict:
    """{what: path} of the inputs the run recorded (study file, database, initial-condition
    file; older files: the study file only)."""
    inputs = {}
    with open_h5(run_path) as h5:
        try:
            root = read_root_attrs(h5, (guard.INPUT_PATHS, "study_file"), str(run_path))
        except (OSError, RuntimeError, ValueError, KeyError):
            root = {}
    try:
        recorded = json.loads(root.get(guard.INPUT_PATHS, "{}"))
    except (TypeError, ValueError):
        recorded = {}
    if not isinstance(recorded, dict) or not recorded:
        recorded = {"study file": root["study_file"]} if root.get("study_file") else {}
    inputs.update({str(k): Path(v) for k, v in recorded.items() if isinstance(v, str) and v})
    return inputs


def readable_source(run_path) -> dict:
    """Check a run file an aggregation is about to read: refused while a live run writes it.
    Returns {what: path} of the files no output may be: the run file and the inputs it recorded."""
    run_path = Path(run_path)
    refuse_if_being_written(run_path)
    return {"run file": run_path, **recorded_inputs(run_path)}


def stat(path) -> tuple:
    """(size, mtime_ns) of a run file, to tell later whether it changed while being read."""
    st = Path(path).stat()
    return st.st_size, st.st_mtime_ns


def check_unchanged(run_path, stat0) -> None:
    """After reading a run file: refused if a run took it meanwhile or it changed since ``stat0``."""
    refuse_if_being_written(Path(run_path))       # a run started on it while we were reading
    if stat(run_path) != stat0:
        raise InputError(f"{run_path}: the run file changed while it was being aggregated "
                         f"(is the run still writing?); try again when it is finished")


def refuse_figures_over(figs: Path, sources: dict, names=None) -> None:
    """A --figures directory (figures are ``FIGS/<name>.png``) must be none of ``sources`` nor hold
    one of them as a PNG a figure could replace (``names``: the figures' names; None: any PNG).
    Also checks that the directory can be created and written (:func:`check_figures_dir`)."""
    figs = Path(figs)
    guard.refuse_inputs_as_output(figs, sources, flag="--figures")
    check_figures_dir(figs)                        # a directory we can create and write in
    for what, path in sources.items():
        if (path.suffix == ".png" and (names is None or path.stem in names) and figs.is_dir()
                and guard.same_file(path.parent, figs)):
            raise InputError(f"--figures {figs}: holds the {what} {path}, which a figure could "
                             "replace; choose another directory")


def check_summary_output(out: Path, run_path: str | Path, overwrite: bool) -> Path:
    """Refuse to write over the run file, a directory, or a file that is not an earlier summary.

    An earlier summary (root attribute kind = 'aggregate_summary') is replaced without
    ``--overwrite``: it is derived data and ``make run`` re-aggregates every time.
    """
    out = Path(out)
    if out.resolve() == Path(run_path).resolve():
        raise InputError(f"output {out}: is the run file itself; choose another name")
    return check_output_path(out, overwrite or (out.is_file() and is_summary(out)),
                             exists="exists and is not an hpcbelt summary")


# errno values that mean "this place cannot be written at all" (a bad --figures, exit 2), as
# opposed to a file system failing while writing (full disk, I/O error: WriteFailed, exit 74)
_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST, errno.ENOENT}


def write_error(exc: OSError, path, flag: str | None = None) -> InputError:
    """The one-line error for an OSError met writing ``path``: InputError naming ``flag`` when
    the place cannot be written, :class:`hpcbelt.output.WriteFailed` when writing failed."""
    where = f"{flag} {path}" if flag else f"output {path}"
    if getattr(exc, "errno", None) in _NOT_WRITABLE:
        return InputError(f"{where}: cannot write there: {io_reason(exc)}")
    return WriteFailed(f"{where}: writing failed: {io_reason(exc)}")


def check_figures_dir(figs: Path) -> Path:
    """Refuse a --figures directory that exists as something else, cannot be created, or cannot
    be written (read-only file system, no permission): rank 0, before any work."""
    figs = Path(figs)
    if figs.exists() and not figs.is_dir():
        raise InputError(f"--figures {figs}: exists and is not a directory")
    parent = next((p for p in (figs, *figs.absolute().parents) if p.exists()), None)
    if parent is None or not parent.is_dir():
        raise InputError(f"--figures {figs}: cannot be created ({parent} is not a directory)")
    try:                 # try it: the reason (read-only file system, permission) names itself
        probe = figs if figs.is_dir() else parent
        fd, name = tempfile.mkstemp(prefix=".hpcbelt-probe-", dir=probe)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise write_error(exc, figs, "--figures") from None
    return figs


def make_figures(summary_path, outdir, figures: dict) -> dict:
    """Draw ``figures`` (name -> ``plot(h5) -> (figure, data)``) from a summary into ``outdir``.

    Returns name -> PNG path.  Each PNG is written under a temporary name and renamed, so a
    reader never sees a half-written file; every figure is closed after saving.  A directory
    that cannot be written is an InputError naming ``--figures``; a write that fails (full
    disk) is :class:`hpcbelt.output.WriteFailed`; neither leaves a temporary PNG behind.
    """
    import h5py
    import matplotlib.pyplot as plt

    out = Path(outdir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(exc, out, "--figures") from None
    paths = {}
    with h5py.File(summary_path, "r") as h5:
        for name, fn in figures.items():
            fig, _ = fn(h5)
            path = out / f"{name}.png"
            tmp = out / f".{name}.png.tmp-{os.getpid()}"
            try:
                fig.savefig(tmp, dpi=110, format="png")
                os.replace(tmp, path)
            except OSError as exc:
                raise write_error(exc, path, "--figures") from None
            finally:
                plt.close(fig)
                if tmp.exists():
                    tmp.unlink()
            paths[name] = path
    return paths


def report_header(a, summary_path, elapsed_s, kind_label: str = "") -> list:
    """Title and provenance lines every report starts with (``a``: the summary's root attributes)."""
    ident = f"sha256 `{a['source_sha256']}`" if a["source_sha256"] else "sha256 not computed"
    took = f" in {elapsed_s:.1f} s" if elapsed_s is not None else ""
    return [f"# Aggregation of `{a['source_path']}`{kind_label}", "",
            f"- run: {a.get('source_title', '')!s} - status `{a.get('source_status', '?')}`, "
            f"written by hpcbelt {a.get('source_hpcbelt_version', '?')}",
            f"- file: {a['source_size_bytes']} bytes, modified {a['source_mtime']}, {ident}",
            f"- aggregated by hpcbelt {a['hpcbelt_version']} on {a['mpi_size']} MPI rank(s){took}, "
            f"{a['created']}; summary `{Path(summary_path).name}`"] + damage.report_lines(a)


def report_figures(figures: dict | None) -> list:
    """The report's list of figure files."""
    if not figures:
        return []
    return ["", "## Figures", ""] + [f"- `{p}`" for p in figures.values()]
