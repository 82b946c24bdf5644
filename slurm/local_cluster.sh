#!/bin/bash
# A one-node Slurm cluster on loopback, for testing the sbatch scripts in this folder.
#
#   slurm/local_cluster.sh up     [STATE_DIR]   start munged, slurmctld, slurmd; wait until the node is idle
#   slurm/local_cluster.sh down   [STATE_DIR]   cancel all jobs, stop the daemons by the PIDs in their PID
#                                               files, and wait until they have exited
#   slurm/local_cluster.sh status [STATE_DIR]   say what runs; exit 0 = up, 3 = down, 1 = partly up
#   slurm/local_cluster.sh env    [STATE_DIR]   print the export a client shell needs: eval "$(... env)"
# `up` on a running cluster and `down` on a stopped one do nothing (a partly running one is completed or
# stopped). After `up`, point the Slurm commands at the cluster: export SLURM_CONF=STATE_DIR/slurm.conf.
#
# STATE_DIR defaults to /tmp/relfm-slurm. Every file the cluster uses is under it; nothing is written to
# /etc, /run or /var:
#   STATE_DIR/slurm.conf        the configuration. The daemons get it with -f and (with the jobs and clients)
#                               through SLURM_CONF, so /etc/slurm/slurm.conf is neither needed nor touched.
#                               (Slurm then looks for plugstack.conf next to it; there is none, which is fine.)
#   STATE_DIR/munge/            a private MUNGE key, munged's socket, PID, log and seed files
#   STATE_DIR/ctld/             slurmctld's StateSaveLocation (job and node state; recovered by the next `up`)
#   STATE_DIR/slurmd/           slurmd's SlurmdSpoolDir (copies of batch scripts, step sockets)
#   STATE_DIR/log/              slurmctld.log, slurmd.log
#   STATE_DIR/run/              slurmctld.pid, slurmd.pid
#   STATE_DIR/env               the same export as `env` prints, to source
# STATE_DIR and every directory above it must be searchable by all (o+x): munged insists on it for its socket.
#
# Recipe: /work/shared/research/stack.md §5 (tested on Debian 12, Slurm 22.05.8, munge 0.5.15, root, no
# systemd). Differences from it, to keep the cluster inside STATE_DIR and apart from any other one, and to
# make requeue tests fast:
#   - its own MUNGE key and socket (AuthInfo=socket=... tells Slurm's auth/munge and cred/munge where);
#   - munged runs as root (it only insists that the key belongs to the user it runs as; running it as the
#     `munge` user would mean chown-ing STATE_DIR/munge, for no gain on a throw-away test cluster);
#   - ports come from RELFM_SLURMCTLD_PORT / RELFM_SLURMD_PORT (defaults 6817 / 6818, Slurm's own), so a
#     test can pick free ones and two clusters (two state dirs) can run side by side;
#   - AuthInfo=cred_expire=10: Slurm keeps a requeued job PENDING (Reason=BeginTime) for cred_expire seconds
#     (default 120) before it may start again;
#   - SchedulerParameters=sched_interval=1,bf_interval=1: once eligible, the requeued job still waited for the
#     next backfill pass (every 30 s) or main scheduling pass (every 60 s). Measured here: requeue -> running
#     again took ~36 s with cred_expire=10 and the default passes, ~11 s with both settings;
#   - JobRequeue=1 (already Slurm's default; stated because the sbatch scripts rely on requeue).
#   Nothing else needed changing: KillWait (30 s) is ample for relfm's checkpoint, and MinJobAge (300 s)
#   keeps finished jobs visible to `scontrol show job`, which the test uses (sacct needs slurmdbd).
#
# Sandbox notes: PID 1 here reaps orphans only every few seconds, so a daemon that has exited can show as
# "<defunct>" in `pgrep -a` for a moment; this script counts a zombie as stopped. Daemons are started with
# SLURM_CONF exported, which their slurmstepd children inherit: `down` uses that to find (and end) job
# processes that outlived the cancel, without touching another cluster's.
#
# Needs: munged, mungekey (or dd), slurmctld, slurmd, sinfo, scontrol, squeue, scancel on PATH or in
# /usr/sbin; root (SlurmUser=SlurmdUser=root, and the jobs run as root).
set -euo pipefail

