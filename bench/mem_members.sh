#!/usr/bin/env bash
# mem_members.sh NETCOORD [MEMBERS] [WAIT_S]: private memory of one agent
# holding MEMBERS members. A fake memberlist seed (fake_seed.py) answers the
# agent's join with MEMBERS alive members; after WAIT_S seconds the agent's
# Rss / Anonymous (smaps_rollup) are printed, then again right after one
# GET /v1/members and once more after the agent's periodic malloc_trim.
# 127.0.0.1 only; every process is stopped by PID (tests/integration/lib.sh).
set -euo pipefail
NETCOORD=$1; FAKE=${2:-1000}; MEMWAIT=${3:-20}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../tests/integration/lib.sh"
nc_setup
mapfile -t X < <(nc_ports 3)
python3 "$HERE/fake_seed.py" "${X[0]}" "$FAKE" 61000 &
NC_PIDS+=("$!")
sleep 0.5
nc_start m1 -bind "127.0.0.1:${X[1]}" -http-addr "127.0.0.1:${X[2]}" \
	-profile lan -join "127.0.0.1:${X[0]}" -log-level warn
sleep "$MEMWAIT"
pm=$(pid_of m1)
kb() { awk -v k="$1" '$1==k":"{print $2}' "/proc/$pm/smaps_rollup"; }
show() { echo "$1: Rss $(kb Rss) KiB, Anonymous $(kb Anonymous) KiB"; }
show "idle, $FAKE members"
cnt=$(curl -sf "http://127.0.0.1:${X[2]}/v1/members" | grep -o '"Name"' | wc -l || echo 0)
show "after GET /v1/members ($cnt listed)"
sleep 11
show "10 s later (malloc_trim)"
