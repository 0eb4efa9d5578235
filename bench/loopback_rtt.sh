#!/usr/bin/env bash
# bench/loopback_rtt.sh - how close is /v1/rtt to the true round trip on an
# idle loopback cluster (no latency emulation)? A figure, not a test.
#
#   bench/loopback_rtt.sh [--netcoord BIN] [--udp-echo BIN] [--agents N]
#                         [--wait S]
#
# Starts N agents (default 5) with scripts/cluster.sh --no-latency, lets
# them probe for S seconds (default 90), reads /v1/rtt for every ordered
# pair (the coordinate estimate, and the last measured probe RTT), then
# measures the true UDP round trip between two processes on 127.0.0.1 with
# bench/udp_echo (1000 echoes, 10 ms apart) in the same run. Prints the
# medians and the ratio estimate / true (target: within 2x).
set -euo pipefail
# Ports we bind stay below the kernel's ephemeral range, so no outgoing
# connection (curl, wrk) can take one between the check and the bind.
EPHEMERAL_LO=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NETCOORD="" ECHO="" N=5 WAIT=90
while [ $# -gt 0 ]; do
	case "$1" in
	--netcoord) NETCOORD=$2; shift 2 ;;
	--udp-echo) ECHO=$2; shift 2 ;;
	--agents) N=$2; shift 2 ;;
	--wait) WAIT=$2; shift 2 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "loopback_rtt.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
for b in "$ROOT/build" "$ROOT"/build*; do
	[ -z "$NETCOORD" ] && [ -x "$b/cmd/netcoord" ] && NETCOORD=$b/cmd/netcoord
	[ -z "$ECHO" ] && [ -x "$b/bench/udp_echo" ] && ECHO=$b/bench/udp_echo
done
[ -x "$NETCOORD" ] && [ -x "$ECHO" ] ||
	{ echo "loopback_rtt.sh: build netcoord and bench/udp_echo first" >&2; exit 2; }

TMP=$(mktemp -d /tmp/netcoord-loopback.XXXXXX)
cleanup() {
	bash "$ROOT/scripts/cluster.sh" stop --dir "$TMP/cluster" >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_busy() { ss -Hltun 2>/dev/null | awk '{print $5}' | grep -Eq "[:.]$1\$"; }
free_base() {
	local base i ok
	for _ in $(seq 1 50); do
		base=$((20000 + (RANDOM * 32768 + RANDOM) % (EPHEMERAL_LO - 20000 - 200)))
		ok=1
		for i in $(seq 0 $((2 * N - 1))); do
			port_busy $((base + i)) && { ok=0; break; }
		done
		[ $ok = 1 ] && { echo "$base"; return 0; }
	done
	exit 1
}
B=$(free_base)
bash "$ROOT/scripts/cluster.sh" start "$N" --no-latency --dir "$TMP/cluster" \
	--base-port "$B" --http-port $((B + N)) --netcoord "$NETCOORD" >/dev/null
echo "loopback_rtt: $N idle agents, probing for ${WAIT}s ..."
sleep "$WAIT"
pairs=$(while read -r name pid gp hp rest; do
	while read -r other _ _ _ _; do
		[ "$other" = "$name" ] && continue
		curl -sf --max-time 2 "http://127.0.0.1:$hp/v1/rtt?to=$other" || true
		echo
	done <"$TMP/cluster/cluster.pids"
done <"$TMP/cluster/cluster.pids")
echo_stats=$("$ECHO" 1000 10)
python3 - "$echo_stats" <<EOF
import json, statistics, sys
est, meas = [], []
for line in """$pairs""".splitlines():
    if not line.strip():
        continue
    d = json.loads(line)
    if d.get("EstimatedMs") is not None:
        est.append(d["EstimatedMs"])
    if d.get("MeasuredMs") is not None:
        meas.append(d["MeasuredMs"])
mn, p10, med, p90, mx = map(float, sys.argv[1].split())
print("true UDP round trip (udp_echo, 2 processes): median %.4f ms "
      "(p10 %.4f, p90 %.4f)" % (med, p10, p90))
if meas:
    print("agents' last measured probe RTT:            median %.4f ms over %d pairs"
          % (statistics.median(meas), len(meas)))
if est:
    e = statistics.median(est)
    print("agents' /v1/rtt estimate:                   median %.4f ms over %d pairs "
          "(min %.4f, max %.4f)" % (e, len(est), min(est), max(est)))
    r = e / med
    print("estimate / true = %.2f (target: within 2x, i.e. 0.5 .. 2.0): %s"
          % (r, "met" if 0.5 <= r <= 2.0 else "MISSED"))
EOF
