"""The study contract holds: a third study kind, added in the test tree only (``decay/``) with one
registration call, runs under ``mpirun -n 3``, stops on a signal, restarts, and aggregates --
through the same ``hpcbelt run`` / ``hpcbelt aggregate`` code as the shipped kinds."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
RUN = [sys.executable, str(HERE / "run_decay.py")]

STUDY = """\
kind = "decay"
seed = 5
title = "third kind"

[decay]
members = {members}
rate_per_s = 1e-3
spread = 0.5
duration_s = 3600.0
output_every_s = 600.0
dt_s = 10.0
pause_s = {pause}
"""


def env():
    e = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
             OMPI_MCA_rmaps_base_oversubscribe="1")
    e.pop("HPCBELT_IO", None)
    return e


def hpcbelt(*args, ranks=None, **kw):
    cmd = RUN + [str(a) for a in args]
    if ranks:
        cmd = ["mpirun", "-n", str(ranks), *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=300, **kw)


def study(tmp_path, members=9, pause=0.0):
    p = tmp_path / "decay.toml"
    p.write_text(STUDY.format(members=members, pause=pause))
    # the same ensemble without the pause: the reference an interrupted run must end up equal to
    (tmp_path / "plain.toml").write_text(STUDY.format(members=members, pause=0.0))
    return p


def y_and_done(path):
    with h5py.File(path, "r") as fh:
        return fh["y"][()], fh["member_done"][()], fh.attrs["status"]


@pytest.fixture(scope="module")
def serial_reference(tmp_path_factory):
    d = tmp_path_factory.mktemp("decay_ref")
    s = study(d)
    out = d / "serial.h5"
    r = hpcbelt("run", s, "-o", out, "--quiet")
    assert r.returncode == 0, r.stderr
    return s, out


def test_third_kind_registered_and_documented(tmp_path):
    r = hpcbelt("keys", "decay")
    assert r.returncode == 0, r.stderr
    assert "decay.rate_per_s [1/s]" in r.stdout
    r = hpcbelt("aggregate", "--help")
    assert "--decay-percentile" in r.stdout and "--alpha-deg" in r.stdout and "--hours" in r.stdout


def test_third_kind_runs_on_3_ranks_like_on_one(tmp_path, serial_reference):
    s, ref = serial_reference
    out = tmp_path / "three.h5"
    r = hpcbelt("run", s, "-o", out, "--quiet", ranks=3)
    assert r.returncode == 0, r.stderr
    y3, done3, status = y_and_done(out)
    y1, done1, _ = y_and_done(ref)
    assert status == "complete" and done3.all()
    np.testing.assert_array_equal(y3, y1)                # streams from (seed, member), not the rank
    with h5py.File(out) as fh:
        k = fh["rate_per_s"][()]
        assert fh.attrs["mpi_size"] == 3 and fh.attrs["kind"] == "decay"
    # RK4 at k dt <= 0.05 against the exact exp(-k t): local error (k dt)^5 / 120 per step
    t = np.arange(7) * 600.0
    np.testing.assert_allclose(y3, np.exp(-k[:, None] * t[None, :]), rtol=1e-7)


def test_third_kind_stops_on_sigterm_restarts_and_aggregates(tmp_path):
    s = study(tmp_path, members=24, pause=0.3)         # 8 rounds of 0.3 s on 3 ranks
    out = tmp_path / "interrupted.h5"
    p = subprocess.Popen(["mpirun", "-n", "3", *RUN, "run", str(s), "-o", str(out)], stderr=subprocess.PIPE,
                         text=True, env=env())
    first = p.stderr.readline()            # the first progress line: a round is done
    assert "members [" in first, first + p.stderr.read()
    p.send_signal(signal.SIGTERM)          # mpirun forwards it to every rank
    err = p.stderr.read()
    p.wait(timeout=120)
    y, done, status = y_and_done(out)
    assert status == "interrupted (SIGTERM)", err
    assert 0 < done.sum() < done.size
    r = hpcbelt("run", s, "-o", out, "--restart", "--quiet", ranks=2)
    assert r.returncode == 0, r.stderr
    y, done, status = y_and_done(out)
    assert status == "complete" and done.all()
    ref24 = tmp_path / "reference.h5"
    assert hpcbelt("run", s.parent / "plain.toml", "-o", ref24, "--quiet").returncode == 0
    np.testing.assert_array_equal(y, y_and_done(ref24)[0])   # bitwise the uninterrupted run
    summary = tmp_path / "summary.h5"
    r = hpcbelt("aggregate", out, "-o", summary, "--figures", tmp_path / "figs", "--decay-percentile", "75",
                "--quiet", ranks=3)
    assert r.returncode == 0, r.stderr
    with h5py.File(summary) as fh:
        assert fh.attrs["source_kind"] == "decay" and fh.attrs["mpi_size"] == 3
        np.testing.assert_array_equal(fh["y_median"][()], np.median(y, axis=0))
        np.testing.assert_allclose(fh["y_upper"][()], np.percentile(y, 75, axis=0), rtol=1e-15)
    assert (tmp_path / "figs" / "decay_median.png").stat().st_size > 0
    assert "final median y" in summary.with_suffix(".md").read_text()


def test_third_kind_bad_input_is_one_line_exit_2(tmp_path):
    s = study(tmp_path)
    s.write_text(s.read_text().replace("dt_s = 10.0", "dt_s = 7.0"))
    r = hpcbelt("run", s, "-o", tmp_path / "x.h5", ranks=3)
    assert r.returncode == 2
    ours = [line for line in r.stderr.splitlines() if line.startswith("hpcbelt")]   # not mpirun's own text
    assert ours == [f"hpcbelt: error: {s}: decay.dt_s: expected a divisor of output_every_s"]
    assert not (tmp_path / "x.h5").exists()
