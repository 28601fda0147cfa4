"""Guards of the files a command writes and reads back.

* Never over one of its own inputs: every command that writes (``run``, ``aggregate``, ``dxx
  build``, ``dxx import``) names its inputs and calls :func:`refuse_inputs_as_output` for each
  output before anything is written (on rank 0, inside :func:`hpcbelt.parallel.root_decides`).
  Files are compared as the same file on disk (device and inode, through links, ``..`` and
  relative paths), not by name.
* One writer per run file: :class:`RunLock`, the lock file ``.OUT.lock`` that ``hpcbelt run``
  holds while it writes OUT (and that ``aggregate`` respects: :func:`live_lock`).
* A restart only continues a run with the same inputs: :func:`input_records` (the sha256 and
  path of each input, stored in the run file) and :func:`check_inputs_unchanged`.

No MPI and no HDF5 here: callers decide on rank 0 and broadcast.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError


def same_file(a: str | Path, b: str | Path) -> bool:
    """True when ``a`` and ``b`` are the same file (or would be: equal resolved paths)."""
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def study_inputs(study) -> dict:
    """The files a study reads, {what: path}: its ``input_files()`` (the study contract), or
    at least the study file."""
    files = getattr(study, "input_files", None)
    if callable(files):
        return dict(files())
    return {"study file": Path(study.path)}


def refuse_inputs_as_output(out: str | Path, inputs: dict, flag: str = "output") -> None:
    """InputError when ``out`` is one of ``inputs`` ({what: path}, None paths ignored)."""
    for what, path in inputs.items():
        if path is not None and same_file(out, path):
            raise InputError(f"{flag} {out}: is the {what} ({path}); an input is never overwritten: "
                             "choose another output name")


# ------------------------------------------------------------------------------------------
# One writer per run file: a lock file beside it
# ------------------------------------------------------------------------------------------
#
# ``hpcbelt run`` takes ``.OUT.lock`` (beside OUT) on rank 0 before it creates or resumes OUT
# and removes it when the run ends, whatever the outcome short of the process being killed.
# The lock is made complete under a private name and hard-linked to its real name: link() fails
# when the name exists, so exactly one of two racing writers gets it, and nobody ever reads a
# half-written lock.  A lock left by a dead process (kill -9, a crashed node's job requeued on
# the same host) is recognised as stale from its host, PID and the PID's start time.


def lock_path(out: str | Path) -> Path:
    """The lock file of run file ``out``: ``.OUT.lock`` in the same directory."""
    out = Path(out)
    return out.with_name(f".{out.name}.lock")


def _proc_start_ticks(pid: int) -> int | None:
    """Start time of process ``pid`` in clock ticks since boot (/proc/<pid>/stat field 22)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may itself hold spaces or ')'
    fields = text[text.rindex(")") + 2:].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def _launcher_info() -> dict:
    """What identifies the MPI job or batch job this process belongs to (when known)."""
    keys = ("SLURM_JOB_ID", "SLURM_STEP_ID", "SLURM_ARRAY_TASK_ID", "OMPI_COMM_WORLD_SIZE",
            "PMIX_NAMESPACE", "PMI_SIZE", "HYDRA_CONTROL_FD")
    return {k: os.environ[k] for k in keys if k in os.environ}


def holder_text(info: dict) -> str:
    """'host H, PID P, started T' (and the Slurm job) of a lock's holder, for messages."""
    job = info.get("launcher") or {}
    extra = f", Slurm job {job['SLURM_JOB_ID']}" if "SLURM_JOB_ID" in job else ""
    return (f"host {info.get('host', '?')}, PID {info.get('pid', '?')}, "
            f"started {info.get('start_time', '?')}{extra}")


def read_lock(path: Path) -> dict | None:
    """The holder recorded in lock file ``path``; None when there is no lock; {} if unreadable."""
    import json

    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return {}
    try:
        info = json.loads(text)
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


