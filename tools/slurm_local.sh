#!/usr/bin/env bash
# A real Slurm on this machine (munge + slurmctld + one slurmd per node), for the job template
# tests and for trying the templates by hand.  Needs root and Debian's packages.
#
#   tools/slurm_local.sh start [--nodes N] [--name NAME] [--port P]
#                                  install if needed, write the config, start the daemons, wait
#                                  until every node is idle
#   tools/slurm_local.sh stop [--name NAME]      stop that cluster's daemons (by pid)
#   tools/slurm_local.sh status [--name NAME]    print sinfo
#   tools/slurm_local.sh env [--name NAME]       print "export SLURM_CONF=..." for that cluster
#   tools/slurm_local.sh kill-node NODE [--name NAME]
#                                  SIGKILL everything of one node at once: its slurmd, its
#                                  slurmstepds and every process they started (a node that dies)
#   tools/slurm_local.sh start-node NODE [--name NAME]
#                                  start that node's slurmd again and wait until it is back
#
# Without options: one node named after this host on 127.0.0.1, config /etc/slurm/slurm.conf,
# state in /run/hpcbelt-slurm (the cluster CI and the one-node tests use).
# --nodes N (N >= 2): N nodes n1..nN in one cluster, each its own slurmd (`slurmd -N nK`) on
#   127.0.0.(K+1), port P+K, with its own spool directory, pid and log file and TmpFS (PMIx
#   puts per-step directories there, which two slurmds on one machine would otherwise share),
#   and, where a UTS namespace can be made (root), its own host name nK.  CPUs=1 each: N > 2
#   nodes oversubscribe this 2-core machine (tasks time-share the cores); more tasks than nodes
#   need sbatch --overcommit.  A node whose slurmd stops answering is DOWN about 11 s later
#   (SlurmdTimeout=5, MessageTimeout=3); ReturnToService=2 brings it back as soon as its slurmd
#   registers again.
# --name NAME: a separate cluster beside the default one (controller port P, default 16817: give
#   a second named cluster another --port; config in /run/hpcbelt-slurm-NAME/slurm.conf, job
#   ids from 100000): point the Slurm commands at it with SLURM_CONF (see `env`).  Without
#   --name, --nodes N replaces the default cluster (plain sbatch then goes to the N nodes;
#   `start` alone brings back the one node).
#
# Exit codes: 0 ok; 3 Slurm cannot be installed here (not root, or no apt); 2 usage; 1 other failure.
set -euo pipefail

log() { echo "slurm_local: $*" >&2; }
usage() { sed -n '2,33p' "$0" >&2; exit 2; }

CMD=${1:-}
[ $# -gt 0 ] && shift
NODES=1 NAME="" PORT="" NODE=""
while [ $# -gt 0 ]; do
    case "$1" in
        --nodes) NODES=${2:-}; shift 2 || usage ;;
        --nodes=*) NODES=${1#*=}; shift ;;
        --name) NAME=${2:-}; shift 2 || usage ;;
        --name=*) NAME=${1#*=}; shift ;;
        --port) PORT=${2:-}; shift 2 || usage ;;
        --port=*) PORT=${1#*=}; shift ;;
        -*) log "unknown option $1"; usage ;;
        *) [ -z "$NODE" ] || usage; NODE=$1; shift ;;
    esac
done
[[ "$NODES" =~ ^[0-9]+$ ]] && [ "$NODES" -ge 1 ] && [ "$NODES" -le 64 ] || { log "--nodes: 1 to 64"; exit 2; }
[ -z "$NAME" ] || [[ "$NAME" =~ ^[a-z0-9]+$ ]] || { log "--name: lower-case letters and digits"; exit 2; }
[ -z "$PORT" ] || [[ "$PORT" =~ ^[0-9]+$ ]] || { log "--port: a number"; exit 2; }

if [ -z "$NAME" ]; then
    STATE=/run/hpcbelt-slurm
    CONF=/etc/slurm/slurm.conf
    CTLD_SPOOL=/var/spool/slurmctld
    CLUSTER=hpcbelt-local
    CTLD_PORT=${PORT:-6817}
else
    STATE=/run/hpcbelt-slurm-$NAME
    CONF=$STATE/slurm.conf
    CTLD_SPOOL=$STATE/ctld
    CLUSTER=hpcbelt-$NAME
    CTLD_PORT=${PORT:-16817}
