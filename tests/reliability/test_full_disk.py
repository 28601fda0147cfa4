"""Issue 11, class 4: a full disk or a failing file system, on a real small tmpfs.

* A run whose preallocated layout does not fit is refused before anything is written: one
  line with the numbers (MiB needed and free), exit 2, nothing left in the directory.
* A run whose layout fits but whose space is taken away from outside once the file exists
  (the pages of its data are punched out of the file and the disk is filled, while the ranks
  are still computing) ends with one agreed ``hpcbelt: error:`` line, exit 74, on 3 ranks
  (mpio and funnel) and on one, within a timeout: no hang, no stray temporary file.

The runs use the test-only ``decay`` study kind (tests/studies/decay), whose ``pause_s`` leaves
time to take the space between the creation of the file and the first write.
"""

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN_DECAY = ROOT / "tests" / "studies" / "run_decay.py"
PAGE = 4096

STUDY = """\
kind = "decay"
seed = 3
title = "full disk"

[decay]
members = {members}
duration_s = {duration}
output_every_s = 10.0
dt_s = 10.0
pause_s = {pause}
"""


def env(mode=None):
    e = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
             OMPI_MCA_rmaps_base_oversubscribe="1", HDF5_USE_FILE_LOCKING="FALSE")
    e.pop("HPCBELT_IO", None)
    if mode:
        e["HPCBELT_IO"] = mode
    return e


def command(*args, ranks=None):
    cmd = [sys.executable, str(RUN_DECAY), *map(str, args)]
    return ["mpirun", "-n", str(ranks), *cmd] if ranks else cmd


@contextlib.contextmanager
def tmpfs(size: str):
    """A real tmpfs of ``size`` (we are root in the test machine), unmounted afterwards."""
    if os.geteuid() != 0:            # never skipped under CI, which runs as root
        assert os.environ.get("CI", "").lower() not in ("1", "true"), "CI must run as root (real tmpfs)"
        pytest.skip("mounting a tmpfs needs root")
    where = Path(tempfile.mkdtemp(prefix="hpcbelt-tmpfs-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        where.rmdir()


def our_lines(stderr: str) -> list:
    return [line for line in stderr.splitlines() if line.startswith("hpcbelt")]


def fill(directory: Path) -> None:
    """Write a file until the file system says it is full."""
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * PAGE)
    finally:
        os.close(fd)


def punch_data_pages(path: Path, dataset: str) -> int:
    """Give the pages holding ``dataset``'s preallocated data back to the file system (a real
    fallocate(PUNCH_HOLE) on the run file); returns the bytes punched."""
    with h5py.File(path, "r", locking=False) as h5:
        d = h5[dataset]
        start, size = d.id.get_offset(), d.id.get_storage_size()
    first = -(-start // PAGE) * PAGE
    last = (start + size) // PAGE * PAGE
    assert last - first >= PAGE, "dataset too small to punch a page out of it"
    subprocess.run(["fallocate", "--punch-hole", "--keep-size", "-o", str(first), "-l", str(last - first),
                    str(path)], check=True)
    return last - first


def test_layout_that_does_not_fit_is_refused_before_writing(tmp_path):
    study = tmp_path / "decay.toml"
    study.write_text(STUDY.format(members=40, duration=36000.0, pause=0.0))   # 40 x 3601 x 8 B = 1.1 MiB
    with tmpfs("512k") as disk:
        for ranks in (None, 3):
            r = subprocess.run(command("run", study, "-o", disk / "run.h5", "--quiet", ranks=ranks),
                               capture_output=True, text=True, env=env(), timeout=240)
            lines = our_lines(r.stderr)
            assert r.returncode == 2, r.stderr
            assert len(lines) == 1, r.stderr
            assert "not enough free space" in lines[0] and "MiB needed" in lines[0] and "MiB free" in lines[0]
            assert os.listdir(disk) == []                 # nothing written, no temporary file


@pytest.mark.parametrize("ranks,mode", [(3, "mpio"), (3, "funnel"), (None, None)])
def test_space_taken_during_the_run_ends_with_one_agreed_line(tmp_path, ranks, mode):
    study = tmp_path / "decay.toml"
    study.write_text(STUDY.format(members=6, duration=36000.0, pause=1.0))    # 6 x 3601 x 8 B = 169 kB
    with tmpfs("1m") as disk:
        out = disk / "run.h5"
        t0 = time.monotonic()
        p = subprocess.Popen(command("run", study, "-o", out, "--quiet", ranks=ranks), stderr=subprocess.PIPE,
                             text=True, env=env(mode))
        try:
            while not out.exists():                      # the file is renamed into place once laid out
                assert p.poll() is None, p.stderr.read()
                assert time.monotonic() - t0 < 180, "the run file never appeared"
                time.sleep(0.005)
            # every rank is now in its first member's pause: take the space of the data away
            punch_data_pages(out, "y")
            fill(disk)
            _, err = p.communicate(timeout=180)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        lines = our_lines(err)
        assert p.returncode == 74, err
        assert len(lines) == 1, err
        assert lines[0].startswith(f"hpcbelt: error: output {out}: writing y failed: ")
        assert "--restart" in lines[0]
        assert "Traceback" not in err
        assert sorted(os.listdir(disk)) == ["filler", "run.h5"]      # no .run.h5.creating left
