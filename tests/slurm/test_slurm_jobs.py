"""The job templates on a real one-node Slurm (munge + slurmctld + slurmd on localhost).

tools/slurm_local.sh installs and starts it.  Where Slurm cannot be installed (not root, no
apt) these tests skip with that reason - except under CI (CI=true), where that is a failure.
Every wait is a bounded loop.
"""

import os
import re
import subprocess
import time

import h5py
import pytest

from pitch_angle.helpers import ROOT, hpcbelt, make_study
from pitch_angle.test_run import assert_same_results

SLURM_SCRIPT = ROOT / "tools" / "slurm_local.sh"


@pytest.fixture(scope="module")
def slurm():
    r = subprocess.run(["bash", str(SLURM_SCRIPT), "start"], capture_output=True, text=True, timeout=600)
    if r.returncode == 3 and os.environ.get("CI", "").lower() not in ("1", "true"):
        pytest.skip(f"Slurm cannot be installed here: {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr
    return True


def submit(*args):
    r = hpcbelt("submit", *args)
    assert r.returncode == 0, r.stderr
    ids = dict(line.split() for line in r.stdout.splitlines() if line.strip())
    return ids


def job_state(job_id: str) -> dict:
    out = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True, timeout=30).stdout
    return dict(re.findall(r"(\w+)=(\S+)", out))


def wait_for(job_ids, timeout=400):
    """Poll until no listed job (or array task) is pending or running; return final states.

    A job requeued by its own script waits in PENDING (BeginTime) for cred_expire seconds
    (10 s in tools/slurm_local.sh's configuration) before it starts again.
    """
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        q = subprocess.run(["squeue", "-h", "-o", "%i %T %r", "-j", ",".join(job_ids)],
                           capture_output=True, text=True, timeout=30).stdout.split("\n")
        active = [ln.split() for ln in q if ln.strip()]
        if not active:
            break
        for jid, state, reason in active:
            if state == "PENDING" and reason == "DependencyNeverSatisfied":
                subprocess.run(["scancel", jid], timeout=30)
        time.sleep(1)
    else:
        raise AssertionError(f"jobs {job_ids} still active after {timeout} s")
    return {j: job_state(j) for j in job_ids}


def test_study_on_2_tasks_then_aggregation(slurm, tmp_path):
    study = make_study(tmp_path, days=1.0, dalpha=3.0, members=4)
    out = tmp_path / "out"
    ids = submit(study, "-n", "2", "--time", "5", "--out-dir", out)
    states = wait_for([ids["run"], ids["aggregate"]])
    assert states[ids["run"]]["JobState"] == "COMPLETED", states
    assert states[ids["aggregate"]]["JobState"] == "COMPLETED", states
    with h5py.File(out / "study.h5") as fh:
        assert fh.attrs["mpi_size"] == 2 and fh.attrs["parallel_io"] == "mpio"
        assert fh.attrs["status"] == "complete"
    local = hpcbelt("run", study, "-o", tmp_path / "local.h5", "--quiet")
    assert local.returncode == 0, local.stderr
    assert_same_results(tmp_path / "local.h5", out / "study.h5")
    assert (out / "study_summary.h5").is_file() and (out / "study_summary.md").is_file()


def test_job_array_one_study_per_task(slurm, tmp_path):
    studies = []
    for seed in (1, 2):
        d = tmp_path / f"s{seed}"
        s = make_study(d, days=0.5, dalpha=6.0, members=3, **{"seed = 11": f"seed = {seed}"})
        studies.append(s.rename(d / f"seed{seed}.toml"))
    out = tmp_path / "out"
    ids = submit(*studies, "-n", "1", "--time", "5", "--out-dir", out)
    tasks = [f"{ids['run']}_0", f"{ids['run']}_1"]
    states = wait_for([ids["run"], ids["aggregate"]])
    for t in tasks:
        assert job_state(t)["JobState"] == "COMPLETED", job_state(t)
    assert states[ids["aggregate"]]["JobState"] == "COMPLETED"
    for s in studies:
        local = tmp_path / f"{s.stem}_local.h5"
        assert hpcbelt("run", s, "-o", local, "--quiet").returncode == 0
        assert_same_results(local, out / f"{s.stem}.h5")
        assert (out / f"{s.stem}_summary.h5").is_file()


