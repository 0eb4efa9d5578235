#!/usr/bin/env bash
# bench/restart.sh [NETCOORD] - how fast a restarted agent answers /v1/rtt
# well again, with and without its -snapshot (issue 10 item 2). Not in CI:
# it takes ~5 minutes and measures time on a loaded machine.
#
# Method (cluster_matrix.sh's): 12 agents on 127.0.0.1 emulating 12
# PlanetLab hosts (scripts/cluster.sh, TEST FACILITY latency emulation).
# The victim (node05) is restarted at once with -snapshot added to its
# command line, then all agents probe for NC_CONVERGE_S (default 75 s).
# Its error is the median relative error |est - true| / true of its
# /v1/rtt?from=A&to=B over all 132 ordered pairs of the cluster (true: the
# mean of the two matrix directions); pairs it cannot answer count as
# infinitely wrong; also over the 22 pairs that involve the victim. Then:
#   1. kill -9 the victim, restart it with the same flags (its -join and
#      -snapshot): seconds until its median error is within 1.2x of the
#      one measured just before the kill (target: 10 s);
#   2. once it has run again for NC_SETTLE_S (default 30 s), kill -9 it
#      and restart it without -snapshot (a fresh agent, -join as before):
#      seconds until the same bound holds (given up after NC_FRESH_MAX_S,
#      default 240 s).
# Prints both. NC_KEEP=1 keeps the cluster directory.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NETCOORD=${1:-}
if [ -z "$NETCOORD" ]; then
	for b in "$ROOT"/build*/cmd/netcoord; do [ -x "$b" ] && NETCOORD=$b && break; done
fi
[ -x "${NETCOORD:-}" ] || { echo "usage: restart.sh path/to/netcoord" >&2; exit 2; }
NETCOORD=$(cd "$(dirname "$NETCOORD")" && pwd)/$(basename "$NETCOORD")
CONVERGE_S=${NC_CONVERGE_S:-75}
SETTLE_S=${NC_SETTLE_S:-30}
FRESH_MAX_S=${NC_FRESH_MAX_S:-240}
N=12
VICTIM=node05
DIR=$(mktemp -d /tmp/netcoord-restart.XXXXXX)
VPID=""

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
cleanup() {
	set +e
	[ -n "$VPID" ] && kill -KILL "$VPID" 2>/dev/null
	bash "$ROOT/scripts/cluster.sh" stop --dir "$DIR" >/dev/null 2>&1
	[ "${NC_KEEP:-0}" = 1 ] && log "kept $DIR" || rm -rf "$DIR"
}
trap cleanup EXIT

# Free ports below the ephemeral range (tests/integration/lib.sh's way).
free_base() {
	local lo=20000 hi base i ok
	hi=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range)
	for _ in $(seq 50); do
		base=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo - 2 * N)))
		ok=1
		for i in $(seq 0 $((2 * N - 1))); do
			ss -Hantu | awk '{print $5}' | grep -Eq "[:.]$((base + i))\$" && { ok=0; break; }
		done
		[ $ok = 1 ] && { echo "$base"; return; }
	done
	exit 1
}
GP=$(free_base)
HP=$((GP + N))
bash "$ROOT/scripts/cluster.sh" start "$N" --dir "$DIR" --base-port "$GP" \
	--http-port "$HP" --netcoord "$NETCOORD" >/dev/null

# The victim's flags, then it runs with -snapshot from now on.
OLD=$(awk -v n=$VICTIM '$1 == n {print $2}' "$DIR/cluster.pids")
VHTTP=$(awk -v n=$VICTIM '$1 == n {print $4}' "$DIR/cluster.pids")
mapfile -d '' ARGS <"/proc/$OLD/cmdline"
ARGS=("${ARGS[@]:1}")  # drop argv[0]
SNAP=$DIR/$VICTIM.snapshot
start_victim() { # start_victim LOG ARGS...
	local lg=$1; shift
	setsid "$NETCOORD" "$@" </dev/null >>"$DIR/$lg" 2>&1 &
	VPID=$!
	awk -v n=$VICTIM -v p=$VPID '$1 == n {$2 = p} {print}' "$DIR/cluster.pids" \
		>"$DIR/pids.tmp" && mv "$DIR/pids.tmp" "$DIR/cluster.pids"
}
kill -KILL "$OLD"
sleep 0.5
start_victim "$VICTIM.log" "${ARGS[@]}" -snapshot "$SNAP"

