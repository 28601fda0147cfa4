"""Issue 11, class 1: one writer per run file.

``hpcbelt run`` holds the lock ``.OUT.lock`` beside OUT from before it first looks at OUT to the
end of the run.  Every fault here is real: a second ``hpcbelt run`` process (under ``mpirun -n
3``) started while the first writes, two runs started together, a run killed with SIGKILL, a
lock written by a process on another host or by a PID that has since been reused.
"""

import json
import os
import signal
import socket

import numpy as np
import pytest

from hpcbelt import guard

from .decay_runs import (decay_study, members_done, ours, run, snapshot, start, wait_for,
                         y_done_status)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted result every writer test must end up equal to."""
    d = tmp_path_factory.mktemp("single_writer_ref")
    out = d / "ref.h5"
    r = run("run", decay_study(d, members=9), "-o", out, "--quiet")
    assert r.returncode == 0, r.stderr
    return y_done_status(out)[0]


def test_lock_file_is_beside_the_output_and_gone_after_the_run(tmp_path, reference):
    out = tmp_path / "run.h5"
    r = run("run", decay_study(tmp_path), "-o", out, "--quiet")
    assert r.returncode == 0, r.stderr
    assert guard.lock_path(out) == tmp_path / ".run.h5.lock"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decay.toml", "run.h5"]
    np.testing.assert_array_equal(y_done_status(out)[0], reference)


def test_restart_while_the_first_run_writes_is_refused_under_mpirun(tmp_path):
    plain = tmp_path / "plain.h5"
    assert run("run", decay_study(tmp_path, "plain.toml", members=18), "-o", plain, "--quiet").returncode == 0
    reference18 = y_done_status(plain)[0]
    # 6 rounds of 2 s on 3 ranks: the refused restart (an mpirun of 3 ranks on this 2-core
    # machine, about 3-5 s of start-up under load) must end while the first run still writes;
    # with 1 s rounds it once did not, under a loaded machine
    s = decay_study(tmp_path, members=18, pause=2.0)
    out = tmp_path / "run.h5"
    first = start("run", s, "-o", out, "--quiet", ranks=3)
    try:
        lock = guard.lock_path(out)
        wait_for(lambda: lock.exists() and members_done(out) >= 1 or first.poll() is not None,
                 what="the first run's first member")
        assert first.poll() is None, first.communicate()[1]
        holder = guard.read_lock(lock)
        assert holder["host"] == socket.gethostname()
        os.kill(holder["pid"], 0)                           # rank 0 of the first run
        second = run("run", s, "-o", out, "--restart", "--quiet", ranks=3)
        assert second.returncode == 2, second.stderr
        assert ours(second.stderr) == [
            f"hpcbelt: error: output {out}: it is being written by host {holder['host']}, PID "
            f"{holder['pid']}, started {holder['start_time']}; one writer at a time: wait for that "
            "run to end"], second.stderr
        assert first.poll() is None, "the refused restart outlived the first run: test too slow"
        _, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err
    y, done, status = y_done_status(out)
    assert status == "complete" and done.all()
    np.testing.assert_array_equal(y, reference18)           # bitwise the uninterrupted run
    assert not guard.lock_path(out).exists()


def test_two_plain_runs_on_one_path_exactly_one_writes(tmp_path, reference):
    s = decay_study(tmp_path, members=9, pause=0.4)
    out = tmp_path / "run.h5"
    procs = [start("run", s, "-o", out, "--overwrite", "--quiet") for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(rc for rc, _ in results)
    assert codes == [0, 2], results
    loser = next(err for rc, err in results if rc == 2)
    assert len(ours(loser)) == 1 and "it is being written by host" in loser, loser
    y, done, status = y_done_status(out)
    assert status == "complete" and done.all()
    np.testing.assert_array_equal(y, reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decay.toml", "run.h5"]   # no stray file


def test_stale_lock_of_a_killed_run_is_recovered_by_restart(tmp_path, reference):
    s = decay_study(tmp_path, members=9, pause=0.4)
    out = tmp_path / "run.h5"
    first = start("run", s, "-o", out, "--quiet", ranks=3)
    lock = guard.lock_path(out)
    try:
        wait_for(lambda: lock.exists() and members_done(out) >= 1 or first.poll() is not None,
                 what="the first run's first member")
        holder = guard.read_lock(lock)
        os.kill(holder["pid"], signal.SIGKILL)              # rank 0 dies: no cleanup at all
        first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert lock.exists() and guard.read_lock(lock)["nonce"] == holder["nonce"]
    assert guard.lock_is_stale(holder)
    r = run("run", s, "-o", out, "--restart", "--quiet", ranks=3)
    assert r.returncode == 0, r.stderr
    assert ours(r.stderr) == [f"hpcbelt: warning: {out}: removed the stale lock {lock} of a run that is "
                              f"no longer running (host {holder['host']}, PID {holder['pid']}, started "
                              f"{holder['start_time']})"], r.stderr
    y, done, status = y_done_status(out)
    assert status == "complete" and done.all()
    np.testing.assert_array_equal(y, reference)
    assert not lock.exists()


def _fake_lock(out, **fields):
    info = {"host": socket.gethostname(), "pid": os.getpid(),
            "pid_start_ticks": guard._proc_start_ticks(os.getpid()),
            "start_time": "2026-01-02T03:04:05+00:00", "nonce": "feedc0de", "launcher": {}}
    info.update(fields)
    guard.lock_path(out).write_text(json.dumps(info))
    return info


@pytest.mark.parametrize("restart", [False, True])
def test_lock_from_another_host_is_never_broken(tmp_path, restart):
    s = decay_study(tmp_path)
    out = tmp_path / "run.h5"
    assert run("run", s, "-o", out, "--quiet").returncode == 0
    before = snapshot(out)
    _fake_lock(out, host="node-elsewhere-17", pid=4242, launcher={"SLURM_JOB_ID": "991"})
    flags = ["--restart"] if restart else ["--overwrite"]
    r = run("run", s, "-o", out, *flags, "--quiet", ranks=3)
    assert r.returncode == 2
    lock = guard.lock_path(out)
    assert ours(r.stderr) == [
        f"hpcbelt: error: output {out}: it is being written by host node-elsewhere-17, PID 4242, "
        f"started 2026-01-02T03:04:05+00:00, Slurm job 991; one writer at a time: wait for that run "
        f"to end; if it is certainly not running on node-elsewhere-17, remove {lock} and run again"]
    assert snapshot(out) == before                           # the refused attempt did not touch OUT
    assert guard.read_lock(lock)["host"] == "node-elsewhere-17"
    lock.unlink()                                            # what the message says to do
    r = run("run", s, "-o", out, "--restart", "--quiet")
    assert r.returncode == 0 and "already complete" in r.stderr, r.stderr


def test_live_holder_on_this_host_is_refused_and_reused_pid_is_stale(tmp_path):
    s = decay_study(tmp_path)
    out = tmp_path / "run.h5"
    _fake_lock(out)                       # held by this very (live) test process
    r = run("run", s, "-o", out, "--quiet")
    assert r.returncode == 2 and "it is being written by host" in r.stderr
    assert not out.exists()
    # the same live PID, but another start time: the PID was reused, the writer is gone
    ticks = guard._proc_start_ticks(os.getpid())
    _fake_lock(out, pid_start_ticks=ticks - 1)
    r = run("run", s, "-o", out, "--quiet")
    assert r.returncode == 0, r.stderr
    assert "removed the stale lock" in r.stderr
    assert not guard.lock_path(out).exists()


def test_lock_released_after_bad_input_and_after_an_interrupt(tmp_path):
    s = decay_study(tmp_path, members=24, pause=0.3)
    out = tmp_path / "run.h5"
    bad = tmp_path / "bad.toml"
    bad.write_text(s.read_text().replace("dt_s = 10.0", "dt_s = 7.0"))
    r = run("run", bad, "-o", out, "--quiet", ranks=3)
    assert r.returncode == 2 and not guard.lock_path(out).exists()
    p = start("run", s, "-o", out, ranks=3)
    first = p.stderr.readline()                # the first progress line: a round is done
    assert "members [" in first, first + p.stderr.read()
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=120)
    assert y_done_status(out)[2] == "interrupted (SIGTERM)"
    assert not guard.lock_path(out).exists()
    r = run("run", s, "-o", out, "--restart", "--quiet", ranks=2)
    assert r.returncode == 0, r.stderr


def test_aggregate_refuses_a_run_file_being_written(tmp_path):
    s = decay_study(tmp_path)
    out = tmp_path / "run.h5"
    assert run("run", s, "-o", out, "--quiet").returncode == 0
    _fake_lock(out)                                          # a live writer holds it
    summary = tmp_path / "run_summary.h5"
    r = run("aggregate", out, "-o", summary, "--quiet", ranks=3)
    assert r.returncode == 2
    assert ours(r.stderr) == [f"hpcbelt: error: {out}: the run file is being written (host "
                              f"{socket.gethostname()}, PID {os.getpid()}, started "
                              "2026-01-02T03:04:05+00:00); aggregate it when that run has ended"]
    assert not summary.exists()
    _fake_lock(out, pid_start_ticks=-5)                     # stale: a killed run's file is aggregated
    r = run("aggregate", out, "-o", summary, "--quiet")
    assert r.returncode == 0, r.stderr
    assert summary.exists()


HOLD = """\
import sys, time
from hpcbelt import guard
from hpcbelt.errors import InputError
try:
    lock = guard.RunLock.acquire(sys.argv[1])
except InputError as exc:
    print("refused:", exc, flush=True)
    sys.exit(2)
print("holds", flush=True)
time.sleep(3)
lock.release()
"""


def test_two_processes_recovering_one_stale_lock_exactly_one_gets_it(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "run.h5"
    for _ in range(3):
        _fake_lock(out, pid_start_ticks=-1)                  # stale: the PID was reused
        procs = [subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(3)]
        results = [(p.wait(timeout=60), p.stdout.read(), p.stderr.read()) for p in procs]
        assert sorted(rc for rc, _, _ in results) == [0, 2, 2], results
        assert sum("removed the stale lock" in err for _, _, err in results) >= 1, results
        assert not guard.lock_path(out).exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == []       # nothing put aside is left