fi
# the one-node default cluster keeps its original layout; every other one has nodes n1..nN
MULTI=0
if [ "$CMD" = start ]; then
    { [ -n "$NAME" ] || [ "$NODES" -gt 1 ]; } && MULTI=1
else                # the other commands act on the cluster as it was started
    grep -q '^NodeName=n1 ' "$CONF" 2>/dev/null && MULTI=1
fi
export SLURM_CONF=$CONF
mkdir -p "$STATE" 2>/dev/null || true

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

nodes_ready() {  # every node of the cluster idle (or busy), none down or not responding
    local states
    states=$(timeout 5 sinfo -h -N -o %T 2>/dev/null) || return 1
    [ -n "$states" ] && ! grep -qvE '^(idle|mixed|allocated|completing)$' <<< "$states"
}

node_ready() {  # NODE -> true when that node is usable again
    timeout 5 sinfo -h -n "$1" -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated|completing)$'
}

node_list() {  # the node names of the running cluster's config
    sed -n 's/^NodeName=\([^ ]*\).*/\1/p' "$CONF" 2>/dev/null
}

common_config() {  # what every cluster shares
    cat <<CFG
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
CFG
}

write_config() {
    local host node mem
    host=$(hostname -s)
    # the node line as slurmd detects it (CPUs, boards, sockets, cores, threads), with
    # RealMemory at 80 % of what it detects: more than it finds would drain the node
    node=$(slurmd -C | head -n 1)
    mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<< "$node")
    if [ "$MULTI" = 0 ]; then
        node=$(sed -e "s/RealMemory=[0-9]*/RealMemory=$((mem * 8 / 10))/" -e "s/^NodeName=[^ ]*/NodeName=${host}/" <<< "$node")
        mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
        {
            echo "# Written by hpcbelt tools/slurm_local.sh: a one-node test cluster on localhost."
            echo "ClusterName=hpcbelt-local"
            echo "SlurmctldHost=${host}(127.0.0.1)"
            common_config
            cat <<CFG
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
${node} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP
CFG
        } > "$1"
        return 0
    fi
    local k
    mkdir -p "$(dirname "$CONF")" "$CTLD_SPOOL" "$STATE/spool" "$STATE/tmp"
    {
        echo "# Written by hpcbelt tools/slurm_local.sh: a ${NODES}-node test cluster on this machine,"
        echo "# one slurmd per node (slurmd -N nK), each on its own loopback address and port."
        echo "ClusterName=${CLUSTER}"
        echo "SlurmctldHost=${host}(127.0.0.1)"
        echo "SlurmctldPort=${CTLD_PORT}"
        [ -z "$NAME" ] || echo "FirstJobId=100000"   # job ids apart from the default cluster's
        # quicker recovery from a node failure: a requeued job becomes eligible after
        # cred_expire (5 s here) and starts at the scheduler's next pass (every 2 s here, not
        # every 30 s (backfill) or 60 s (main loop)); the ranks that survived a dead node hang
        # in MPI until SIGKILL, KillWait (3 s here) after SIGTERM
        common_config | sed -e 's/^SchedulerParameters=.*/&,sched_interval=2,bf_interval=2/' \
            -e 's/^AuthInfo=cred_expire=.*/AuthInfo=cred_expire=5/' -e 's/^KillWait=.*/KillWait=3/' \
            -e '/^# a requeued job waits cred_expire/,/^# big clusters/d'
        cat <<CFG
# a node whose slurmd stops answering is DOWN once it has not answered for 5 s (pinged every
# SlurmdTimeout/3; a message to a dead slurmd fails after 3 s instead of 10): measured here,
# not responding ~5 s and DOWN ~11 s after its death, instead of ~25 s with MessageTimeout=10
SlurmdTimeout=5
MessageTimeout=3
# each node gets a copy of this file with its own TmpFS: the copies differ, by design
DebugFlags=NO_CONF_HASH
# Open MPI settings for nodes that share one machine (see write_task_prolog)
TaskProlog=$STATE/task_prolog.sh
StateSaveLocation=${CTLD_SPOOL}
SlurmdSpoolDir=$STATE/spool/%n
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.%n.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.%n.log
CFG
        for k in $(seq 1 "$NODES"); do
            echo "NodeName=n$k NodeHostname=$(node_hostname "n$k") NodeAddr=127.0.0.$((k + 1)) Port=$((CTLD_PORT + k)) CPUs=1 RealMemory=$((mem * 8 / 10 / NODES)) State=UNKNOWN"
        done
        echo "PartitionName=debug Nodes=n[1-${NODES}] Default=YES MaxTime=INFINITE State=UP"
    } > "$1"
}

