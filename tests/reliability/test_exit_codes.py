"""Issue 11, class 7: exit codes a script can trust.  ``hpcbelt status RUN.h5`` says 0 complete,
3 running (the run's lock is held by a live process, or by one on another host), 75 interrupted
or unfinished (resume with --restart; the stale lock of a killed run is named), 2 not a run
file; the job templates decide from it rather than from the launcher's code (mpirun exits 1
when it is itself sent SIGTERM or SIGINT although every rank checkpointed and exited 75).  Under
``mpirun -n 3`` verify and status print their lines once.  Real runs under ``mpirun -n 3``, real
signals; the template function runs in bash with a stand-in for ``scontrol`` (no Slurm needed)."""

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest

from hpcbelt import guard

from .decay_runs import DECAY, env

ROOT = Path(__file__).resolve().parents[2]
JOB_SH = ROOT / "jobs" / "hpcbelt_job.sh"

# ``hpcbelt`` with the test-only decay kind and the status/verify sub-commands (registered here
# if cli.py does not register them yet)
CLI = f"""
import argparse, sys
sys.path.insert(0, {str(ROOT / "tests" / "studies")!r})
import decay  # noqa: F401  (registers kind = "decay")
from hpcbelt import cli, runcheck
_build = cli.build_parser
def build():
    p = _build()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    if "status" not in sub.choices:
        runcheck.register(sub)
    return p
cli.build_parser = build
"""



@pytest.fixture
def bin_dir(tmp_path):
    """A directory with an ``hpcbelt`` executable (the runner above) and a stand-in ``scontrol``."""
    d = tmp_path / "bin"
    d.mkdir()
    runner = d / "hpcbelt_runner.py"
    runner.write_text(CLI + "sys.exit(cli.main(sys.argv[1:]))\n")
    exe = d / "hpcbelt"
    exe.write_text(f"#!/bin/sh\nexec {sys.executable} {runner} \"$@\"\n")
    # scontrol requeue: record it, then end the job as Slurm's requeue would
    sc = d / "scontrol"
    sc.write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path / 'scontrol.log'}\nkill -9 $PPID\n")
    for p in (exe, sc):
        p.chmod(p.stat().st_mode | stat.S_IXUSR)
    return d


def study(tmp_path, members=24, pause=0.4):
    p = tmp_path / "decay.toml"
    p.write_text(DECAY.format(members=members, pause=pause))
    return p


def hpcbelt(bin_dir, *args, ranks=None):
    cmd = [str(bin_dir / "hpcbelt"), *map(str, args)]
    if ranks:
        cmd = ["mpirun", "-n", str(ranks), *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=300)


def start(bin_dir, *args, ranks=3):
    cmd = ["mpirun", "-n", str(ranks), str(bin_dir / "hpcbelt"), *map(str, args)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())


