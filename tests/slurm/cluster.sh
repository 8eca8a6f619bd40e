#!/usr/bin/env bash
# Throw-away single-node SLURM cluster for tests (Debian's slurm-wlm + munge).
#
#   tests/slurm/cluster.sh start    install if needed, configure, start daemons, wait for idle node
#   tests/slurm/cluster.sh status   show daemons and sinfo
#   tests/slurm/cluster.sh env      print the environment for clients (sbatch, squeue, snakemake):
#                                   eval "$(tests/slurm/cluster.sh env)"   or   . $DIR/env.sh
#   tests/slurm/cluster.sh stop     cancel jobs, stop exactly the daemons we started, remove our state
#
# Everything lives in a private directory ($FIELDMOVIE_SLURM_DIR, default
# /tmp/fieldmovie-slurm): slurm.conf, a private munge key and socket, spool,
# state, logs and PID files. Nothing is written to /etc/slurm or /etc/munge and
# no systemd unit is touched; clients find the cluster through SLURM_CONF and
# through wrappers in $FIELDMOVIE_SLURM_DIR/bin that pin it (both set by
# $FIELDMOVIE_SLURM_DIR/env.sh). The daemons run in the foreground (-D / -F) as
# background processes of this script, so their PIDs are known exactly and
# `stop` signals only those PIDs. Debian's packages may stay installed.
#
# Exit codes of `start`: 0 = cluster up; 77 = SKIP (not root, no apt to
# install slurm-wlm/munge, install failed); anything else = real failure.
# Set FIELDMOVIE_SLURM_REQUIRED=1 to turn a SKIP into a failure (exit 1).
#
# Other knobs (env): FIELDMOVIE_SLURM_CTLD_PORT (6817), FIELDMOVIE_SLURM_D_PORT
# (6818), FIELDMOVIE_SLURM_TIMEOUT (seconds to wait for the idle node, 60),
# FIELDMOVIE_SLURM_MEM_MARGIN_MB (memory kept back from slurm, default
# max(1024, 10 % of total)).
set -euo pipefail

DIR=${FIELDMOVIE_SLURM_DIR:-/tmp/fieldmovie-slurm}
CTLD_PORT=${FIELDMOVIE_SLURM_CTLD_PORT:-6817}
D_PORT=${FIELDMOVIE_SLURM_D_PORT:-6818}
TIMEOUT=${FIELDMOVIE_SLURM_TIMEOUT:-60}
MARKER="$DIR/.fieldmovie-slurm"   # proves the directory is ours before rm -rf
CONF="$DIR/etc/slurm.conf"
MUNGE_SOCKET="$DIR/munge/munge.socket.2"
PIDDIR="$DIR/pids"
LOGDIR="$DIR/log"
# started left to right; stopped together
DAEMONS=(munged slurmctld slurmd)

log() { printf '[cluster.sh] %s\n' "$*" >&2; }

skip() {
    if [[ "${FIELDMOVIE_SLURM_REQUIRED:-0}" == 1 ]]; then
        log "FAIL (FIELDMOVIE_SLURM_REQUIRED=1): $*"
        exit 1
    fi
    echo "SKIP: $*"
    exit 77
}

have_slurm() {
    local b
    for b in munged munge unmunge slurmctld slurmd sbatch squeue sinfo scontrol scancel srun; do
        command -v "$b" >/dev/null 2>&1 || return 1
    done
}

install_packages() {
    have_slurm && return 0
    command -v apt-get >/dev/null 2>&1 || skip "slurm-wlm/munge are not installed and apt-get is not available"
    log "installing Debian packages slurm-wlm munge ..."
    local aptlog="${TMPDIR:-/tmp}/fieldmovie-slurm-apt.$$.log"
    # policy-rc.d-less machines would start the packaged daemons through the
    # init scripts; we never want that, so make invoke-rc.d refuse (101) while
    # installing, unless the machine already has its own policy.
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && made_policy=1
    fi
    local ok=0
    if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurm-wlm munge >"$aptlog" 2>&1; then
        ok=1
    else
        log "apt-get install failed; running apt-get update once and retrying"
        if apt-get update -qq >>"$aptlog" 2>&1 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                slurm-wlm munge >>"$aptlog" 2>&1; then
            ok=1
        fi
    fi
    [[ $made_policy == 1 ]] && rm -f "$policy"
    if [[ $ok != 1 ]] || ! have_slurm; then
        tail -n 20 "$aptlog" >&2 || true
        rm -f "$aptlog"
        skip "could not install slurm-wlm/munge with apt-get (see output above)"
    fi
    rm -f "$aptlog"
}