write_task_prolog() {
    # Slurm runs this before every task; its "export" lines go into the task's environment.
    # Where the nodes share one host name (no UTS namespace), Open MPI's shared-memory segments
    # (/dev/shm/vader_segment.<host>.<job>.<local rank>) of tasks on different nodes collide
    # (measured: a segfault in mca_btl_vader with 2 tasks on each of 2 nodes): each node gets
    # its own directory for them.  Between nodes, Open MPI's TCP goes over the loopback
    # addresses the nodes live on, not over this machine's other interfaces.
    cat > "$STATE/task_prolog.sh" <<'SH'
#!/bin/sh
d="${0%/*}/tmp/${SLURMD_NODENAME:-unknown}/shm"
mkdir -p "$d"
echo "export OMPI_MCA_btl_vader_backing_directory=$d"
echo "export OMPI_MCA_btl_tcp_if_include=127.0.0.0/8"
SH
    chmod 0755 "$STATE/task_prolog.sh"
}

own_hostnames() {  # true when each slurmd can have a host name of its own (a UTS namespace)
    command -v unshare >/dev/null && unshare --uts true 2>/dev/null
}

node_hostname() {  # NODE -> the host name its processes see: the node's name where possible
    if own_hostnames; then echo "$1"; else hostname -s; fi
}

node_conf() {  # NODE -> write that node's copy of the config (its own TmpFS), print its path
    local c="$STATE/$1.conf"
    mkdir -p "$STATE/spool/$1" "$STATE/tmp/$1"
    { cat "$CONF"; echo "TmpFS=$STATE/tmp/$1"; } > "$c"
    echo "$c"
}

start_slurmd() {  # NODE (multi) -> start its slurmd and wait for its pid file
    local pidf="$STATE/slurmd.$1.pid" c
    c=$(node_conf "$1")
    rm -f "$pidf"
    if own_hostnames; then
        # in a UTS namespace of its own the node has its own host name, as on a real cluster
        # (its steps and tasks inherit it): hostname, MPI and the run lock then see n1, n2, ...
        unshare --uts sh -c 'hostname "$1" && exec slurmd -f "$2" -N "$1"' sh "$1" "$c"
    else
        slurmd -f "$c" -N "$1"
    fi
    wait_for 20 test -s "$pidf" || { log "slurmd $1 did not start"; tail "$STATE/slurmd.$1.log" >&2; exit 1; }
}

all_alive() {
    local n
    alive "$STATE/slurmctld.pid" || return 1
    if [ "$MULTI" = 0 ]; then alive "$STATE/slurmd.pid"; return; fi
    for n in $(node_list); do alive "$STATE/slurmd.$n.pid" || return 1; done
}