def wait_for_members(path, n, timeout=60):
    """Wait until the run file exists (created under a temporary name, then renamed) and the
    progress says n members are done (stderr is read by the caller; this polls the file)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if path.exists():
            try:
                with h5py.File(path, "r", locking=False) as fh:
                    if int(fh["member_done"][()].sum()) >= n:
                        return
            except OSError:
                pass
        time.sleep(0.1)
    raise AssertionError(f"{path}: {n} members not done within {timeout} s")


def test_status_complete_interrupted_and_not_a_run_file(tmp_path, bin_dir):
    s = study(tmp_path)
    out = tmp_path / "run.h5"
    p = start(bin_dir, "run", s, "-o", out)
    wait_for_members(out, 3)
    p.send_signal(signal.SIGTERM)                       # what Slurm does to mpirun at a time limit
    _, err = p.communicate(timeout=120)
    assert p.returncode != 0                            # mpirun's own code (1): not to be trusted
    assert "stopped by SIGTERM" in err
    r = hpcbelt(bin_dir, "status", out)
    assert r.returncode == 75, r.stdout + r.stderr
    (line,) = r.stdout.splitlines()
    assert line.startswith(f"{out}: interrupted (SIGTERM): ") and "resume with 'hpcbelt run --restart'" in line
    r = hpcbelt(bin_dir, "run", s, "-o", out, "--restart", "--quiet", ranks=3)
    assert r.returncode == 0, r.stderr
    r = hpcbelt(bin_dir, "status", out)
    assert r.returncode == 0 and r.stdout == f"{out}: complete: 24/24 work items finished (member_done 24/24)\n"
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"\x89HDF\r\n" + b"\0" * 100)
    for path in (junk, tmp_path / "missing.h5", s):
        r = hpcbelt(bin_dir, "status", path)
        assert r.returncode == 2 and r.stdout == "" and len(r.stderr.splitlines()) == 1, r.stderr
        assert r.stderr.startswith(f"hpcbelt: error: {path}: ")


def test_status_of_a_running_then_killed_run(tmp_path, bin_dir):
    """A real run holds its lock: status says running (3), once and with the same code on 3
    ranks too.  After kill -9 the lock is stale: resumable (75), the stale lock named."""
    s = study(tmp_path, members=40, pause=0.5)           # 20 s if left alone: killed long before
    out = tmp_path / "run.h5"
    p = subprocess.Popen([str(bin_dir / "hpcbelt"), "run", str(s), "-o", str(out), "--quiet"], env=env())
    try:
        wait_for_members(out, 2)
        holder = guard.read_lock(guard.lock_path(out))
        assert holder["pid"] == p.pid
        r = hpcbelt(bin_dir, "status", out)
        assert r.returncode == 3, r.stdout + r.stderr
        (line,) = r.stdout.splitlines()
        assert line.startswith(f"{out}: running: the lock {guard.lock_path(out)} is held by a live process "
                               f"(host {holder['host']}, PID {p.pid}, started {holder['start_time']}"), line
        r = hpcbelt(bin_dir, "status", out, ranks=3)
        assert r.returncode == 3 and r.stdout.splitlines() == [line], r.stdout + r.stderr
        assert p.poll() is None, "the run ended before it was killed: make it longer"
    finally:
        p.kill()                                          # SIGKILL: the lock stays behind
        p.wait(timeout=30)
    assert guard.lock_path(out).exists()
    r = hpcbelt(bin_dir, "status", out)
    assert r.returncode == 75, r.stdout + r.stderr
    (line,) = r.stdout.splitlines()
    assert line.startswith(f"{out}: running: ") and "resume with 'hpcbelt run --restart'" in line, line
    assert line.endswith(f"; the lock {guard.lock_path(out)} is stale (its run, host {holder['host']}, PID {p.pid}, "
                         f"started {holder['start_time']}, is gone) and will be recovered by --restart"), line
    r = hpcbelt(bin_dir, "status", out, ranks=3)
    assert r.returncode == 75 and r.stdout.splitlines() == [line], r.stdout + r.stderr


@pytest.fixture(scope="module")
def complete_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("complete")
    out = d / "run.h5"
    cmd = [sys.executable, str(ROOT / "tests" / "studies" / "run_decay.py"), "run", str(study(d, 6, 0.0)),
           "-o", str(out), "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=120)
    assert r.returncode == 0, r.stderr
    return out


def test_lock_of_another_host_cannot_be_judged(tmp_path, bin_dir, complete_run):
    out = tmp_path / "run.h5"
    out.write_bytes(complete_run.read_bytes())
    lock = guard.lock_path(out)
    lock.write_text(json.dumps({"host": "elsewhere.example", "pid": 4242, "start_time": "2024-05-01T10:00:00+00:00",
                                "launcher": {"SLURM_JOB_ID": "77"}}))
    r = hpcbelt(bin_dir, "status", out)
    assert r.returncode == 3, r.stdout + r.stderr
    (line,) = r.stdout.splitlines()
    assert line.startswith(f"{out}: lock {lock} held by host elsewhere.example, pid 4242: cannot tell from here "
                           "whether it is alive (host elsewhere.example, PID 4242, started 2024-05-01T10:00:00+00:00, "
                           "Slurm job 77)"), line
    assert lock.exists()                                  # status never touches the lock
    lock.write_text("not json")
    r = hpcbelt(bin_dir, "status", out)
    assert r.returncode == 3 and "records no holder" in r.stdout, r.stdout


@pytest.mark.parametrize("command", ["status", "verify"])
def test_verify_and_status_print_once_under_mpirun(bin_dir, complete_run, command):
    lines = {"status": [f"{complete_run}: complete: 6/6 work items finished (member_done 6/6)"],
             "verify": [f"{complete_run}: ok: 6 finished item(s) match their checksums and values"]}[command]
    r = hpcbelt(bin_dir, command, complete_run)
    assert r.returncode == 0 and r.stdout.splitlines() == lines, r.stdout + r.stderr
    r = hpcbelt(bin_dir, command, complete_run, ranks=3)
    assert r.returncode == 0 and r.stdout.splitlines() == lines, r.stdout + r.stderr
    # not a run file: one error line on rank 0, exit 2 from every rank
    r = hpcbelt(bin_dir, command, complete_run.with_name("missing.h5"), ranks=3)
    assert r.returncode == 2 and r.stdout == "", r.stdout + r.stderr
    assert [x for x in r.stderr.splitlines() if x.startswith("hpcbelt")] == [
        f"hpcbelt: error: {complete_run.with_name('missing.h5')}: file not found"], r.stderr


def outcome(bin_dir, rc, out, stop=""):
    """The template's decision (hpcbelt_outcome) after a launcher exit code ``rc``."""
    script = f'source {JOB_SH}\nHPCBELT_STOP="{stop}"\nhpcbelt_outcome {rc} "{out}"\n'
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                       env=env(PATH=f"{bin_dir}:{os.environ['PATH']}"))
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_template_decides_from_the_run_file(tmp_path, bin_dir):
    s = study(tmp_path, members=6, pause=0.0)
    complete = tmp_path / "complete.h5"
    assert hpcbelt(bin_dir, "run", s, "-o", complete, "--quiet").returncode == 0
    interrupted = tmp_path / "interrupted.h5"
    with h5py.File(complete) as a, h5py.File(interrupted, "w") as b:
        for k, v in a.attrs.items():
            b.attrs[k] = v
        b.attrs["status"] = "interrupted (SIGTERM)"
        b["member_done"] = a["member_done"][()] * 0
    running = tmp_path / "running.h5"
    with h5py.File(complete) as a, h5py.File(running, "w") as b:
        for k, v in a.attrs.items():
            b.attrs[k] = v
        b.attrs["status"] = "running"
        b["member_done"] = a["member_done"][()]
        b["member_done"][0] = 0
    missing = tmp_path / "none.h5"
    assert outcome(bin_dir, 0, complete) == "done"
    assert outcome(bin_dir, 1, complete, stop="TERM") == "done"     # a signal after the last member
    assert outcome(bin_dir, 1, interrupted) == "requeue"            # mpirun's 1 after SIGTERM
    assert outcome(bin_dir, 75, interrupted) == "requeue"
    assert outcome(bin_dir, 137, running) == "fail"                 # a crash, no stop asked: fail
    assert outcome(bin_dir, 138, running, stop="USR1") == "requeue"  # killed by the forwarded signal
    assert outcome(bin_dir, 138, missing, stop="USR1") == "requeue"  # ... before the file existed
    assert outcome(bin_dir, 1, missing) == "fail"
    assert outcome(bin_dir, 2, complete) == "fail"                  # bad input: never requeue