def test_aggregation_waits_for_success(slurm, tmp_path):
    # the run fails (its database disappears after submission): afterok never fires
    study = make_study(tmp_path, days=0.5, dalpha=6.0, members=2)
    (tmp_path / "db.h5").rename(tmp_path / "gone.h5")
    ids = submit(study, "-n", "1", "--time", "5", "--out-dir", tmp_path / "out")
    t0 = time.monotonic()
    while job_state(ids["run"]).get("JobState") in ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING") \
            and time.monotonic() - t0 < 120:
        time.sleep(1)
    run = job_state(ids["run"])
    assert run["JobState"] == "FAILED" and run["ExitCode"].startswith("2:"), run
    t0 = time.monotonic()                     # the scheduler updates the reason on its next pass
    while job_state(ids["aggregate"]).get("Reason") == "Dependency" and time.monotonic() - t0 < 90:
        time.sleep(1)
    agg = job_state(ids["aggregate"])
    assert agg["JobState"] == "PENDING" and agg["Reason"] == "DependencyNeverSatisfied", agg
    subprocess.run(["scancel", ids["aggregate"]], timeout=30)


def test_time_limit_requeue_resumes_to_identical_result(slurm, tmp_path):
    # ~50 s of work on 2 tasks against a 1-minute limit whose checkpoint signal is asked for
    # 15 s before it: slurmctld sends it at its first limit check (every ~30 s) with less than
    # lead + 30 s left, i.e. 15-45 s into each start (and SIGTERM at the limit would do the same
    # job), always before the work is done: the run checkpoints, the job requeues itself, and
    # later starts, each making progress, finish the remaining members.  (With 1,000 members,
    # ~120 s of work here, it took 5 starts and 392 s; each start makes ~30 s of progress and a
    # requeued job waits ~28 s before it runs again.)
    study = make_study(tmp_path, method="explicit", dalpha=1.0, days=30.0, members=450, dt=0.5)
    out = tmp_path / "out"
    ids = submit(study, "-n", "2", "--time", "1", "--signal-lead", "15", "--out-dir", out, "--no-aggregate")
    states = wait_for([ids["run"]], timeout=900)
    assert states[ids["run"]]["JobState"] == "COMPLETED", states
    log = "".join(p.read_text() for p in (out / "slurm").glob("study-*.log"))
    assert "requeueing" in log and "stopped by SIG" in log, log
    with h5py.File(out / "study.h5") as fh:
        assert fh.attrs["status"] == "complete" and fh.attrs["restarts"] >= 1
    ref = hpcbelt("run", study, "-o", tmp_path / "reference.h5", "--quiet", ranks=2)
    assert ref.returncode == 0, ref.stderr
    assert_same_results(tmp_path / "reference.h5", out / "study.h5")


def test_signal_lead_too_close_to_the_limit_is_refused(tmp_path):
    study = make_study(tmp_path, days=0.5)
    r = hpcbelt("submit", study, "--time", "1", "--signal-lead", "45", "--dry-run")
    assert r.returncode == 2 and "--signal-lead 45" in r.stderr and "at once" in r.stderr
    from hpcbelt.slurm.submit import slurm_minutes
    assert [slurm_minutes(t) for t in ("5", "1:30", "1:00:00", "2-0", "1-2:30", "0-0:0:30")] == \
        [5, 1.5, 60, 2880, 1590, 0.5]


def test_dry_run_prints_commented_scripts(tmp_path):
    study = make_study(tmp_path, days=0.5)
    r = hpcbelt("submit", study, "--dry-run", "--out-dir", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    sbatch_lines = [ln for ln in r.stdout.splitlines() if ln.startswith("#SBATCH")]
    assert sbatch_lines and all("#" in ln[1:] for ln in sbatch_lines)       # every line commented
    assert "$ sbatch --parsable" in r.stdout and "--dependency=afterok:" in r.stdout
    assert "@@" not in r.stdout.replace("USR1@", "")
    assert not (tmp_path / "out").exists()                                    # nothing written