def lock_is_stale(info: dict) -> bool:
    """True when the lock's writer is certainly gone: same host, and its PID is not running or
    is another process (the PID was reused: its start time differs).  A lock from another host,
    or one that cannot be read, is never called stale."""
    import socket

    if not info or info.get("host") != socket.gethostname():
        return False
    try:
        pid = int(info["pid"])
    except (KeyError, TypeError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass                      # alive, owned by someone else
    ticks = _proc_start_ticks(pid)
    return ticks is not None and info.get("pid_start_ticks") is not None and ticks != info["pid_start_ticks"]


def live_lock(out: str | Path) -> dict | None:
    """The holder of ``out``'s lock when a writer may still hold it (None: no lock, or stale)."""
    info = read_lock(lock_path(out))
    if info is None or lock_is_stale(info):
        return None
    return info


LOCK_FREE = "free"                # no lock file
LOCK_LIVE = "live"                # held by a process running on this host
LOCK_STALE = "stale"              # its process (on this host) is gone: the next run removes it
LOCK_OTHER_HOST = "other host"    # taken on another host: whether its run lives cannot be told here
LOCK_UNREADABLE = "unreadable"    # a lock file that records no holder


def inspect_lock(out: str | Path) -> tuple[str, Path, dict | None]:
    """(state, lock path, holder) of the lock of run file ``out``; reads, never changes, it.

    ``state`` is one of ``LOCK_FREE``, ``LOCK_LIVE``, ``LOCK_STALE``, ``LOCK_OTHER_HOST`` and
    ``LOCK_UNREADABLE``; the holder is what the lock file records (None without a lock).
    """
    import socket

    path = lock_path(out)
    info = read_lock(path)
    if info is None:
        return LOCK_FREE, path, None
    if not info:
        return LOCK_UNREADABLE, path, info
    if info.get("host") != socket.gethostname():
        return LOCK_OTHER_HOST, path, info
    if lock_is_stale(info):
        return LOCK_STALE, path, info
    try:
        int(info["pid"])
    except (KeyError, TypeError, ValueError):
        return LOCK_UNREADABLE, path, info
    return LOCK_LIVE, path, info


class RunLock:
    """The single-writer lock of one run file, held by one process (rank 0 of ``hpcbelt run``)."""

    def __init__(self, out: Path, path: Path, info: dict):
        self.out, self.path, self.info = out, path, info

    @classmethod
    def acquire(cls, out: str | Path, warn=None) -> "RunLock":
        """Take the lock of ``out`` or raise InputError naming OUT and the holder.

        A stale lock is put aside under a private name, checked again there (it must still be
        the very lock judged stale, not a fresh one another process took meanwhile) and removed;
        ``warn(line)`` reports it.  Then a fresh lock is taken.
        """
        import datetime as dt
        import json
        import socket
        import sys

        out = Path(out)
        path = lock_path(out)
        me = os.getpid()
        info = {"host": socket.gethostname(), "pid": me, "pid_start_ticks": _proc_start_ticks(me),
                "start_time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "nonce": os.urandom(8).hex(), "output": str(out), "launcher": _launcher_info()}
        if warn is None:
            def warn(line):
                print(line, file=sys.stderr, flush=True)
        mine = path.with_name(f"{path.name}.{info['host']}.{me}.new")
        try:
            mine.write_text(json.dumps(info, sort_keys=True))
        except OSError as exc:
            raise InputError(f"output {out}: cannot create the lock file {path} ({exc.strerror})") from None
        try:
            for _ in range(5):
                if cls._link(mine, path):
                    return cls(out, path, info)
                held = read_lock(path)
                if held is None:
                    continue                          # released meanwhile: try again
                if not lock_is_stale(held):
                    raise InputError(cls._refusal(out, path, held))
                aside = path.with_name(f"{path.name}.{info['host']}.{me}.stale")
                try:
                    os.rename(path, aside)
                except FileNotFoundError:
                    continue                          # someone else removed it first
                again = read_lock(aside)
                if again is not None and again.get("nonce") == held.get("nonce"):
                    aside.unlink()
                    warn(f"hpcbelt: warning: {out}: removed the stale lock {path} of a run that is no "
                         f"longer running ({holder_text(held)})")
                    continue
                # we moved a lock someone took in between: give it back and let them have it
                cls._link(aside, path)
                aside.unlink()
                raise InputError(cls._refusal(out, path, again or {}))
            raise InputError(f"output {out}: could not take the lock {path} (other runs keep taking "
                             "it); try again")
        finally:
            with _suppress():
                mine.unlink()

    @staticmethod
    def _link(src: Path, dst: Path) -> bool:
        """Give ``src``'s content the name ``dst`` only if ``dst`` does not exist (atomic)."""
        try:
            os.link(src, dst)
            return True
        except FileExistsError:
            return False
        except OSError:
            pass                                      # no hard links here: exclusive create
        try:
            fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as fh:
            fh.write(src.read_text())
        return True

    @staticmethod
    def _refusal(out: Path, path: Path, held: dict) -> str:
        import socket

        if not held:
            how = f"the lock {path} is unreadable (being created?)"
        else:
            how = f"it is being written by {holder_text(held)}"
        advice = "wait for that run to end"
        if held and held.get("host") != socket.gethostname():
            advice += (f"; if it is certainly not running on {held.get('host')}, remove {path} "
                       "and run again")
        elif not held:
            advice += f"; if no run is writing {out}, remove {path} and run again"
        return f"output {out}: {how}; one writer at a time: {advice}"

    def release(self) -> None:
        """Remove the lock if it is still ours."""
        held = read_lock(self.path)
        if held is not None and held.get("nonce") == self.info["nonce"]:
            with _suppress():
                self.path.unlink()


def _suppress():
    import contextlib

    return contextlib.suppress(OSError)


# ------------------------------------------------------------------------------------------
# The inputs a run file records, and the restart check against them
# ------------------------------------------------------------------------------------------

# Root attributes of a run file: {what: sha256} and {what: absolute path} of the study's inputs
INPUT_SHA256 = "input_sha256_json"
INPUT_PATHS = "input_paths_json"
# compared key by key as the validated configuration, so an edited comment is no change
NOT_HASH_CHECKED = ("study file",)


def sha256_of(path: str | Path) -> str:
    """The sha256 of a file's content, streamed."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def input_records(study) -> dict:
    """The root attributes recording a study's inputs ({INPUT_SHA256: json, INPUT_PATHS: json});
    InputError naming the file when one cannot be read."""
    import json

    digests, paths = {}, {}
    for what, path in study_inputs(study).items():
        try:
            digests[what] = sha256_of(path)
        except OSError as exc:
            raise InputError(f"{what} {path}: cannot be read to record its checksum "
                             f"({exc.strerror or exc})") from None
        paths[what] = str(Path(path).resolve())
    return {INPUT_SHA256: json.dumps(digests, sort_keys=True), INPUT_PATHS: json.dumps(paths, sort_keys=True)}


def check_inputs_unchanged(attrs, run_path, inputs: dict | None = None) -> None:
    """InputError unless every input a run file recorded still has the recorded content.

    ``attrs`` are the run file's root attributes; ``inputs`` ({what: path}) are the files the
    study reads now (its ``input_files()``); without it the recorded paths are checked.  A file
    of the layout before these attributes existed is refused: nothing says which database or
    initial condition its finished members came from.
    """
    import json

    where = f"restart file {run_path}"
    if INPUT_SHA256 not in attrs:
        raise InputError(f"{where}: records no checksums of its inputs (written before hpcbelt "
                         "recorded them), so an unchanged database or initial file cannot be "
                         "confirmed: rerun without --restart")
    try:
        digests = json.loads(attrs[INPUT_SHA256])
        paths = json.loads(attrs.get(INPUT_PATHS, "{}"))
    except (TypeError, ValueError):
        raise InputError(f"{where}: unreadable {INPUT_SHA256} attribute (damaged run file)") from None
    now = dict(inputs) if inputs is not None else {}
    for what in sorted(set(digests) | set(now)):
        if what in NOT_HASH_CHECKED:
            continue
        if what not in digests:
            raise InputError(f"{where}: the run recorded no {what}, the study now reads "
                             f"{now[what]}: restart only continues a run with the same inputs")
        path = now.get(what, paths.get(what))
        if path is None:
            raise InputError(f"{where}: the run used a {what} the study no longer names: restart "
                             "only continues a run with the same inputs")
        try:
            have = sha256_of(path)
        except OSError as exc:
            raise InputError(f"{what} {path}: cannot be read to compare it with the run "
                             f"({exc.strerror or exc})") from None
        if have != digests[what]:
            raise InputError(f"{what} {path}: its content changed since the run in {run_path} "
                             f"started (sha256 {digests[what][:12]}... then, {have[:12]}... now); "
                             "restart only continues a run with the same inputs: restore the file "
                             "or rerun without --restart")