PATH="$PATH:/usr/sbin:/sbin"
action="${1:-}"
state_dir="${2:-/tmp/relfm-slurm}"
ctld_port="${RELFM_SLURMCTLD_PORT:-6817}"
slurmd_port="${RELFM_SLURMD_PORT:-6818}"
up_timeout="${RELFM_SLURM_UP_TIMEOUT:-30}"    # seconds for the node to become idle
down_timeout="${RELFM_SLURM_DOWN_TIMEOUT:-30}" # seconds for each daemon to exit after SIGTERM
jobs_timeout="${RELFM_SLURM_JOBS_TIMEOUT:-45}" # seconds for cancelled jobs to end (KillWait is 30 s)

die() { echo "local_cluster.sh: error: $*" >&2; exit 1; }
say() { echo "local_cluster.sh: $*"; }

case "$action" in
  up|down|status|env) ;;
  *) echo "usage: $0 up|down|status|env [STATE_DIR]" >&2; exit 2 ;;
esac
case "$state_dir" in /*) ;; *) state_dir="$PWD/$state_dir" ;; esac

conf="$state_dir/slurm.conf"
munge_dir="$state_dir/munge"
munge_socket="$munge_dir/munge.socket"
munged_pidfile="$munge_dir/munged.pid"
ctld_pidfile="$state_dir/run/slurmctld.pid"
slurmd_pidfile="$state_dir/run/slurmd.pid"
export SLURM_CONF="$conf"

# ---- process helpers: a daemon "runs" when its PID file names a live, non-zombie process of that name ----

# The PID in a PID file, or nothing. Read it before signalling: a daemon deletes its file on exit.
pid_from() { if [ -s "$1" ]; then tr -dc '0-9' < "$1"; fi; }

# Alive = exists and is not a zombie. (PID 1 in this sandbox reaps orphans only now and then, so an exited
# daemon can linger as <defunct> for a few seconds; `kill -0` would call it alive.)
pid_alive() {
  local pid="$1" stat
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  stat="$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
  [ -n "$stat" ] && [ "$stat" != Z ] && [ "$stat" != X ]
}

# Is PID a live process whose command name is NAME? (Guards against a stale PID file whose PID was reused.)
pid_is() {
  local pid="$1" name="$2" comm
  pid_alive "$pid" || return 1
  comm="$(cat "/proc/$pid/comm" 2>/dev/null || true)"
  [ "$comm" = "$name" ]
}

running() { pid_is "$(pid_from "$1")" "$2"; }   # running PIDFILE NAME

# "pid ppid" for every process, from /proc (the comm field may contain spaces: cut after its ")").
process_table() {
  local stat line fields pid ppid
  for stat in /proc/[0-9]*/stat; do
    line="$(cat "$stat" 2>/dev/null)" || continue
    fields="${line##*) }"
    read -r _ ppid _ <<<"$fields"
    pid="${stat#/proc/}"; pid="${pid%/stat}"
    echo "$pid $ppid"
  done
}

children_of() { process_table | awk -v p="$1" '$2 == p { printf "%s ", $1 }'; }

# PIDs of this cluster's slurmstepd processes and all their descendants.
stepd_trees() {
  local roots="" pid
  for pid in $(pgrep -x slurmstepd 2>/dev/null || true); do
    pid_alive "$pid" || continue
    if { tr '\0' '\n' < "/proc/$pid/environ"; } 2>/dev/null | grep -qxF "SLURM_CONF=$conf"; then roots="$roots $pid"; fi
  done
  [ -n "$roots" ] || return 0
  process_table | awk -v roots="$roots" '
    { parent[$1] = $2 }
    END {
      n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1
      do { grew = 0; for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; grew = 1 } } while (grew)
      for (p in keep) printf "%s ", p
    }'
}

