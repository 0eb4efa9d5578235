#!/usr/bin/env bash
# cluster_matrix.sh NETCOORD - coordinates of a real cluster against a real
# RTT matrix (CTest, labels net;integration).
#
# Story: 12 agents on 127.0.0.1 (scripts/cluster.sh) emulate 12 PlanetLab
# hosts of tests/data/planetlab200_ms.txt spread over three regions
# (TEST FACILITY latency emulation: each agent delays what it sends by half
# the matrix RTT, loop/latency.h). Once they all see each other, they
# probe for NC_CONVERGE_S seconds (default 75: ~75 probes each, LAN
# profile). Then:
#   1. `netcoord sim` runs on the same 12x12 sub-matrix for as many rounds
#      as the agents probed (median over seeds 1..5), and the agents'
#      /v1/rtt median relative error over all 132 ordered pairs must be
#      within 1.5x of the simulator's;
#   2. /v1/nearest?n=3 of most agents holds the true nearest peer, the
#      verified nearest (/v1/nearest?n=1&verify=8) is the true nearest for
#      >= 11 of 12 agents, and the first group of /v1/failover?group=dc
#      is the truly closest region (cluster_matrix_check.py);
#   3. one agent is killed with SIGKILL; it must vanish from every other
#      agent's /v1/nearest within the failure-detection bound of the LAN
#      profile: N probe intervals to be probed by someone, plus the
#      longest Lifeguard suspicion timeout (6 x 4 x log10(N) x 1 s), plus
#      3 s for the dead message to spread.
# Prints the measured figures; NC_KEEP_LOGS=1 keeps the logs.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
NETCOORD=${1:?usage: cluster_matrix.sh path/to/netcoord}
N=${NC_CLUSTER_N:-12}
CONVERGE_S=${NC_CONVERGE_S:-75}
source "$HERE/lib.sh"
nc_setup
command -v python3 >/dev/null || { log "SKIP: python3 not installed"; exit 77; }
[ -r "$ROOT/tests/data/planetlab200_ms.txt" ] || { log "SKIP: no matrix"; exit 77; }

DIR=$NC_TMP/cluster
cm_on_exit() {
	local rc=$?
	set +e
	bash "$ROOT/scripts/cluster.sh" stop --dir "$DIR" >/dev/null 2>&1 || true
	# lib.sh's handler prints the logs of a failed run and cleans up.
	[ $rc -ne 0 ] && [ $rc -ne 77 ] && cp "$DIR"/*.log "$NC_TMP"/ 2>/dev/null
	(exit $rc)
	nc_on_exit
}
trap cm_on_exit EXIT

GP=$(nc_ports $((2 * N)) | head -1)
HP=$((GP + N))
bash "$ROOT/scripts/cluster.sh" start "$N" --dir "$DIR" --base-port "$GP" \
	--http-port "$HP" --netcoord "$NETCOORD"

http_of() { awk -v n="$1" '$1 == n {print $4}' "$DIR/cluster.pids"; }
alive_seen() {  # alive_seen HTTPPORT: number of alive members
	curl -sf --max-time 2 "http://127.0.0.1:$1/v1/members" | python3 -c '
import json, sys
print(sum(1 for m in json.load(sys.stdin) if m["Status"] == "alive"))' 2>/dev/null || echo 0
}
all_see_all() {
	local name pid gp hp rest
	while read -r name pid gp hp rest; do
		[ "$(alive_seen "$hp")" = "$N" ] || return 1
	done <"$DIR/cluster.pids"
}
wait_for 30 "every agent sees $N alive members" all_see_all

log "probing for ${CONVERGE_S}s (coordinates converge)"
sleep "$CONVERGE_S"

# Probes per agent so far = rounds for the simulator.
ROUNDS=$(while read -r name pid gp hp rest; do
	curl -sf --max-time 2 "http://127.0.0.1:$hp/v1/stats" |
		python3 -c 'import json,sys; print(int(json.load(sys.stdin)["gossip"]["probes"]))'
done <"$DIR/cluster.pids" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
log "median probes per agent: $ROUNDS"
[ "${ROUNDS:-0}" -ge 10 ] || die "agents probed only ${ROUNDS:-0} times"

SIM_RE=$(for seed in 1 2 3 4 5; do
	"$NETCOORD" sim -matrix "$DIR/sub_ms.txt" -rounds "$ROUNDS" \
		-report "$ROUNDS" -seed "$seed" | awk '$1 ~ /^[0-9]+$/ {print $2}'
done | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
log "netcoord sim on the same ${N}x${N} matrix, $ROUNDS rounds: median RE $SIM_RE (median of 5 seeds)"

python3 "$HERE/cluster_matrix_check.py" "$DIR" "$SIM_RE" ||
	die "coordinates do not match the matrix well enough"

# Kill one agent (not node00/node01: the others' join addresses).
VICTIM=node05
VPID=$(awk -v n=$VICTIM '$1 == n {print $2}' "$DIR/cluster.pids")
BOUND=$(python3 -c "import math; print(int(math.ceil($N * 1.0 + 6 * 4 * max(1, math.log10($N)) * 1.0 + 3)))")
victim_listed() {  # true while some live agent still lists the victim
	local name pid gp hp rest
	while read -r name pid gp hp rest; do
		[ "$name" = "$VICTIM" ] && continue
		curl -sf --max-time 2 "http://127.0.0.1:$hp/v1/nearest?n=100" |
			grep -q "\"Name\":\"$VICTIM\"" && return 0
	done <"$DIR/cluster.pids"
	return 1
}
victim_gone() { ! victim_listed; }
victim_listed || die "$VICTIM is not in every nearest answer before the kill"
log "kill -9 $VICTIM (pid $VPID); failure-detection bound ${BOUND}s"
kill -KILL "$VPID"
wait_for "$BOUND" "$VICTIM gone from every agent's /v1/nearest" victim_gone
victim_failed_everywhere() {
	local name pid gp hp rest
	while read -r name pid gp hp rest; do
		[ "$name" = "$VICTIM" ] && continue
		status_is nc_members "$hp" "$VICTIM" failed || return 1
	done <"$DIR/cluster.pids"
}
wait_for "$BOUND" "$VICTIM failed in every agent's /v1/members (since the kill: see above + this)" \
	victim_failed_everywhere
log "PASS"
