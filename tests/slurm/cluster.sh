#!/usr/bin/env bash
# Throw-away one-node Slurm cluster on localhost, for tests.
#
#   cluster.sh start DIR   write config under DIR, start munged, slurmctld and
#                          slurmd, wait until the node is idle, then print
#                          SLURM_CONF=DIR/slurm.conf on stdout (the only thing
#                          the caller must set for sbatch/squeue/scontrol/scancel).
#   cluster.sh stop DIR    cancel its jobs, stop exactly the daemons started
#                          for DIR (by their pid files) and wait for them.
#
# Everything (config, munge key and socket, state, spool, pid files, logs)
# lives under DIR; nothing in /etc/slurm, /etc/munge or /run/munge is used, so
# a system munged/slurm, if any, is left alone. Needs root (SlurmUser=root,
# slurmd must be root anyway) and Debian 12 packages: slurmctld slurmd
# (they pull in slurm-client and munge). Diagnostics go to stderr.
# Optional env: SLURM_TEST_CTLD_PORT/SLURM_TEST_SLURMD_PORT (default 6817/6818;
# give other ports to run two clusters at once), SLURM_TEST_CRED_EXPIRE
# (default 10 s, minimum 5: how long a requeued job waits before rerunning).
set -euo pipefail

# Daemons live in /usr/sbin, which a non-login environment may not have on PATH.
export PATH="/usr/sbin:/sbin:$PATH"

die() { echo "cluster.sh: $*" >&2; exit 1; }
[ $# -eq 2 ] || die "usage: cluster.sh start|stop DIR"
cmd=$1
case $cmd in
    start) mkdir -p "$2" ;;
    stop)  [ -d "$2" ] || exit 0 ;;     # nothing was ever started there
    *)     die "usage: cluster.sh start|stop DIR" ;;
esac
dir=$(cd "$2" && pwd)          # absolute: the daemons chdir away
# Only this script and its children see this; the caller exports it itself.
export SLURM_CONF="$dir/slurm.conf"

# Daemons in stop order: slurmd first so it does not complain about the
# controller vanishing, munged last since both Slurm daemons talk to it.
daemons=(slurmd slurmctld munged)