# Stop the daemon named in PIDFILE: read its PID, SIGTERM it, wait for it to exit (SIGKILL after the timeout).
stop_daemon() {
  local pidfile="$1" name="$2" pid deadline
  pid="$(pid_from "$pidfile")"
  if ! pid_is "$pid" "$name"; then
    [ -e "$pidfile" ] && rm -f "$pidfile" && say "$name: removed stale PID file $pidfile"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + down_timeout))
  while pid_alive "$pid"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "$name (pid $pid) ignored SIGTERM for ${down_timeout}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.1
  done
  rm -f "$pidfile"
  say "stopped $name (pid $pid)"
}

# Wait (up to 5 s) until a just-started daemon has written its PID file; print the PID.
await_pidfile() {
  local pidfile="$1" name="$2"
  for _ in $(seq 50); do
    running "$pidfile" "$name" && { pid_from "$pidfile"; return 0; }
    sleep 0.1
  done
  die "$name did not write a PID file ($pidfile) naming a live $name"
}

# ---- status ----
report() {
  local n=0 name file
  for pair in "munged:$munged_pidfile" "slurmctld:$ctld_pidfile" "slurmd:$slurmd_pidfile"; do
    name="${pair%%:*}"; file="${pair#*:}"
    if running "$file" "$name"; then
      echo "$name: running (pid $(pid_from "$file"))"; n=$((n + 1))
    else
      echo "$name: not running"
    fi
  done
  return $((3 - n))
}

if [ "$action" = env ]; then
  echo "export SLURM_CONF='$conf'"
  exit 0
fi

if [ "$action" = status ]; then
  echo "state dir: $state_dir"
  rc=0; report || rc=$?
  if [ "$rc" -eq 0 ]; then
    sinfo 2>&1 || true
    exit 0
  fi
  [ "$rc" -eq 3 ] && exit 3
  exit 1
fi

if [ "$action" = down ]; then
  # 1. End the jobs first: slurmd does not take its jobs down with it (slurmstepd and the job's processes
  #    would outlive the cluster). This is a private test cluster, so every job in it goes. A cancelled job
  #    gets SIGTERM, then SIGKILL after KillWait (30 s), so allow a little more than that.
  if running "$ctld_pidfile" slurmctld; then
    jobs_left="$(squeue -h -o '%A' 2>/dev/null | sort -u | tr '\n' ' ' || true)"
    if [ -n "${jobs_left// /}" ]; then
      say "cancelling jobs: $jobs_left"
      # shellcheck disable=SC2086
      scancel $jobs_left 2>/dev/null || true
      deadline=$((SECONDS + jobs_timeout))
      while [ -n "$(squeue -h -o '%A' 2>/dev/null || true)" ] && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    fi
  fi
  # 2. Safety net: job processes still alive now (a job that would not die, or slurmctld already gone) are
  #    the slurmstepd processes of this cluster and everything below them. slurmstepd inherits
  #    SLURM_CONF=<this cluster's slurm.conf> from slurmd, which tells them apart from another cluster's.
  leftovers="$(stepd_trees)"
  if [ -n "$leftovers" ]; then
    say "stopping leftover job processes (slurmstepd and descendants): $leftovers"
    # shellcheck disable=SC2086
    kill -TERM $leftovers 2>/dev/null || true
    for _ in $(seq 30); do
      alive=""
      for p in $leftovers; do pid_alive "$p" && alive="$alive $p"; done
      [ -z "$alive" ] && break
      sleep 0.1
    done
    # shellcheck disable=SC2086
    if [ -n "$alive" ]; then kill -KILL $alive 2>/dev/null || true; fi
  fi
  # 3. The daemons, in reverse start order: slurmd, slurmctld (wait for its child slurmscriptd, which exits
  #    with it), then munged (the Slurm daemons need it to authenticate until they are gone).
  stop_daemon "$slurmd_pidfile" slurmd
  ctld_pid="$(pid_from "$ctld_pidfile")"
  ctld_children=""
  if pid_is "$ctld_pid" slurmctld; then ctld_children="$(children_of "$ctld_pid")"; fi
  stop_daemon "$ctld_pidfile" slurmctld
  for cpid in $ctld_children; do
    for _ in $(seq 50); do pid_alive "$cpid" || break; sleep 0.1; done
    if pid_alive "$cpid"; then
      say "slurmctld's child $cpid outlived it; sending SIGKILL"
      kill -KILL "$cpid" 2>/dev/null || true
    fi
  done
  stop_daemon "$munged_pidfile" munged
  exit 0
