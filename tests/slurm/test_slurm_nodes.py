"""The job templates on a real 3-node Slurm on this machine, and a node that dies mid-run.

``tools/slurm_local.sh start --nodes 3 --name nodes`` runs one slurmctld and three slurmds
(n1, n2, n3 on 127.0.0.2-4, each with its own host name, spool, TmpFS) *beside* the one-node
cluster the other Slurm tests use: other ports, its own config, reached with SLURM_CONF.  The
one-node cluster is never stopped or changed, so the Slurm test modules run in any order; this
module stops its own cluster at the end.  Three nodes, so that a job of two nodes has a node to
go to when one dies.  Where Slurm cannot be installed these tests skip, except under CI.
Every wait is a bounded poll.
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest

from pitch_angle.helpers import ROOT, hpcbelt, make_study, mpi_env
from pitch_angle.test_run import assert_same_results

SLURM_SCRIPT = ROOT / "tools" / "slurm_local.sh"
NAME = "nodes"
ENV = {"SLURM_CONF": f"/run/hpcbelt-slurm-{NAME}/slurm.conf"}


def local_slurm(*args, timeout=120):
    return subprocess.run(["bash", str(SLURM_SCRIPT), *args, "--name", NAME], capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def nodes():
    r = local_slurm("start", "--nodes", "3", timeout=600)
    if r.returncode == 3 and os.environ.get("CI", "").lower() not in ("1", "true"):
        pytest.skip(f"Slurm cannot be installed here: {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr
    yield ENV
    local_slurm("stop")


def slurm(*cmd) -> str:
    r = subprocess.run(list(cmd), capture_output=True, text=True, timeout=30, env={**os.environ, **ENV})
    return r.stdout


def job_state(job_id: str) -> dict:
    return dict(re.findall(r"(\w+)=(\S+)", slurm("scontrol", "show", "job", job_id)))


def node_state(node: str) -> str:
    return slurm("sinfo", "-h", "-n", node, "-o", "%T").strip()


def hostnames(nodelist: str) -> list[str]:
    return slurm("scontrol", "show", "hostnames", nodelist).split()


def poll(what, check, timeout):
    """Call ``check()`` every 0.2 s until it returns something true; return it (fail after timeout)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"{what}: not after {timeout} s")


def finished(job_id: str, timeout=300) -> dict:
    """Wait until the job is neither pending nor running (a requeued job pends a while)."""
    def done():
        st = job_state(job_id)
        return st if st.get("JobState") not in ("PENDING", "RUNNING", "COMPLETING", "CONFIGURING",
                                                "REQUEUED", None) else None
    return poll(f"job {job_id}", done, timeout)


def submit(*args):
    r = hpcbelt("submit", *args, env=ENV)
    assert r.returncode == 0, r.stderr
    return dict(line.split() for line in r.stdout.splitlines() if line.strip())


def members_done(path) -> int:
    """Finished members of the first experiment, read while the run may be writing the file."""
    try:
        with h5py.File(path, "r", locking=False) as fh:
            return int(fh["drand_1h/member_done"][()].sum())
    except (OSError, KeyError):
        return 0


def progressing(job_id: str, path, before: int) -> bool:
    """True once the run has more finished members than ``before``; fails if the job stopped."""
    if members_done(path) > before:
        return True
    st = job_state(job_id)
    assert st.get("JobState") == "RUNNING", st
    return False


def running_start(job_id: str, start: int) -> dict | None:
    """The job's state once its start number ``start`` (0: first, 1: after one requeue) runs."""
    st = job_state(job_id)
    return st if st.get("JobState") == "RUNNING" and int(st.get("Restarts", -1)) == start else None


def slurmd_log(node: str) -> str:
    return (Path(f"/run/hpcbelt-slurm-{NAME}") / f"slurmd.{node}.log").read_text()


def test_two_nodes_two_tasks_each_identical_to_one_rank_then_aggregation(nodes, tmp_path):
    study = make_study(tmp_path, days=1.0, dalpha=3.0, members=4)
    # 4 tasks on 2 nodes of one CPU each: the site lets tasks share a CPU (sbatch --overcommit;
    # --ntasks-per-node 2 would ask for 2 CPUs per node, which these nodes do not have)
    site = tmp_path / "site.toml"
    site.write_text((ROOT / "jobs" / "site.toml").read_text().replace("extra = []", 'extra = ["--overcommit"]'))
    out = tmp_path / "out"
    ids = submit(study, "--nodes", "2", "-n", "4", "--time", "5", "--out-dir", out, "--site", site)
    run, agg = finished(ids["run"]), finished(ids["aggregate"])
    assert run["JobState"] == "COMPLETED", run
    assert agg["JobState"] == "COMPLETED", agg                 # afterok: after the 2-node run
    used = hostnames(run["NodeList"])
    assert len(used) == 2, run
    # the run's MPI step had tasks on both nodes: each node's slurmd launched its part
    for node in used:
        assert f"launch task StepId={ids['run']}.0 " in slurmd_log(node), node
    log = "".join(p.read_text() for p in (out / "slurm").glob("study-*.log"))
    assert f"nodes {run['NodeList']}" in log, log
    with h5py.File(out / "study.h5") as fh:
        assert fh.attrs["mpi_size"] == 4 and fh.attrs["parallel_io"] == "mpio"
        assert fh.attrs["status"] == "complete"
    local = hpcbelt("run", study, "-o", tmp_path / "local.h5", "--quiet")
    assert local.returncode == 0, local.stderr
    assert_same_results(tmp_path / "local.h5", out / "study.h5")
    assert (out / "study_summary.h5").is_file() and (out / "study_summary.md").is_file()


