#!/usr/bin/env bash
# Stops the Slurm of tests/slurm/start.sh (its jobs, slurmd, slurmctld); `--daemons-only` keeps its folder.
FOLDER="${1:-/tmp/pgvg-slurm}"
export SLURM_CONF="$FOLDER/slurm.conf"
[ -f "$SLURM_CONF" ] && scancel --user root >/dev/null 2>&1
for pidfile in "$FOLDER/slurmd.pid" "$FOLDER/slurmctld.pid"; do
  [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
done
sleep 1
[ "${2:-}" = "--daemons-only" ] || rm -rf "$FOLDER/state" "$FOLDER/spool"
exit 0
