"""Checkpoint and restart of drift-diffusion studies (the pitch-angle contract, issue 4).

A run stopped by a signal, or killed outright, keeps every finished permutation and, once it is
done, the PDE; ``--restart`` completes it with datasets bitwise identical to an uninterrupted run,
on any number of ranks and in any I/O mode.  Files of another study, another code version or
another kind are refused with one line and exit code 2, and left untouched.
"""

import os
import re
import signal
import subprocess
import sys

import h5py
import numpy as np
import pytest

from hpcbelt.drift import driver
from hpcbelt.drift.study import load_study

from pitch_angle.helpers import wait_until_gone  # tests/ is on the path (pytest rootdir)
from .helpers import assert_bitwise_same, hpcbelt, make_slow_study, mpi_env

PROGRESS = re.compile(r"drift study \[.*\] (\d+)/(\d+)")


def start(study, out, ranks=None, until=1, env=None, restart=False):
    """Start ``hpcbelt run`` and return once the progress bar shows ``until`` finished work items."""
    cmd = [sys.executable, "-m", "hpcbelt", "run", str(study), "-o", str(out)]
    cmd.append("--restart" if restart else "--overwrite")
    if ranks:
        cmd = ["mpirun", "-n", str(ranks), *cmd]
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=mpi_env(**(env or {})))
    seen = []
    while True:
        line = p.stderr.readline()
        seen.append(line)
        m = PROGRESS.search(line)
        if m and int(m.group(1)) >= until:
            assert int(m.group(1)) < int(m.group(2)), "the run finished before the signal: " + "".join(seen)
            return p
        assert line, "no progress line:\n" + "".join(seen) + p.stderr.read()


def state(out):
    with h5py.File(out, "r") as fh:
        return (bool(fh["pde/done"][()]), fh["particles/perm_done"][()].astype(bool), fh.attrs["status"],
                dict(fh.attrs))


def n_pde_chunks(study, ranks=1):
    st = load_study(study)
    return sum(1 for q in driver.plan(st, ranks, True, range(12), driver.experiment(st)) for it in q
               if it[0] == "pde")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    d = tmp_path_factory.mktemp("drift-restart")
    study = make_slow_study(d)
    ref = d / "reference.h5"
    r = hpcbelt("run", study, "-o", ref, "--quiet")
    assert r.returncode == 0, r.stderr
    return study, ref


def test_plan_covers_every_item_once():
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        st = load_study(make_slow_study(d))
    exp = driver.experiment(st)
    nt = st.out_t.size
    for size in (1, 2, 3, 5):
        for pde_todo, perms in ((True, range(12)), (False, [1, 4, 11]), (True, []), (False, [])):
            q = driver.plan(st, size, pde_todo, perms, exp)
            assert len(q) == size
            chunks = [it for it in q[0] if it[0] == "pde"]
            assert all(it[0] == "perm" for r in q[1:] for it in r)          # the PDE on rank 0 only ...
            assert q[0][:len(chunks)] == chunks                              # ... first, in order
            assert [k for _, a, b in chunks for k in range(a, b)] == (list(range(nt)) if pde_todo else [])
            assert sorted(it[1] for r in q for it in r if it[0] == "perm") == list(perms)
            if perms and pde_todo:
                assert 2 <= len(chunks) < nt                                # about one permutation each
            if pde_todo and not perms:
                assert len(chunks) == nt                                     # stop latency: one frame


def test_sigint_mid_pde_then_sigusr1_on_2_ranks_then_restart_on_3_funnelled(tmp_path, reference):
    study, ref = reference
    out = tmp_path / "run.h5"
    # 1. serial, interrupted in the PDE (the first items of rank 0): nothing is done yet
    p = start(study, out, until=1)
    p.send_signal(signal.SIGINT)
    err = p.stderr.read()
    assert p.wait(timeout=120) == 75, err
    assert "resume with 'hpcbelt run --restart'" in err and "PDE to be recomputed" in err, err
    pde_done, perms, status, attrs = state(out)
    assert status == "interrupted (SIGINT)" and not pde_done and "pde_budget_json" not in attrs
    with h5py.File(out, "r") as fh:                                          # partly written PDE frames
        assert np.isfinite(fh["pde/F"][0]).all() and np.isnan(fh["pde/F"][-1]).all()
    # 2. continued on 2 ranks (mpio), stopped by SIGUSR1 (Slurm's --signal) forwarded by mpirun
    p = start(study, out, ranks=2, until=3, restart=True)
    p.send_signal(signal.SIGUSR1)
    err = p.stderr.read()
    assert p.wait(timeout=120) == 75, err
    pde_done, perms, status, attrs = state(out)
    assert status == "interrupted (SIGUSR1)" and attrs["restarts"] == 1
    assert 0 < perms.sum() < perms.size
    # 3. completed on 3 ranks with writes funnelled through rank 0
    r = hpcbelt("run", study, "-o", out, "--restart", "--quiet", ranks=3, env={"HPCBELT_IO": "funnel"})
    assert r.returncode == 0, r.stderr
    assert_bitwise_same(ref, out)
    with h5py.File(out, "r") as fh:
        assert fh.attrs["restarts"] == 2 and fh.attrs["status"] == "complete"
        assert fh.attrs["parallel_io"] == "funnel" and fh.attrs["mpi_size"] == 3


