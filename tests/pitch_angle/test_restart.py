"""Checkpoint and restart: a run stopped by a signal, or killed outright, keeps every finished
member; ``--restart`` completes it with a result bitwise identical to an uninterrupted run."""

import os
import signal
import subprocess
import sys

import h5py
import numpy as np
import pytest

from .helpers import hpcbelt, make_study, mpi_env, wait_until_gone
from .test_run import assert_same_results, read_all


def slow_study(tmp_path):
    # explicit steps make members last ~0.6 s each, so a signal lands mid-run
    return make_study(tmp_path, method="explicit", dalpha=1.0, days=30.0, members=12, dt=0.25)


def start(study, out, ranks=None):
    cmd = [sys.executable, "-m", "hpcbelt", "run", str(study), "-o", str(out), "--overwrite"]
    if ranks:
        cmd = ["mpirun", "-n", str(ranks), *cmd]
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=mpi_env())
    first = p.stderr.readline()            # first progress line: at least one member written
    assert "members [" in first, first + p.stderr.read()
    return p


def done_flags(out):
    with h5py.File(out, "r") as fh:
        names = [k for k in fh if isinstance(fh[k], h5py.Group) and "member_done" in fh[k]]
        return {k: fh[k]["member_done"][()].copy() for k in names}, fh.attrs["status"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    d = tmp_path_factory.mktemp("restart")
    study = slow_study(d)
    ref = d / "reference.h5"
    r = hpcbelt("run", study, "-o", ref, "--quiet")
    assert r.returncode == 0, r.stderr
    return study, ref


def test_sigterm_then_restart_serial_is_bitwise_identical(tmp_path, reference):
    study, ref = reference
    out = tmp_path / "interrupted.h5"
    p = start(study, out)
    p.send_signal(signal.SIGTERM)
    err = p.stderr.read()
    assert p.wait(timeout=120) == 75, err                     # documented code: 75 = resumable
    assert "resume with 'hpcbelt run --restart'" in err
    flags, status = done_flags(out)
    assert status == "interrupted (SIGTERM)"
    total = sum(v.size for v in flags.values())
    finished = sum(int(v.sum()) for v in flags.values())
    assert 0 < finished < total
    r = hpcbelt("run", study, "-o", out, "--restart", "--quiet")
    assert r.returncode == 0, r.stderr
    assert_same_results(ref, out)
    with h5py.File(out) as fh:
        assert fh.attrs["restarts"] == 1 and fh.attrs["status"] == "complete"


def test_sigterm_under_mpirun_then_restart_on_3_ranks(tmp_path, reference):
    study, ref = reference
    out = tmp_path / "interrupted.h5"
    p = start(study, out, ranks=2)
    p.send_signal(signal.SIGTERM)                             # mpirun forwards it to the ranks
    p.stderr.read()
    p.wait(timeout=120)
    flags, status = done_flags(out)
    assert status == "interrupted (SIGTERM)"
    assert 0 < sum(int(v.sum()) for v in flags.values()) < sum(v.size for v in flags.values())
    r = hpcbelt("run", study, "-o", out, "--restart", "--quiet", ranks=3)
    assert r.returncode == 0, r.stderr
    assert_same_results(ref, out)


def test_kill_9_of_a_rank_keeps_finished_members(tmp_path, reference):
    study, ref = reference
    out = tmp_path / "killed.h5"
    p = start(study, out, ranks=2)
    ranks = subprocess.run(["pgrep", "-f", "--", f"-o {out}"], capture_output=True, text=True).stdout.split()
    ranks = [int(x) for x in ranks if int(x) != p.pid]
    assert ranks, "no rank process found"
    os.kill(ranks[-1], signal.SIGKILL)
    p.stderr.read()
    assert p.wait(timeout=120) != 0
    flags, status = done_flags(out)                          # the file still opens and reads
    assert status == "running"
    finished = sum(int(v.sum()) for v in flags.values())
    assert finished > 0
    with h5py.File(out) as fh, h5py.File(ref) as fr:        # what was marked done is complete
        for name, v in flags.items():
            for m in np.flatnonzero(v):
                np.testing.assert_array_equal(fh[name]["f"][m], fr[name]["f"][m])
    wait_until_gone(ranks)                                   # the old ranks hold the run file's lock
    r = hpcbelt("run", study, "-o", out, "--restart", "--quiet", ranks=2)
    assert r.returncode == 0, r.stderr
    assert_same_results(ref, out)


def test_restart_refuses_other_study_version_or_file(tmp_path, reference):
    study, ref = reference
    other = tmp_path / "other"
    other_study = make_study(other, method="explicit", dalpha=1.0, days=30.0, members=12, dt=0.25,
                             **{"seed = 11": "seed = 12"})
    r = hpcbelt("run", other_study, "-o", ref, "--restart")
    assert r.returncode == 2 and "different study" in r.stderr and "seed" in r.stderr, r.stderr
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as fh:
        fh["x"] = 1
    r = hpcbelt("run", study, "-o", foreign, "--restart", ranks=2)
    assert r.returncode == 2 and "not a pitch-angle run" in r.stderr
    old = tmp_path / "old.h5"
    old.write_bytes(ref.read_bytes())
    with h5py.File(old, "r+") as fh:
        fh.attrs["hpcbelt_version"] = "0.0.1"
    r = hpcbelt("run", study, "-o", old, "--restart")
    assert r.returncode == 2 and "0.0.1" in r.stderr
    before = ref.read_bytes()
    r = hpcbelt("run", study, "-o", ref, "--restart")         # complete already: nothing to do
    assert r.returncode == 0 and "already complete" in r.stderr
    assert ref.read_bytes() == before


def test_leftover_from_a_run_killed_while_creating(tmp_path):
    # A run killed while building its layout leaves only ".OUT.creating" (never a half-made
    # OUT): a requeued --restart finds no OUT, starts afresh and replaces the leftover.
    study = make_study(tmp_path, days=0.5, dalpha=9.0, members=2)
    leftover = tmp_path / ".out.h5.creating"
    leftover.write_bytes(b"half-written layout")
    r = hpcbelt("run", study, "-o", tmp_path / "out.h5", "--restart", "--quiet", ranks=2)
    assert r.returncode == 0, r.stderr
    assert not leftover.exists()
    with h5py.File(tmp_path / "out.h5") as fh:
        assert fh.attrs["status"] == "complete" and fh.attrs["restarts"] == 0


def test_a_file_written_before_a_key_existed_continues_while_it_holds_its_default(tmp_path):
    """Keys are added with the default that keeps the old behaviour: a run file whose stored
    configuration lacks the [grid] keys of issue 17 (as one written before them) restarts with
    the study at those defaults, bitwise as an uninterrupted run; a study that sets one of them
    to something else is refused, naming it."""
    import json

    study = make_study(tmp_path, dalpha=6.0, days=1.0, members=3)
    ref = tmp_path / "ref.h5"
    assert hpcbelt("run", study, "-o", ref, "--quiet").returncode == 0
    out = tmp_path / "old.h5"
    assert hpcbelt("run", study, "-o", out, "--quiet").returncode == 0
    with h5py.File(out, "r+") as fh:
        cfg = json.loads(fh.attrs["study_config_json"])
        for key in ("spacing", "min_dalpha_deg", "growth"):
            del cfg["grid"][key]
        fh.attrs["study_config_json"] = json.dumps(cfg, sort_keys=True)
        fh["drand_1h/member_done"][1] = 0                     # one member left to do
    r = hpcbelt("run", study, "-o", out, "--restart", "--quiet")
    assert r.returncode == 0, r.stderr
    da, db = read_all(ref)[0], read_all(out)[0]          # the datasets (the stored config was edited)
    assert sorted(da) == sorted(db) and all(np.array_equal(da[k], db[k], equal_nan=True) for k in da)
    with h5py.File(out, "r+") as fh:
        fh["drand_1h/member_done"][1] = 0
    r = hpcbelt("run", study, "-o", out, "--restart", "--set", "grid.spacing=graded")
    assert r.returncode == 2 and "different study" in r.stderr and "grid.spacing" in r.stderr, r.stderr
