# Shared by the job templates (sourced, not run): start or resume an hpcbelt run so that it
# survives time limits.
#
# hpcbelt_resumable_run LAUNCHER STUDY OUT [more hpcbelt run options]
#   Runs `LAUNCHER hpcbelt run STUDY -o OUT --restart ...` in the background and forwards the
#   signal Slurm sends before the time limit (--signal=B:USR1@N goes to this batch shell only)
#   to it. The run then finishes the members in hand, leaves OUT consistent and exits 75;
#   this function then requeues the job (up to HPCBELT_MAX_REQUEUES times), and the requeued
#   job resumes from OUT. Returns the run's exit code otherwise.

# Slurm may deliver the warning signal at any moment, even before the run has started: record
# it from the moment this file is sourced (templates source it first) and pass it on later.
HPCBELT_STOP=""
HPCBELT_PID=""
_hpcbelt_on_signal() {
    HPCBELT_STOP=$1
    echo "hpcbelt job: SIG$1 received (time limit near): asking the run to checkpoint"
    [ -n "$HPCBELT_PID" ] && kill -USR1 "$HPCBELT_PID" 2>/dev/null || true
}
trap '_hpcbelt_on_signal USR1' USR1
trap '_hpcbelt_on_signal TERM' TERM

hpcbelt_resumable_run() {
    local launcher=$1 study=$2 out=$3
    shift 3
    echo "hpcbelt job ${SLURM_JOB_ID:-?} (restart ${SLURM_RESTART_COUNT:-0}) on $(hostname): $study -> $out"
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
    # 75: the run checkpointed and stopped.  A run killed by the very signal we forwarded (it
    # came before the run had installed its handlers, e.g. right at a restart) wrote nothing
    # inconsistent either: finished members are flagged in the file.  Both resume after a requeue.
    if [ "$rc" -eq 75 ] || { [ -n "$HPCBELT_STOP" ] && [ "$rc" -gt 128 ]; }; then
        if [ "${SLURM_RESTART_COUNT:-0}" -lt "${HPCBELT_MAX_REQUEUES:-20}" ]; then
            local id=${SLURM_JOB_ID}
            [ -n "${SLURM_ARRAY_JOB_ID:-}" ] && id="${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
            echo "hpcbelt job: checkpoint written; requeueing $id to resume"
            scontrol requeue "$id"
            sleep 300   # the requeue ends this job; never reached in practice
        fi
        echo "hpcbelt job: interrupted and requeue limit reached; resume by resubmitting" >&2
    fi
    return "$rc"
}
