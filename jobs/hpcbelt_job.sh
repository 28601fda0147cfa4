# Shared by the job templates (sourced, not run): start or resume an hpcbelt run so that it
# survives time limits and node failures.
#
# hpcbelt_resumable_run LAUNCHER STUDY OUT [more hpcbelt run options]
#   Runs `LAUNCHER hpcbelt run STUDY -o OUT --restart ...` in the background and forwards the
#   signal Slurm sends before the time limit (--signal=B:USR1@N goes to this batch shell only)
#   to it. The run then finishes the members in hand, leaves OUT consistent and exits 75;
#   this function then requeues the job (up to HPCBELT_MAX_REQUEUES times), and the requeued
#   job resumes from OUT.
#   The outcome is read from OUT itself (`hpcbelt status`, see hpcbelt_outcome), not from the
#   launcher's exit code alone: mpirun exits 1 when it is itself sent SIGTERM or SIGINT even
#   though every rank checkpointed and exited 75.  Returns 0 when OUT is complete, else the
#   run's exit code (2: bad input, nothing was touched).
#   A node that dies is Slurm's to handle: the templates ask for --requeue, so Slurm requeues
#   the job once the node is DOWN (the ranks left on other nodes hang in MPI until Slurm kills
#   them), and the job starts again from OUT like after a time limit; on such a restart
#   hpcbelt_clear_lock_of_earlier_start removes the lock the dead start left on another host.

# Slurm may deliver the warning signal at any moment, even before the run has started: record
# it from the moment this file is sourced (templates source it first) and pass it on later.
HPCBELT_STOP=""
HPCBELT_PID=""
_hpcbelt_on_signal() {
    HPCBELT_STOP=$1
    echo "hpcbelt job: SIG$1 received (time limit near, or the job is ending): asking the run to checkpoint"
    [ -n "$HPCBELT_PID" ] && kill -USR1 "$HPCBELT_PID" 2>/dev/null || true
}
trap '_hpcbelt_on_signal USR1' USR1
trap '_hpcbelt_on_signal TERM' TERM

# hpcbelt_outcome RC OUT: what to do after the launcher returned RC, from `hpcbelt status OUT`
# (exit 0 complete, 75 resumable, 2 no run file).  Prints "done", "requeue" or "fail".
#   done     OUT is complete (whatever the launcher's own code, e.g. a signal after the last member)
#   requeue  the ranks agreed to stop (status "interrupted (...)"), or a stop signal reached the
#            job and the run died of it before its handlers were up (nothing finished is lost)
#   fail     bad input (RC 2), a crash, or no run file without a stop signal
hpcbelt_outcome() {
    local rc=$1 out=$2 line st=0 waited=0
    if [ "$rc" -eq 2 ]; then echo fail; return 0; fi
    line=$(hpcbelt status "$out" 2>&1) || st=$?
    # exit 3 (running: a live process holds the run's lock): a rank of this run may still be
    # exiting after the launcher returned; give it a minute to let go before deciding
    while [ "$st" -eq 3 ] && [ "$waited" -lt 60 ]; do
        sleep 1; waited=$((waited + 1)); st=0
        line=$(hpcbelt status "$out" 2>&1) || st=$?
    done
    echo "hpcbelt job: launcher exit $rc; hpcbelt status: $line (exit $st)" >&2
    if [ "$st" -eq 0 ]; then
        echo done
    elif [ "$st" -eq 75 ] && { [ "$rc" -eq 75 ] || [ -n "$HPCBELT_STOP" ] || [[ "$line" == *": interrupted ("* ]]; }; then
        echo requeue
    elif [ -n "$HPCBELT_STOP" ] && { [ "$st" -eq 75 ] || [ "$st" -eq 2 ]; }; then
        echo requeue
    else
        echo fail
    fi
}