def test_nodes_killed_mid_run_requeue_and_resume_identical(nodes, tmp_path):
    """Two node deaths in one job, each a real SIGKILL of the node's slurmd, slurmstepds and
    ranks.  First the node of rank 1: rank 0 survives it, hangs, is killed by Slurm, and its lock
    (same host, dead PID) is recovered by `hpcbelt run` itself.  Then the node of rank 0 and of
    the batch script: the job comes back on other hosts, and the template removes the lock its
    own earlier start left there.  Slurm requeues the job each time (NODE_FAIL, --requeue), the
    restarts resume with --restart and the result is bitwise that of an uninterrupted run.
    Slurm requeues the job when the node goes DOWN because the templates ask for --requeue
    (without it the job would end in state NODE_FAIL)."""
    study = make_study(tmp_path, method="explicit", dalpha=1.0, days=1.0, members=200, dt=0.05)
    out = tmp_path / "out"
    ids = submit(study, "--nodes", "2", "--time", "10", "--out-dir", out, "--no-aggregate")
    job = ids["run"]
    # the uninterrupted reference, computed while the cluster mostly waits for Slurm
    ref = subprocess.Popen([sys.executable, "-m", "hpcbelt", "run", str(study), "-o", str(tmp_path / "ref.h5"),
                            "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env=mpi_env())
    killed, times = [], {}
    t0 = time.monotonic()
    try:
        for start, victim_index in ((0, 1), (1, 0)):
            # this start of the job is running and has finished members of its own
            st = poll(f"start {start} running", lambda: running_start(job, start), 120)
            before = members_done(out / "study.h5")
            poll(f"start {start} progressing", lambda: progressing(job, out / "study.h5", before), 120)
            used = hostnames(st["NodeList"])
            victim = used[victim_index]
            t_kill = time.monotonic()
            r = local_slurm("kill-node", victim)
            assert r.returncode == 0, r.stderr
            killed.append(victim)
            assert members_done(out / "study.h5") < 200           # killed mid-run
            poll(f"{victim} down", lambda: node_state(victim).startswith("down"), 60)
            times[f"kill {victim} -> down"] = time.monotonic() - t_kill
            poll(f"job requeued ({start + 1})", lambda: int(job_state(job).get("Restarts", 0)) > start, 60)
            times[f"kill {victim} -> requeued"] = time.monotonic() - t_kill
            if start == 0:
                # the first victim returns once its slurmd is started again (ReturnToService=2)
                r = local_slurm("start-node", victim)
                assert r.returncode == 0, r.stderr
                assert node_state(victim) == "idle"
        final = finished(job)
        times["job total"] = time.monotonic() - t0
    except BaseException:
        ref.kill()
        raise
    finally:
        for node in killed:                 # leave every node up for the other tests
            local_slurm("start-node", node)
    print("timings (s):", {k: round(v, 1) for k, v in times.items()})
    assert final["JobState"] == "COMPLETED" and int(final["Restarts"]) == 2, final
    assert killed[1] not in hostnames(final["NodeList"]), final
    log = "".join(p.read_text() for p in (out / "slurm").glob("study-*.log"))
    assert log.count("DUE TO NODE FAILURE") >= 2, log
    # the first dead start's lock: this host, dead PID (hpcbelt run recovers it itself)
    assert "removed the stale lock" in log, log
    if re.search(r"NodeHostName=n1\b", slurm("scontrol", "show", "node", "n1")):
        # the second's: another host (every node has its own host name), the template's to clear
        assert f"left by this job's earlier start on host {killed[1]}" in log, log
    else:                       # no UTS namespaces here: one host name, both locks are this host's
        assert log.count("removed the stale lock") == 2, log
    with h5py.File(out / "study.h5") as fh:
        assert fh.attrs["status"] == "complete" and fh.attrs["restarts"] >= 2
    assert ref.wait(timeout=300) == 0, ref.stdout.read()
    assert_same_results(tmp_path / "ref.h5", out / "study.h5")
    assert node_state(killed[1]) == "idle"


def test_node_options_in_the_rendered_script(tmp_path):
    study = make_study(tmp_path, days=0.5)
    r = hpcbelt("submit", study, "--nodes", "2", "--ntasks-per-node", "3", "--dry-run", "--out-dir", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    run_script = r.stdout.split("-aggregate.sbatch")[0]
    for line in ("#SBATCH --ntasks=6 ", "#SBATCH --nodes=2 ", "#SBATCH --ntasks-per-node=3 ",
                 'hpcbelt_resumable_run "srun --mpi=pmix"'):
        assert line in run_script, (line, run_script)
    r = hpcbelt("submit", study, "--nodes", "2", "-n", "5", "--ntasks-per-node", "3", "--dry-run")
    assert r.returncode == 2 and "--ntasks 5" in r.stderr and "6 tasks" in r.stderr, r.stderr
    r = hpcbelt("submit", study, "--nodes", "3", "-n", "2", "--dry-run")
    assert r.returncode == 2 and "fewer tasks than --nodes 3" in r.stderr, r.stderr