fi

# ---- up ----
[ "$(id -u)" -eq 0 ] || die "run as root (the daemons run as root, and so do the jobs)"
for tool in munged slurmctld slurmd sinfo scontrol; do
  command -v "$tool" >/dev/null || die "'$tool' not found (install slurm-wlm and munge)"
done

# The state dir and every directory above it must be searchable by everyone: munged refuses a socket
# under a directory without execute permission for all ("Socket is inaccessible"), e.g. under a
# `mktemp -d` directory (0700).
install -d -m 0755 "$state_dir" "$munge_dir" "$state_dir/ctld" "$state_dir/slurmd" "$state_dir/log" "$state_dir/run"
install -d -m 1777 "$state_dir/tmp"
dir="$state_dir"
while [ "$dir" != / ]; do
  [ "$(( 0$(stat -c '%a' "$dir") & 01 ))" -ne 0 ] ||
    die "'$dir' is not searchable by others (mode $(stat -c '%a' "$dir")); munged needs o+x on every directory above its socket: chmod o+x '$dir' or pick another STATE_DIR"
  dir="$(dirname "$dir")"
done

# 1. MUNGE: a private key (created once per state dir; 0400, owned by the user munged runs as, root), then
#    munged with every path it uses moved into STATE_DIR. It daemonises and writes its PID file.
if ! running "$munged_pidfile" munged; then
  if [ ! -s "$munge_dir/munge.key" ]; then
    if command -v mungekey >/dev/null; then
      mungekey --create --keyfile "$munge_dir/munge.key"
    else
      dd if=/dev/urandom of="$munge_dir/munge.key" bs=1 count=1024 status=none
    fi
  fi
  chmod 0400 "$munge_dir/munge.key"
  rm -f "$munge_socket" "$munge_socket.lock"
  munged --socket="$munge_socket" --key-file="$munge_dir/munge.key" --pid-file="$munged_pidfile" \
         --log-file="$munge_dir/munged.log" --seed-file="$munge_dir/munged.seed" \
    || die "munged failed to start; see $munge_dir/munged.log"
  pid="$(await_pidfile "$munged_pidfile" munged)"
  say "started munged (pid $pid)"
fi
# A credential must round-trip through our socket, or Slurm's daemons will not talk to each other.
for _ in $(seq 50); do
  munge -S "$munge_socket" -n 2>/dev/null | unmunge -S "$munge_socket" >/dev/null 2>&1 && break
  sleep 0.1
done
munge -S "$munge_socket" -n | unmunge -S "$munge_socket" >/dev/null || die "munge credential round-trip failed"

# 2. slurm.conf. Written only while no Slurm daemon runs (so `up` on a running cluster never changes the
#    config under it). The node line is what `slurmd -C` measures, plus NodeAddr=127.0.0.1: with
#    SlurmctldHost=<hostname>(127.0.0.1) all Slurm traffic stays on loopback.
if ! running "$ctld_pidfile" slurmctld && ! running "$slurmd_pidfile" slurmd; then
  host="$(hostname -s)"
  node_line="$(slurmd -C | head -1)"
  case "$node_line" in NodeName=*) ;; *) die "unexpected 'slurmd -C' output: $node_line" ;; esac
  node_name="${node_line#NodeName=}"; node_name="${node_name%% *}"
  cat > "$conf.tmp" <<EOF