# pid of a recorded daemon if it is still that daemon, else empty
live_pid() {
    local name=$1 pid
    [[ -r "$PIDDIR/$name.pid" ]] || return 0
    pid=$(<"$PIDDIR/$name.pid")
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    # guard against PID reuse: the process must still be the program we started
    if [[ -r /proc/$pid/comm ]] && [[ "$(<"/proc/$pid/comm")" == "$name"* ]]; then
        echo "$pid"
    fi
}

write_config() {
    local host cpus mem_total margin real_mem
    host=$(hostname -s)
    cpus=$(nproc)
    mem_total=$(free -m | awk '/^Mem:/ {print $2}')
    margin=${FIELDMOVIE_SLURM_MEM_MARGIN_MB:-$((mem_total / 10 > 1024 ? mem_total / 10 : 1024))}
    real_mem=$((mem_total - margin))
    ((real_mem >= 512)) || real_mem=512

    cat >"$CONF" <<EOF
# Written by tests/slurm/cluster.sh for a throw-away single-node test cluster.
ClusterName=fieldmovie-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$D_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/slurmd
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups in containers / micro-VMs: plain /proc process tracking
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
PropagateResourceLimits=NONE
MailProg=/bin/true
# scheduling: CPUs and memory are consumable, so threads/mem_mb are honoured
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=256
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
# finished jobs stay visible to squeue/scontrol for an hour: the plugin's
# squeue status polling and run.sh's checks rely on it (no accounting here)
MinJobAge=3600
# accounting off: no slurmdbd; sacct falls back to the controller (recent jobs only)
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real_mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    # Client wrappers that pin SLURM_CONF. Needed because the jobstep executor
    # (snakemake-executor-plugin-slurm-jobstep 0.6) drops every SLURM_* variable,
    # SLURM_CONF included, before it calls `srun` inside the job; a real cluster
    # has its slurm.conf at the compiled-in path (or runs configless), ours is
    # only reachable through SLURM_CONF. PATH is exported into jobs (sbatch
    # --export=ALL), so the in-job srun finds these wrappers first.
    local tool real
    mkdir -p "$DIR/bin"
    for tool in sbatch srun squeue scancel sinfo scontrol sacct salloc; do
        real=$(command -v "$tool") || continue
        printf '#!/bin/sh\nSLURM_CONF=%s exec %s "$@"\n' "$CONF" "$real" >"$DIR/bin/$tool"
        chmod 0755 "$DIR/bin/$tool"
    done
    cat >"$DIR/env.sh" <<EOF
export SLURM_CONF=$CONF
case ":\$PATH:" in *":$DIR/bin:"*) ;; *) export PATH="$DIR/bin:\$PATH" ;; esac
EOF
}

start_daemon() { # name logfile cmd...
    local name=$1 out=$2
    shift 2
    # setsid: own session, so the daemons survive this script and ignore the
    # caller's terminal signals; stdin closed, output to our log dir.
    setsid "$@" </dev/null >>"$out" 2>&1 &
    local pid=$! i
    echo "$pid" >"$PIDDIR/$name.pid"
    # wait until the forked shell has exec'd the daemon, so that live_pid's
    # name check means something
    for ((i = 0; i < 50; i++)); do
        [[ -n $(live_pid "$name") ]] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    log "$name did not start (pid $pid)"
    return 1
}