alive() {                      # kill -0 also succeeds on zombies, and daemons
    local st                   # are reparented to a PID 1 that may reap late
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

pid_of() {                     # pid of daemon $1 if its pid file names a live process
    local f="$dir/run/$1.pid" pid
    [ -s "$f" ] || return 1
    pid=$(tr -dc 0-9 < "$f")
    [ -n "$pid" ] && alive "$pid" && echo "$pid"
}

log_tails() {
    local f
    for f in "$dir"/log/*.log; do
        [ -e "$f" ] || continue
        echo "===== $f (last 30 lines) =====" >&2
        tail -n 30 "$f" >&2
    done
}

fail() {                       # start failed: say why, show logs, clean up
    echo "cluster.sh: $*" >&2
    if [ -f "$SLURM_CONF" ]; then timeout 5 scontrol show node >&2 2>/dev/null || true; fi
    log_tails
    stop_cluster
    exit 1
}

stop_cluster() {
    local d pid i
    # Cancel jobs first: slurmstepd and job processes outlive slurmd by design,
    # so killing only the daemons would leave them behind.
    if pid_of slurmctld >/dev/null && [ -f "$SLURM_CONF" ]; then
        timeout 10 scancel --quiet --user="$(id -un)" 2>/dev/null || true
        for i in $(seq 30); do
            [ -z "$(timeout 5 squeue -h -t R,CG -o %i 2>/dev/null || true)" ] && break
            sleep 0.5
        done
    fi
    for d in "${daemons[@]}"; do
        pid=$(pid_of "$d") || continue
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 100); do             # up to ~20 s, then SIGKILL
            alive "$pid" || break
            [ "$i" -eq 100 ] && { echo "cluster.sh: $d ($pid) ignored SIGTERM, killing" >&2; kill -KILL "$pid" 2>/dev/null || true; sleep 0.5; }
            sleep 0.2
        done
        rm -f "$dir/run/$d.pid"
    done
    # Backstop: a slurmstepd of this cluster (it inherits SLURM_CONF from our
    # slurmd) that outlived scancel, e.g. a stuck step.
    for pid in $(pgrep -x slurmstepd || true); do
        if { tr '\0' '\n' < "/proc/$pid/environ"; } 2>/dev/null | grep -qxF "SLURM_CONF=$SLURM_CONF"; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
}

port_busy() {                  # is something listening on TCP port $1?
    awk -v p="$(printf ':%04X' "$1")" '$4 == "0A" && substr($2, length($2) - 4) == p {f = 1}
        END {exit !f}' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

start_cluster() {
    local d p host cpus mem_mb real_mb sock state=""
    local ctld_port=${SLURM_TEST_CTLD_PORT:-6817} slurmd_port=${SLURM_TEST_SLURMD_PORT:-6818}
    for d in "${daemons[@]}"; do
        ! pid_of "$d" >/dev/null || die "$d already running for $dir; stop it first"
    done
    # Fail fast and clearly instead of timing out with a bind error in the logs.
    for p in "$ctld_port" "$slurmd_port"; do
        ! port_busy "$p" || die "TCP port $p already in use (another Slurm cluster still running?)"
    done
    mkdir -p "$dir"/{munge,state,spool,run,log}
    # munged insists that the key's directory is private and that every
    # directory above its socket is searchable by all (mktemp -d gives 0700,
    # so DIR itself gets go+x).
    chmod 700 "$dir/munge"
    chmod go+x "$dir"
    chmod 755 "$dir/run"

    host=$(hostname -s)
    cpus=$(nproc)
    # Modest RealMemory: half of RAM, at most 1 GiB. slurmd drains a node whose
    # real memory is below this, so stay well under it.
    mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
    real_mb=$(( mem_mb / 2 < 1024 ? mem_mb / 2 : 1024 ))

    sock="$dir/run/munge.socket"
    # sun_path is 108 bytes; munged/libmunge fail obscurely past it.
    [ "${#sock}" -lt 100 ] || die "DIR too long for a unix socket path: $sock"

    # --- munge: private key, socket, pid and log under DIR ---------------------
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$dir/munge/munge.key"
    # munged forks and its parent exits once the socket is ready.
    munged --socket="$sock" --key-file="$dir/munge/munge.key" \
        --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" \
        --seed-file="$dir/munge/munged.seed" \
        || fail "munged failed to start"

    # --- slurm.conf ------------------------------------------------------------
    cat > "$SLURM_CONF" <<CONF
# Generated by tests/slurm/cluster.sh for a throw-away test cluster.
ClusterName=hashsweep-test
# NodeAddr/address 127.0.0.1: no dependence on the host name resolving.
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
# socket: clients and daemons find our private munged through this
# (sbatch/squeue/... read slurm.conf too, so no MUNGE_SOCKET env var is needed).
# cred_expire: a requeued job stays PENDING (Reason=BeginTime) for this many
# seconds before it may run again; the 120 s default makes requeue tests crawl.
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock,cred_expire=${SLURM_TEST_CRED_EXPIRE:-10}
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups in containers. proctrack/pgid rather than linuxproc: linuxproc
# tracks the process tree, so when a test kills a job's batch shell its
# children (reparented to init) escape and keep running; pgid kills the
# job's whole process group when the job ends or is requeued.
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Scheduling passes every second instead of 60 s/30 s: a requeued job whose
# BeginTime has passed is otherwise only started by the next periodic pass.
SchedulerParameters=sched_interval=1,bf_interval=1
# Batch jobs are requeueable by default (sbatch --requeue also works).
JobRequeue=1
# A node that was DOWN comes back as soon as its slurmd registers.
ReturnToService=2
# Do not drain the node if the container reports less than configured.
SlurmdParameters=config_overrides
# Report a lost node fast instead of after the 300 s default.
SlurmdTimeout=30
MailProg=/bin/true
NodeName=$host NodeAddr=127.0.0.1 NodeHostname=$host CPUs=$cpus RealMemory=$real_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF

    # --- Slurm daemons ----------------------------------------------------------
    # -c: ignore any saved state (DIR is fresh anyway); -N: our node's name.
    slurmctld -c || fail "slurmctld failed to start"
    slurmd -N "$host" || fail "slurmd failed to start"

    # Both daemons fork and the parent exits 0 before the child has bound its
    # port, so judge success here: every pid file must name a live process and
    # the node must be idle. Idle alone is not enough: the node stays idle for
    # SlurmdTimeout after a slurmd that registered and then died.
    local t0=$SECONDS up
    while :; do
        up=""
        for d in "${daemons[@]}"; do pid_of "$d" >/dev/null && up+=" $d"; done
        state=$(timeout 5 sinfo -h -N -n "$host" -o %t 2>/dev/null || true)
        [ "$state" = idle ] && [ "$up" = " ${daemons[*]}" ] && break
        [ $((SECONDS - t0)) -lt 10 ] || [ "$up" = " ${daemons[*]}" ] ||
            fail "daemons not all running after 10 s (running:${up:- none})"
        [ $((SECONDS - t0)) -lt 60 ] ||
            fail "node $host not idle after 60 s (state: '${state:-none}')"
        sleep 0.5
    done
    echo "SLURM_CONF=$SLURM_CONF"
}

if [ "$cmd" = start ]; then start_cluster; else stop_cluster; fi
