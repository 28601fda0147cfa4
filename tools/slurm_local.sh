#!/usr/bin/env bash
# A real one-node Slurm on this machine (munge + slurmctld + slurmd on localhost), for the job
# template tests and for trying the templates by hand.  Needs root and Debian's packages.
#
#   tools/slurm_local.sh start    install if needed, write the config, start the daemons, wait
#   tools/slurm_local.sh stop     stop the daemons (by pid)
#   tools/slurm_local.sh status   print sinfo
#
# Exit codes: 0 ok; 3 Slurm cannot be installed here (not root, or no apt); 1 other failure.
# Everything lives under /run/hpcbelt-slurm (pids, logs) and /etc/slurm (config).
set -euo pipefail
STATE=/run/hpcbelt-slurm
CONF=/etc/slurm/slurm.conf
mkdir -p "$STATE" 2>/dev/null || true

log() { echo "slurm_local: $*" >&2; }

install() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
       && command -v sbatch >/dev/null; then
        return 0
    fi
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        log "cannot install Slurm: needs root and apt-get"
        exit 3
    fi
    log "installing slurmctld slurmd slurm-client munge"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null
}

alive() {  # pid file -> true if the process exists and is not a zombie
    local pid
    [ -f "$1" ] || return 1
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null
}

wait_for() {  # seconds command...
    local n=$1; shift
    for _ in $(seq 1 $((n * 10))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

node_ready() {
    timeout 5 sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated|completing)'
}

write_config() {
    local host node mem
    host=$(hostname -s)
    # the node line as slurmd detects it (CPUs, boards, sockets, cores, threads), with
    # RealMemory at 80 % of what it detects: more than it finds would drain the node
    node=$(slurmd -C | head -n 1)
    mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<< "$node")
    node=$(sed -e "s/RealMemory=[0-9]*/RealMemory=$((mem * 8 / 10))/" -e "s/^NodeName=[^ ]*/NodeName=${host}/" <<< "$node")
    mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
    cat > "$1" <<CFG
# Written by hpcbelt tools/slurm_local.sh: a one-node test cluster on localhost.
ClusterName=hpcbelt-local
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# a requeued job waits cred_expire seconds before it may start again (default 120 s, sized for
# big clusters); 10 s is plenty on one node and keeps the requeue tests quick
AuthInfo=cred_expire=10
CryptoType=crypto/munge
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
MailProg=/bin/true
MinJobAge=600
KillWait=10
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
${node} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP
CFG
}

start() {
    install
    local new="$STATE/slurm.conf.new"
    write_config "$new"
    if cmp -s "$new" "$CONF" && alive "$STATE/slurmctld.pid" && alive "$STATE/slurmd.pid" && node_ready; then
        rm -f "$new"; log "already running"; return 0
    fi
    stop quiet
    # munge: runtime dir owned by munge, daemon as the munge user
    mkdir -p /run/munge && chown munge:munge /run/munge && chmod 0755 /run/munge
    if ! (munge -n | unmunge) >/dev/null 2>&1; then
        [ -f /etc/munge/munge.key ] || { /usr/sbin/mungekey --create 2>/dev/null || \
            dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none; }
        chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
        runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid 2>/dev/null || \
            runuser -u munge -- /usr/sbin/munged
        wait_for 10 bash -c "munge -n | unmunge" || { log "munged did not start"; exit 1; }
    fi
    mv "$new" "$CONF"
    rm -rf /var/spool/slurmctld/* "$STATE/slurmctld.pid" "$STATE/slurmd.pid"   # clean slate
    slurmctld
    wait_for 20 test -s "$STATE/slurmctld.pid" || { log "slurmctld did not start"; tail "$STATE/slurmctld.log" >&2; exit 1; }
    slurmd
    wait_for 20 test -s "$STATE/slurmd.pid" || { log "slurmd did not start"; tail "$STATE/slurmd.log" >&2; exit 1; }
    wait_for 30 node_ready || {
        log "node did not become idle"; timeout 5 sinfo >&2 || true; exit 1; }
    log "up: $(timeout 5 sinfo -h -o '%P %D %T %c cpus')"
}

stop() {
    local f pid
    for f in "$STATE/slurmd.pid" "$STATE/slurmctld.pid"; do
        if [ -f "$f" ]; then
            pid=$(cat "$f" 2>/dev/null || true)
            [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do alive "$f" || break; sleep 0.1; done
            rm -f "$f"
        fi
    done
    [ "${1:-}" = quiet ] || log "stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) timeout 10 sinfo ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