start() {
    install
    local new="$STATE/slurm.conf.new" n
    write_config "$new"
    if cmp -s "$new" "$CONF" && all_alive && nodes_ready; then
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
    rm -rf "${CTLD_SPOOL:?}"/* "$STATE/slurmctld.pid"   # clean slate
    # job ids start again from the first: the logs of an earlier cluster would only mislead
    [ "$MULTI" = 0 ] || rm -f "$STATE"/slurmctld.log "$STATE"/slurmd.*.log
    slurmctld -f "$CONF"
    wait_for 20 test -s "$STATE/slurmctld.pid" || { log "slurmctld did not start"; tail "$STATE/slurmctld.log" >&2; exit 1; }
    if [ "$MULTI" = 0 ]; then
        rm -f "$STATE/slurmd.pid"
        slurmd
        wait_for 20 test -s "$STATE/slurmd.pid" || { log "slurmd did not start"; tail "$STATE/slurmd.log" >&2; exit 1; }
    else
        rm -rf "${STATE:?}/spool" "${STATE:?}/tmp"     # no steps of an earlier cluster
        write_task_prolog
        for n in $(node_list); do start_slurmd "$n"; done
    fi
    wait_for 30 nodes_ready || {
        log "nodes did not become idle"; timeout 5 sinfo -N >&2 || true; exit 1; }
    log "up: $(timeout 5 sinfo -h -o '%P %D nodes %T %c cpus/node' | tr '\n' ' ')"
    [ -z "$NAME" ] || log "use it with: export SLURM_CONF=$CONF"
}

stop_pidfile() {
    local f=$1 pid
    [ -f "$f" ] || return 0
    pid=$(cat "$f" 2>/dev/null || true)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do alive "$f" || break; sleep 0.1; done
    rm -f "$f"
}

stop() {
    local f
    # every slurmd this cluster started (one node: slurmd.pid; N nodes: slurmd.nK.pid), then
    # the controller
    for f in "$STATE"/slurmd.pid "$STATE"/slurmd.*.pid; do stop_pidfile "$f"; done
    stop_pidfile "$STATE/slurmctld.pid"
    [ "${1:-}" = quiet ] || log "stopped"
}

node_pids() {  # NODE -> its slurmd, its slurmstepds and all their descendants, one pid a line
    local spool="$STATE/spool/$1" roots=""
    [ -f "$STATE/slurmd.$1.pid" ] && roots=$(cat "$STATE/slurmd.$1.pid")
    # a slurmstepd listens on <spool>/<node>_<job>.<step>: the inodes of the sockets bound
    # there, then the processes holding them, then every descendant of those
    roots="$roots $( { awk -v d="$spool/" 'index($8, d) == 1 { print "ino", $7 }' /proc/net/unix
                       find /proc/[0-9]*/fd -maxdepth 1 -lname 'socket:*' -printf 'fd %h %l\n' 2>/dev/null
                     } | awk '$1 == "ino" { want["socket:[" $2 "]"] = 1; next }
                              ($3 in want) { split($2, p, "/"); print p[3] }' | sort -u | tr '\n' ' ')"
    ps -eo pid=,ppid= | awk -v roots="$roots" '
        { parent[$1] = $2 }
        END { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1
              changed = 1
              while (changed) { changed = 0
                  for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 } }
              for (p in keep) print p }'
}

kill_node() {  # NODE: a node that dies: stop all its processes first (nobody reacts), then SIGKILL
    local pids
    [ -n "$NODE" ] || usage
    pids=$(node_pids "$NODE" | sort -un | tr '\n' ' ')
    [ -n "${pids// }" ] || { log "node $NODE: no processes"; return 1; }
    # shellcheck disable=SC2086
    kill -STOP $pids 2>/dev/null || true
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    log "node $NODE killed (SIGKILL to pids $pids)"
}

start_node() {  # NODE: its slurmd again; wait until slurmctld has it back (ReturnToService=2)
    [ -n "$NODE" ] || usage
    grep -q "^NodeName=$NODE " "$CONF" || { log "no node $NODE in $CONF"; exit 2; }
    if alive "$STATE/slurmd.$NODE.pid"; then
        log "slurmd $NODE already running"
    else
        # what a rebooted node has lost: its temporary files, and so the PMIx directories of the
        # steps that were killed.  And what slurmd does not clean up itself: the PMIx socket and
        # directory of each killed step in its spool directory; a requeued job (same job and
        # step id) landing there again would fail to launch its step ("Cannot bind() UNIX socket
        # .../stepd.slurm.pmix.J.S: Address already in use", "Cannot create directory
        # .../pmix.J.S/: File exists")
        rm -rf "${STATE:?}/tmp/$NODE" "$STATE/spool/$NODE"/stepd.slurm.pmix.* "$STATE/spool/$NODE"/pmix.*
        start_slurmd "$NODE"
    fi
    wait_for 60 node_ready "$NODE" || { log "node $NODE did not come back"; timeout 5 sinfo -N >&2 || true; exit 1; }
    log "node $NODE back: $(timeout 5 sinfo -h -n "$NODE" -o %T)"
}

case "$CMD" in
    start) start ;;
    stop) stop ;;
    status) timeout 10 sinfo -N ;;
    env) echo "export SLURM_CONF=$CONF" ;;
    kill-node) [ "$MULTI" = 1 ] || { log "kill-node: only in a cluster of nodes n1..nN"; exit 2; }; kill_node ;;
    start-node) [ "$MULTI" = 1 ] || { log "start-node: only in a cluster of nodes n1..nN"; exit 2; }; start_node ;;
    *) usage ;;
esac