# hpcbelt_clear_lock_of_earlier_start OUT
#   A job that Slurm requeued because a node failed (NODE_FAIL: the templates ask for
#   --requeue) may start again on other nodes.  If the node that died held rank 0, the run's
#   lock .OUT.lock names that node's host, and `hpcbelt run` never breaks a lock from another
#   host (it cannot see whether that PID is gone).  This job can: a lock that records this very
#   job id, found when this job starts again (SLURM_RESTART_COUNT > 0) and before it starts
#   its run, was left by an earlier start of this job, which Slurm ended before requeueing it.
#   Such a lock is removed, with one line in the log.  A lock from this host is left to
#   `hpcbelt run` (it checks the PID itself), and any other lock is never touched.
hpcbelt_clear_lock_of_earlier_start() {
    [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ] && [ -n "${SLURM_JOB_ID:-}" ] || return 0
    local py
    py=$(command -v python3 || command -v python) || return 0
    "$py" - "$1" "$SLURM_JOB_ID" <<'PY' || true
import json, os, socket, sys
from pathlib import Path

out, job = Path(sys.argv[1]), sys.argv[2]
lock = out.with_name(f".{out.name}.lock")


def read(path):
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


info = read(lock)
if (info is None or (info.get("launcher") or {}).get("SLURM_JOB_ID") != job
        or info.get("host") == socket.gethostname()):
    sys.exit(0)
aside = lock.with_name(f"{lock.name}.{socket.gethostname()}.{os.getpid()}.requeued")
try:
    os.rename(lock, aside)
except OSError:
    sys.exit(0)
again = read(aside)
if again is not None and again.get("nonce") == info.get("nonce"):
    aside.unlink()
    print(f"hpcbelt job: removed the lock {lock} left by this job's earlier start on host "
          f"{info.get('host')} (PID {info.get('pid')}): Slurm requeued the job after that start ended",
          flush=True)
else:                       # someone took the lock in between: give it back
    try:
        os.link(aside, lock)
    except OSError:
        pass
    aside.unlink()
PY
}

hpcbelt_resumable_run() {
    local launcher=$1 study=$2 out=$3
    shift 3
    echo "hpcbelt job ${SLURM_JOB_ID:-?} (restart ${SLURM_RESTART_COUNT:-0}) on $(hostname), nodes ${SLURM_JOB_NODELIST:-?}: $study -> $out"
    hpcbelt_clear_lock_of_earlier_start "$out"
    # word splitting of $launcher is intended: "srun --mpi=pmix" is a command and its options
    $launcher hpcbelt run "$study" -o "$out" --restart --quiet "$@" &
    local pid=$! rc
    HPCBELT_PID=$pid
    # a signal that came while starting: forward it now (the run checkpoints at once)
    [ -n "$HPCBELT_STOP" ] && kill -USR1 "$pid" 2>/dev/null || true
    set +e
    wait "$pid"; rc=$?
    # wait returns early when a trapped signal arrives: wait again for the run's own status
    while kill -0 "$pid" 2>/dev/null; do wait "$pid"; rc=$?; done
    set -e
    HPCBELT_PID=""
    # The run file decides (hpcbelt_outcome).  A run that checkpointed says "interrupted"; a run
    # killed by the very signal we forwarded (it came before the run had installed its handlers,
    # e.g. right at a restart) wrote nothing inconsistent either: finished members are flagged
    # in the file, or there is no file yet.  Both resume after a requeue.
    local outcome
    outcome=$(hpcbelt_outcome "$rc" "$out")
    if [ "$outcome" = done ]; then
        return 0
    fi
    if [ "$outcome" = requeue ]; then
        if [ "${SLURM_RESTART_COUNT:-0}" -lt "${HPCBELT_MAX_REQUEUES:-20}" ]; then
            local id=${SLURM_JOB_ID}
            [ -n "${SLURM_ARRAY_JOB_ID:-}" ] && id="${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
            echo "hpcbelt job: checkpoint written; requeueing $id to resume"
            scontrol requeue "$id"
            sleep 300   # the requeue ends this job; never reached in practice
        fi
        echo "hpcbelt job: interrupted and requeue limit reached; resume by resubmitting" >&2
        [ "$rc" -ne 0 ] || rc=75
    fi
    [ "$rc" -ne 0 ] || rc=1     # launcher said 0 but the file is not complete
    return "$rc"
}