# Median RE of the victim's /v1/rtt over all ordered pairs.
medre() {
	python3 - "$DIR" "$VHTTP" "$VICTIM" <<'EOF'
import json, statistics, sys, urllib.request, urllib.parse
d, port = sys.argv[1], int(sys.argv[2])
names = [l.split()[0] for l in open(d + "/cluster.pids")]
m = [[float(x) for x in l.split()] for l in open(d + "/sub_ms.txt") if l.strip()]
res, own = [], []
v = names.index(sys.argv[3])
for i, a in enumerate(names):
    for j, b in enumerate(names):
        if i == j:
            continue
        t = (m[i][j] + m[j][i]) / 2
        if t <= 0:
            continue
        try:
            q = urllib.parse.urlencode({"from": a, "to": b})
            with urllib.request.urlopen("http://127.0.0.1:%d/v1/rtt?%s" % (port, q), timeout=2) as r:
                est = json.load(r).get("EstimatedMs")
        except Exception:
            est = None
        res.append(float("inf") if est is None else abs(est - t) / t)
        if v in (i, j):
            own.append(res[-1])
print("%.4f %.4f" % (statistics.median(res), statistics.median(own)))
EOF
}
# Time until both medians are within 1.2x of "PRE_ALL PRE_OWN", polled
# ~every 0.5 s.
time_to() { # time_to "PRE_ALL PRE_OWN" MAX_S
	local t0 now el re all own got_all="" got_own=""
	t0=$(date +%s.%N)
	while :; do
		re=$(medre 2>/dev/null || echo "inf inf")
		all=${re% *}; own=${re#* }
		now=$(date +%s.%N)
		el=$(awk -v a="$t0" -v b="$now" 'BEGIN{printf "%.1f", b-a}')
		if [ -z "$got_all" ] && awk -v x="$all" -v p="${1% *}" 'BEGIN{exit !(x <= 1.2 * p)}'; then
			got_all="$el s (RE $all)"
		fi
		if [ -z "$got_own" ] && awk -v x="$own" -v p="${1#* }" 'BEGIN{exit !(x <= 1.2 * p)}'; then
			got_own="$el s (RE $own)"
		fi
		[ -n "$got_all" ] && [ -n "$got_own" ] && break
		awk -v e="$el" -v s="$2" 'BEGIN{exit !(e > s)}' && break
		sleep 0.5
	done
	echo "all pairs ${got_all:-not within $2 s (RE $all)}; its 22 pairs ${got_own:-not within $2 s (RE $own)}"
}

log "12 agents up; $VICTIM runs with -snapshot; probing ${CONVERGE_S}s"
sleep "$CONVERGE_S"
PRE=$(medre)
log "$VICTIM before the kill: median RE (all pairs, its pairs) $PRE"

log "kill -9 $VICTIM; restart with its snapshot"
kill -KILL "$VPID"; wait "$VPID" 2>/dev/null || true
start_victim "$VICTIM.log" "${ARGS[@]}" -snapshot "$SNAP"
WITH=$(time_to "$PRE" 60)
log "with the snapshot: within 1.2x after $WITH"

sleep "$SETTLE_S"
PRE2=$(medre)
log "$VICTIM before the second kill: median RE (all pairs, its pairs) $PRE2"
log "kill -9 $VICTIM; restart without a snapshot (-join only)"
kill -KILL "$VPID"; wait "$VPID" 2>/dev/null || true
start_victim "$VICTIM.log" "${ARGS[@]}"
WITHOUT=$(time_to "$PRE2" "$FRESH_MAX_S")
log "without the snapshot: within 1.2x after $WITHOUT"

echo
echo "restart of $VICTIM, 12-agent latency-emulated cluster: time until its /v1/rtt"
echo "median RE is within 1.2x of the pre-restart one (all 132 pairs; the 22 with $VICTIM):"
echo "  with -snapshot (pre: $PRE):   $WITH"
echo "  without snapshot (pre: $PRE2): $WITHOUT"
