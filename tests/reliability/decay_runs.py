"""Running the test-only decay study (tests/studies/decay) through the real command line, for
the reliability tests of one writer per run file, inputs never used as outputs and restarts
after an input changed."""

import os
import subprocess
import sys
import time
from pathlib import Path

import h5py

TESTS = Path(__file__).resolve().parents[1]
RUN_DECAY = [sys.executable, str(TESTS / "studies" / "run_decay.py")]
HPCBELT = [sys.executable, "-m", "hpcbelt"]

DECAY = """\
kind = "decay"
seed = 5
title = "reliability"

[decay]
members = {members}
duration_s = 3600.0
output_every_s = 600.0
dt_s = 10.0
pause_s = {pause}
"""


def env(**extra):
    e = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
             OMPI_MCA_rmaps_base_oversubscribe="1", **extra)
    e.pop("HPCBELT_IO", None)
    return e


def command(*args, ranks=None, decay=True):
    cmd = (RUN_DECAY if decay else HPCBELT) + [str(a) for a in args]
    return ["mpirun", "-n", str(ranks), *cmd] if ranks else cmd


def run(*args, ranks=None, decay=True, timeout=300):
    return subprocess.run(command(*args, ranks=ranks, decay=decay), capture_output=True, text=True,
                          env=env(), timeout=timeout)


def start(*args, ranks=None, decay=True):
    return subprocess.Popen(command(*args, ranks=ranks, decay=decay), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env())


def decay_study(directory, name="decay.toml", members=9, pause=0.0):
    p = Path(directory) / name
    p.write_text(DECAY.format(members=members, pause=pause))
    return p


def ours(stderr):
    """hpcbelt's own lines (not mpirun's)."""
    return [line for line in stderr.splitlines() if line.startswith("hpcbelt")]


def wait_for(predicate, timeout=120.0, what="condition"):
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def members_done(path):
    """Finished members of a decay run file being written (0 while it cannot be read)."""
    try:
        with h5py.File(path, "r", locking=False) as fh:
            return int(fh["member_done"][()].sum())
    except (OSError, KeyError):
        return 0


def y_done_status(path):
    with h5py.File(path, "r") as fh:
        return fh["y"][()], fh["member_done"][()], str(fh.attrs["status"])


def snapshot(path):
    """Bytes and modification time of a file: what 'untouched' means."""
    p = Path(path)
    return p.read_bytes(), p.stat().st_mtime_ns