# Written by slurm/local_cluster.sh: a one-node test cluster on loopback. Do not edit; re-run "down", "up".
ClusterName=relfm-local
SlurmctldHost=${host}(127.0.0.1)
SlurmctldPort=${ctld_port}
SlurmdPort=${slurmd_port}
SlurmUser=root
SlurmdUser=root
# Private MUNGE socket; cred_expire=10 shortens the wait before a requeued job may start (default 120 s).
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=${munge_socket},cred_expire=10
# Debian's Open MPI has only PMIx, so pmix is the one direct-launch plugin that works (srun --mpi=pmix).
MpiDefault=pmix
# No cgroups: the portable choice (cgroup v1 does work in this sandbox, see stack.md §5).
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Look at pending jobs every second (defaults: main loop 60 s, backfill 30 s): a requeued job becomes
# eligible after cred_expire and would otherwise sit in PENDING (Reason=BeginTime) until the next pass.
SchedulerParameters=sched_interval=1,bf_interval=1
# A node that was down comes back idle as soon as its slurmd registers.
ReturnToService=2
# Batch jobs may be requeued (scontrol requeue, used by the sbatch scripts on exit code 75).
JobRequeue=1
MailProg=/bin/true
StateSaveLocation=${state_dir}/ctld
SlurmdSpoolDir=${state_dir}/slurmd
# PMIx puts each step's rendezvous directory (spmix_appdir_<uid>_<job>.<step>) under TmpFS and does not
# always remove it; under the default /tmp a later cluster reusing job ids then fails to launch any step
# ("File exists"). Keep them in the state directory, which goes away with the cluster.
TmpFS=${state_dir}/tmp
SlurmctldPidFile=${ctld_pidfile}
SlurmdPidFile=${slurmd_pidfile}
SlurmctldLogFile=${state_dir}/log/slurmctld.log
SlurmdLogFile=${state_dir}/log/slurmd.log
# No slurmdbd: sacct does not work; use scontrol show job.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
${node_line} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=${node_name} Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$conf.tmp" "$conf"
fi
echo "export SLURM_CONF='$conf'" > "$state_dir/env"

# 3. slurmctld, then slurmd. Both daemonise and write their PID files. slurmctld recovers the state saved
#    in STATE_DIR/ctld from an earlier run of this state dir ("Could not open ... state file" on the
#    first start is normal).
if ! running "$ctld_pidfile" slurmctld; then
  slurmctld -f "$conf" || die "slurmctld failed to start; see $state_dir/log/slurmctld.log"
  pid="$(await_pidfile "$ctld_pidfile" slurmctld)"
  say "started slurmctld (pid $pid)"
fi
if ! running "$slurmd_pidfile" slurmd; then
  slurmd -f "$conf" || die "slurmd failed to start; see $state_dir/log/slurmd.log"
  pid="$(await_pidfile "$slurmd_pidfile" slurmd)"
  say "started slurmd (pid $pid)"
fi

# 4. Wait until sinfo reports the node idle (or busy with jobs recovered from an earlier run).
deadline=$((SECONDS + up_timeout))
while :; do
  node_state="$(sinfo -h -N -o '%T' 2>/dev/null | head -1 || true)"
  case "$node_state" in
    idle|mixed|allocated|completing) break ;;
  esac
  for pair in "munged:$munged_pidfile" "slurmctld:$ctld_pidfile" "slurmd:$slurmd_pidfile"; do
    running "${pair#*:}" "${pair%%:*}" || die "${pair%%:*} exited during start-up; see the logs in $state_dir/log and $munge_dir"
  done
  if [ "$SECONDS" -ge "$deadline" ]; then
    die "the node is not idle after ${up_timeout}s (sinfo says '${node_state:-nothing}'); see $state_dir/log/*.log"
  fi
  sleep 0.2
done
say "up: node $(hostname -s) is $node_state; clients need: export SLURM_CONF=$conf"