def test_sigterm_after_pde_serial_keeps_pde_and_permutations(tmp_path, reference):
    study, ref = reference
    out = tmp_path / "run.h5"
    p = start(study, out, until=n_pde_chunks(study) + 1)                     # PDE and one permutation done
    p.send_signal(signal.SIGTERM)
    err = p.stderr.read()
    assert p.wait(timeout=120) == 75, err
    pde_done, perms, status, attrs = state(out)
    assert status == "interrupted (SIGTERM)" and pde_done and 0 < perms.sum() < perms.size
    with h5py.File(out, "r") as fh, h5py.File(ref, "r") as fr:
        assert fh.attrs["pde_budget_json"] == fr.attrs["pde_budget_json"]
        np.testing.assert_array_equal(fh["pde/F"][()], fr["pde/F"][()])
    r = hpcbelt("run", study, "-o", out, "--restart", "--quiet")
    assert r.returncode == 0, r.stderr
    assert_bitwise_same(ref, out)                                            # budget read back from the file


def test_kill_9_of_a_rank_keeps_what_was_written(tmp_path, reference):
    study, ref = reference
    out = tmp_path / "killed.h5"
    p = start(study, out, ranks=2, until=3)                                  # the first round is complete
    pids = subprocess.run(["pgrep", "-f", "--", f"-o {out}"], capture_output=True, text=True).stdout.split()
    pids = [int(x) for x in pids if int(x) != p.pid]
    assert pids, "no rank process found"
    os.kill(pids[-1], signal.SIGKILL)
    p.stderr.read()
    assert p.wait(timeout=120) != 0
    pde_done, perms, status, _ = state(out)                                  # the file still opens and reads
    assert status == "running" and perms.sum() > 0
    with h5py.File(out, "r") as fh, h5py.File(ref, "r") as fr:               # what is marked done is complete
        for p_ in np.flatnonzero(perms):
            for name in ("F", "probe_F", "number_in_grid", "permutation"):
                np.testing.assert_array_equal(fh["particles"][name][p_], fr["particles"][name][p_])
        if pde_done:
            for name in ("pde/F", "pde/probe_F", "radial/F", "pde/budget_json"):
                np.testing.assert_array_equal(fh[name][()], fr[name][()])
    wait_until_gone(pids)                                                    # the old ranks hold the lock
    r = hpcbelt("run", study, "-o", out, "--restart", "--quiet", ranks=2)
    assert r.returncode == 0, r.stderr
    assert_bitwise_same(ref, out)


def one_line_error(r, *words):
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("hpcbelt: error:"), r.stderr
    for w in words:
        assert w in lines[0], r.stderr


def test_restart_refuses_other_study_version_kind_or_file(tmp_path, reference):
    study, ref = reference
    before = ref.read_bytes()
    other = make_slow_study(tmp_path / "other", **{"seed = 5": "seed = 6"})
    one_line_error(hpcbelt("run", other, "-o", ref, "--restart"), "different study", "seed: file has 5, study has 6")
    other = make_slow_study(tmp_path / "other2", **{"n_mlt = 48": "n_mlt = 24"})
    one_line_error(hpcbelt("run", other, "-o", ref, "--restart"), "different study", "grid.n_mlt")
    assert ref.read_bytes() == before

    pitch = tmp_path / "pitch.h5"                        # a run file of the other study kind
    with h5py.File(pitch, "w") as fh:
        fh.attrs["kind"] = "pitch_angle"
    one_line_error(hpcbelt("run", study, "-o", pitch, "--restart"), "not a drift-diffusion run file",
                   "'pitch_angle'")
    text = tmp_path / "notes.h5"
    text.write_text("not HDF5\n")
    r = hpcbelt("run", study, "-o", text, "--restart", "--quiet", ranks=2, timeout=120)
    assert r.returncode == 2 and "not a readable HDF5 file" in r.stderr, r.stderr
    assert text.read_text() == "not HDF5\n"

    for attr, value, word in (("hpcbelt_version", "0.0.1", "0.0.1"), ("layout_version", 1, "layout 1")):
        old = tmp_path / f"old_{attr}.h5"
        old.write_bytes(before)
        with h5py.File(old, "r+") as fh:
            fh.attrs[attr] = value
        one_line_error(hpcbelt("run", study, "-o", old, "--restart"), "rerun from scratch", word)

    r = hpcbelt("run", study, "-o", ref, "--restart")    # complete already: nothing to do
    assert r.returncode == 0 and "already complete" in r.stderr, r.stderr
    assert ref.read_bytes() == before
