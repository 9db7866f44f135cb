#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the Slurm backend's tests:
#   scripts/slurm_cluster.sh start   install slurm-wlm and munge if missing,
#                                     write a slurm.conf for this host, start
#                                     munged, slurmctld and slurmd, wait until
#                                     the node is idle
#   scripts/slurm_cluster.sh stop    stop the daemons this script started
# Root only (it writes /etc/slurm and starts daemons). No cgroups, no
# accounting database: proctrack/linuxproc and task/none work in containers and
# VMs alike; sacct then reports that accounting is off and the scheduler falls
# back to scontrol and its run folders.
set -euo pipefail
STATE=/run/scalelab-slurm
CONF=/etc/slurm/slurm.conf
say() { printf 'slurm_cluster: %s\n' "$*"; }

install() {
  local missing=()
  for p in slurm-wlm munge; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  say "installing ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

write_conf() {
  local host cpus
  host="$(hostname -s)"
  cpus="$(nproc)"
  mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm "$STATE"
  cat > "$CONF" <<CONF
# Written by scalelab's scripts/slurm_cluster.sh for $host: one node, CPUs only.
ClusterName=scalelab
SlurmctldHost=$host
SlurmUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
KillWait=10
MinJobAge=600
SchedulerTimeSlice=5
MessageTimeout=20
NodeName=$host CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
}

start() {
  [ "$(id -u)" -eq 0 ] || { say "needs root"; exit 1; }
  install
  write_conf
  if ! pgrep -x munged >/dev/null; then
    [ -s /etc/munge/munge.key ] || mungekey --create --force
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    runuser -u munge -- /usr/sbin/munged
    touch "$STATE/munged.ours"
  fi
  pgrep -x slurmctld >/dev/null || /usr/sbin/slurmctld -c
  pgrep -x slurmd >/dev/null || /usr/sbin/slurmd -c
  local host
  host="$(hostname -s)"
  for _ in $(seq 60); do
    state="$(sinfo -h -n "$host" -o %T 2>/dev/null || true)"
    case "$state" in
      idle*|mixed*|allocated*) say "node $host is $state"; return 0 ;;
      down*|drain*) scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 1
  done
  say "node $host did not become idle (state '${state:-none}'); logs in /var/log/slurm"
  tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
  exit 1
}

stop() {
  scontrol shutdown >/dev/null 2>&1 || true
  for f in slurmd slurmctld; do
    [ -f "$STATE/$f.pid" ] && kill "$(cat "$STATE/$f.pid")" 2>/dev/null || true
  done
  if [ -f "$STATE/munged.ours" ]; then
    kill "$(cat /run/munge/munged.pid 2>/dev/null)" 2>/dev/null || true
    rm -f "$STATE/munged.ours"
  fi
  say "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