def test_template_requeues_after_sigterm_to_mpirun(tmp_path, bin_dir):
    """The whole function: mpirun sent SIGTERM (exit 1) -> the file says interrupted -> requeue."""
    s = study(tmp_path)
    out = tmp_path / "run.h5"
    script = (f'set -euo pipefail\nsource {JOB_SH}\nexport SLURM_JOB_ID=4242\n'
              f'hpcbelt_resumable_run "mpirun -n 3" "{s}" "{out}"\n')
    job = subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=env(PATH=f"{bin_dir}:{os.environ['PATH']}"))
    wait_for_members(out, 3)
    mpirun = subprocess.run(["pgrep", "-P", str(job.pid), "-x", "mpirun"], capture_output=True, text=True)
    (pid,) = mpirun.stdout.split()
    os.kill(int(pid), signal.SIGTERM)
    o, e = job.communicate(timeout=120)
    assert (tmp_path / "scontrol.log").read_text() == "requeue 4242\n", o + e
    assert "requeueing 4242" in o
    r = hpcbelt(bin_dir, "status", out)
    assert r.returncode == 75


def test_signal_after_the_run_finished_keeps_exit_0(tmp_path, bin_dir):
    """A stop signal that lands after the last member (here: right after main() returned, while
    the process winds down) must not turn a complete run into a kill by signal."""
    s = study(tmp_path, members=3, pause=0.0)
    out = tmp_path / "run.h5"
    code = (CLI + "import os, signal, time\nrc = cli.main(sys.argv[1:])\n"
            "os.kill(os.getpid(), signal.SIGUSR1)\ntime.sleep(0.5)\nsys.exit(rc)\n")
    r = subprocess.run([sys.executable, "-c", code, "run", str(s), "-o", str(out), "--quiet"],
                       capture_output=True, text=True, env=env(), timeout=120)
    assert hpcbelt(bin_dir, "status", out).returncode == 0
    assert r.returncode == 0, r.stderr
