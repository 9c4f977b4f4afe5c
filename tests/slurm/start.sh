#!/usr/bin/env bash
# A real one-node Slurm on this machine, for pgvg's Slurm tests (tests/core/test_launcher.py, marked slow):
# munged, slurmctld and slurmd (Debian's slurm-wlm) on localhost, configured in a folder of their own.
#
#   tests/slurm/start.sh [FOLDER]     (default /tmp/pgvg-slurm; prints `export SLURM_CONF=FOLDER/slurm.conf`)
#   tests/slurm/stop.sh  [FOLDER]
#
# Needs: root (slurmd runs jobs as their users; munged's key is root's), and either Slurm already installed
# or apt-get (it then installs slurm-wlm and munge). Where it cannot run it exits 77 with the reason, which the
# tests turn into a skip. Nothing outside FOLDER is changed but /etc/munge/munge.key (made if missing) and
# munged's socket in /run/munge.
set -euo pipefail
FOLDER="${1:-/tmp/pgvg-slurm}"
cannot() { echo "cannot start Slurm here: $*" >&2; exit 77; }

[ "$(id -u)" = 0 ] || cannot "it needs root (slurmd starts jobs as their users; munged's key is root's)"
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  command -v apt-get >/dev/null || cannot "slurm-wlm and munge are not installed and there is no apt-get"
  echo "installing Debian's slurm-wlm and munge ..." >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null; } \
    || cannot "apt-get install slurm-wlm munge failed (no network to Debian's mirror?)"
fi

mkdir -p "$FOLDER"/{state,spool,log}
HOST="$(hostname -s)"
CPUS="$(nproc)"
MEMORY_MB="$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)"
cat > "$FOLDER/slurm.conf" <<CONF
ClusterName=pgvg-test
SlurmctldHost=$HOST
SlurmUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
StateSaveLocation=$FOLDER/state
SlurmdSpoolDir=$FOLDER/spool
SlurmctldPidFile=$FOLDER/slurmctld.pid
SlurmdPidFile=$FOLDER/slurmd.pid
SlurmctldLogFile=$FOLDER/log/slurmctld.log
SlurmdLogFile=$FOLDER/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=60
SlurmdTimeout=60
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
NodeName=$HOST CPUs=$CPUS RealMemory=$MEMORY_MB State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$FOLDER/slurm.conf"

if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge && mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null \
    || dd if=/dev/urandom of=/etc/munge/munge.key bs=1k count=1 status=none
  chmod 400 /etc/munge/munge.key
fi
mkdir -p /run/munge /var/log/munge /var/lib/munge
pgrep -x munged >/dev/null || munged --force || cannot "munged did not start"

"$(dirname "$0")/stop.sh" "$FOLDER" --daemons-only >/dev/null 2>&1 || true
slurmctld -f "$SLURM_CONF" || cannot "slurmctld did not start (see $FOLDER/log/slurmctld.log)"
slurmd -f "$SLURM_CONF" || cannot "slurmd did not start (see $FOLDER/log/slurmd.log)"
for _ in $(seq 60); do
  if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
  sleep 1
done
cannot "the node did not come up: $(sinfo -h 2>&1 | head -3) (see $FOLDER/log/)"