dump_logs() {
    local f
    for f in "$LOGDIR"/*; do
        [[ -f $f ]] || continue
        echo "----- $f (last 40 lines) -----" >&2
        tail -n 40 "$f" >&2 || true
    done
}

cmd_start() {
    [[ $(id -u) == 0 ]] || skip "needs root (runs slurmctld/slurmd/munged as root); you are $(id -un)"
    install_packages

    if [[ -e $DIR ]]; then
        if [[ -e $MARKER ]]; then
            log "found a previous cluster in $DIR; stopping it first"
            cmd_stop
        else
            log "$DIR exists and was not made by this script; refusing to use it"
            exit 1
        fi
    fi
    local d
    for d in "${DAEMONS[@]}"; do
        if [[ -n $(live_pid "$d") ]]; then
            log "$d from a previous run is still alive"; exit 1
        fi
    done
    if command -v ss >/dev/null 2>&1 && ss -ltnH "( sport = :$CTLD_PORT or sport = :$D_PORT )" | grep -q .; then
        log "port $CTLD_PORT or $D_PORT is in use (another slurm?); set FIELDMOVIE_SLURM_CTLD_PORT/_D_PORT"
        exit 1
    fi

    mkdir -p "$DIR"
    touch "$MARKER"
    chmod 0755 "$DIR"
    mkdir -p "$DIR/etc" "$DIR/state" "$DIR/spool/slurmd" "$DIR/run" "$PIDDIR" "$LOGDIR" "$DIR/munge"
    chmod 0700 "$DIR/state"
    write_config

    # private munge key: created here, removed with $DIR by `stop`; the
    # system's /etc/munge/munge.key (if any) is never read or changed.
    dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
    chmod 0400 "$DIR/munge/munge.key"

    export SLURM_CONF=$CONF
    # --force: munged refuses some setups as root (e.g. socket dir under a
    # world-writable /tmp) without it.
    if ! start_daemon munged "$LOGDIR/munged.out" munged -F --force \
        --key-file="$DIR/munge/munge.key" --socket="$MUNGE_SOCKET" \
        --pid-file="$DIR/munge/munged.pid" --seed-file="$DIR/munge/munged.seed" \
        --log-file="$LOGDIR/munged.log" --num-threads=2; then
        dump_logs; cmd_stop; exit 1
    fi
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -S $MUNGE_SOCKET ]] && break
        [[ -n $(live_pid munged) ]] || break
        sleep 0.1
    done
    if ! munge -n -S "$MUNGE_SOCKET" </dev/null | unmunge -S "$MUNGE_SOCKET" >/dev/null 2>&1; then
        log "munged did not come up"; dump_logs; cmd_stop; exit 1
    fi

    if ! start_daemon slurmctld "$LOGDIR/slurmctld.out" slurmctld -D -i -f "$CONF" ||
        ! start_daemon slurmd "$LOGDIR/slurmd.out" slurmd -D -f "$CONF"; then
        dump_logs; cmd_stop; exit 1
    fi

    local deadline=$((SECONDS + TIMEOUT)) state=""
    while ((SECONDS < deadline)); do
        for d in "${DAEMONS[@]}"; do
            if [[ -z $(live_pid "$d") ]]; then
                log "$d exited during start-up"; dump_logs; cmd_stop; exit 1
            fi
        done
        state=$(sinfo -h -N -o '%t' 2>/dev/null | head -n1 || true)
        if [[ $state == idle ]]; then
            log "cluster up in $DIR (node $(hostname -s), state idle); export SLURM_CONF=$CONF"
            return 0
        fi
        # a node that came up drained/down (e.g. after a reboot) is resumed once
        if [[ $state == drain* || $state == down* ]]; then
            scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true
        fi
        sleep 1
    done
    log "timeout after ${TIMEOUT}s waiting for an idle node (last sinfo state: '${state:-none}')"
    sinfo -N -l >&2 2>&1 || true
    scontrol show node >&2 2>&1 || true
    dump_logs
    cmd_stop
    exit 1
}

wait_gone() { # pid seconds
    local pid=$1 n=$(($2 * 10))
    while ((n-- > 0)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

cmd_stop() {
    if [[ ! -e $MARKER ]]; then
        [[ -e $DIR ]] && log "$DIR was not made by this script; leaving it alone"
        return 0
    fi
    export SLURM_CONF=$CONF
    # cancel whatever is still queued/running on our private cluster, so no
    # slurmstepd or job process outlives slurmd
    if [[ -n $(live_pid slurmctld) ]]; then
        local jobs
        jobs=$(timeout 10 squeue -h -o '%i' 2>/dev/null || true)
        if [[ -n $jobs ]]; then
            log "cancelling jobs: ${jobs//$'\n'/ }"
            # shellcheck disable=SC2086
            timeout 10 scancel $jobs 2>/dev/null || true
            local n=30
            while ((n-- > 0)) && [[ -n $(timeout 5 squeue -h -t R,CG,PD -o '%i' 2>/dev/null || true) ]]; do
                sleep 1
            done
        fi
    fi
    # TERM all at once (each takes 1-2 s to exit), then KILL what is left after 10 s
    local idx name pid
    local -a names=() pids=()
    for ((idx = ${#DAEMONS[@]} - 1; idx >= 0; idx--)); do
        name=${DAEMONS[idx]}
        pid=$(live_pid "$name")
        [[ -n $pid ]] || continue
        kill -TERM "$pid" 2>/dev/null || true
        names+=("$name")
        pids+=("$pid")
    done
    for idx in "${!pids[@]}"; do
        pid=${pids[idx]}
        if ! wait_gone "$pid" 10; then
            log "${names[idx]} ($pid) ignored SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" 5 || log "WARNING: ${names[idx]} ($pid) is still alive"
        fi
    done
    rm -rf -- "$DIR"
    log "stopped; removed $DIR"
}

cmd_status() {
    local d pid rc=0
    if [[ ! -e $MARKER ]]; then
        echo "no cluster in $DIR"
        return 3
    fi
    for d in "${DAEMONS[@]}"; do
        pid=$(live_pid "$d")
        if [[ -n $pid ]]; then echo "$d: running (pid $pid)"; else echo "$d: not running"; rc=3; fi
    done
    SLURM_CONF=$CONF sinfo -N -l 2>&1 || rc=3
    SLURM_CONF=$CONF squeue 2>&1 || true
    return $rc
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) cat "$DIR/env.sh" 2>/dev/null || { echo "no cluster in $DIR" >&2; exit 3; } ;;
*)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
