#!/usr/bin/env bash
# bench/held_requests.sh - 1,000 blocking queries held on one agent (a
# benchmark that prints figures, not a test; nothing fails on a slow
# machine).
#
#   bench/held_requests.sh [--netcoord BIN] [--held N] [--hold S]
#                          [--baseline S]
#
# A 5-agent loopback cluster (scripts/cluster.sh --no-latency, profile
# lan, every agent with -http-max-conns N+200 and no per-client limit).
#   1. Baseline: node00's RSS and CPU over --baseline s (default 20).
#   2. N (default 1,000) connections (python3 asyncio, raw sockets) send
#      GET /v1/members?index=I&wait=10m to node00 with its current index
#      and are held for --hold s (default 60): node00's RSS and CPU again,
#      its netcoord_http_blocking_held gauge, and every second each
#      peer's view of node00 (must stay alive).
#   3. kill -9 node04: how long until each of the N answers arrives
#      (median, max), and whether they all carry a larger index.
#   4. The peers' logs searched for suspicion / failure of node00, and
#      node00's refutation counter: a loaded agent must not look dead.
#
# Everything binds to 127.0.0.1; every process started is stopped by PID
# on exit; every wait is bounded.
set -euo pipefail
EPHEMERAL_LO=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NETCOORD=""
HELD=1000
HOLD=60
BASELINE=20
while [ $# -gt 0 ]; do
	case "$1" in
	--netcoord) NETCOORD=$2; shift 2 ;;
	--held) HELD=$2; shift 2 ;;
	--hold) HOLD=$2; shift 2 ;;
	--baseline) BASELINE=$2; shift 2 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "held_requests.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
if [ -z "$NETCOORD" ]; then
	for b in "$ROOT/build/cmd/netcoord" "$ROOT"/build*/cmd/netcoord; do
		[ -x "$b" ] && { NETCOORD=$b; break; }
	done
fi
[ -x "$NETCOORD" ] || { echo "held_requests.sh: no netcoord binary (scripts/build.sh)" >&2; exit 2; }
for t in curl python3; do
	command -v $t >/dev/null || { echo "held_requests.sh: $t not installed" >&2; exit 2; }
done

TMP=$(mktemp -d /tmp/netcoord-bench.XXXXXX)
PIDS=()
CLUSTER_UP=0
cleanup() {
	local pid
	for pid in ${PIDS[@]+"${PIDS[@]}"}; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	[ "$CLUSTER_UP" = 1 ] && bash "$ROOT/scripts/cluster.sh" stop --dir "$TMP/cluster" >/dev/null 2>&1 || true
	if [ "${KEEP:-0}" = 1 ]; then echo "logs kept in $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
port_busy() { ss -Hltun 2>/dev/null | awk '{print $5}' | grep -Eq "[:.]$1\$"; }
free_ports() {
	local n=$1 base i ok
	for _ in $(seq 1 50); do
		base=$((20000 + (RANDOM * 32768 + RANDOM) % (EPHEMERAL_LO - 20000 - 200)))
		ok=1
		for i in $(seq 0 $((n - 1))); do
			port_busy $((base + i)) && { ok=0; break; }
		done
		[ $ok = 1 ] && { echo "$base"; return 0; }
	done
	echo "held_requests.sh: no free port range" >&2
	exit 1
}
wait_until() {
	local end=$(( $(date +%s) + $1 )); shift
	while ! "$@"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.5
	done
}
alive_count() {
	curl -sf --max-time 5 "http://127.0.0.1:$1/v1/members" | python3 -c '
import json, sys
print(sum(1 for m in json.load(sys.stdin) if m.get("Status") == "alive"))' 2>/dev/null || echo 0
}
alive_at_least() { [ "$(alive_count "$1")" -ge "$2" ]; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
metric() { # metric HTTPPORT NAME
	curl -sf --max-time 5 "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n {print $2}'
}
stat_of() { # stat_of HTTPPORT KEY (gossip counter)
	curl -sf --max-time 5 "http://127.0.0.1:$1/v1/stats" |
		python3 -c "import json,sys; print(int(json.load(sys.stdin)['gossip']['$2']))" 2>/dev/null || echo -1
}
# Peers' view of node00 for S seconds; prints "samples bad".
watch_node00() {
	local secs=$1 end samples=0 bad=0 i st
	end=$(( $(date +%s) + secs ))
	while [ "$(date +%s)" -lt "$end" ]; do
		for i in 1 2 3; do # node04 is killed later
			st=$(curl -sf --max-time 2 "http://127.0.0.1:$((HB + i))/v1/members" |
				python3 -c 'import json,sys
print(next((m["Status"] for m in json.load(sys.stdin) if m["Name"] == "node00"), "missing"))' 2>/dev/null || echo "?")
			samples=$((samples + 1))
			[ "$st" = alive ] || bad=$((bad + 1))
		done
		sleep 1
	done
	echo "$samples $bad"
}
HZ=$(getconf CLK_TCK)

GB=$(free_ports 5)
HB=$(free_ports 5)
log "5-agent loopback cluster (gossip :$GB.., http :$HB..)"
CLUSTER_UP=1
bash "$ROOT/scripts/cluster.sh" start 5 --no-latency --dir "$TMP/cluster" \
	--base-port "$GB" --http-port "$HB" --netcoord "$NETCOORD" \
	-- -http-max-conns "$((HELD + 200))" -http-max-conns-per-client 0 >/dev/null
for i in 0 1 2 3 4; do
	wait_until 30 alive_at_least $((HB + i)) 5 ||
		{ log "FAIL: node0$i does not see 5 alive members"; exit 1; }
done
P0=$(awk '$1 == "node00" {print $2}' "$TMP/cluster/cluster.pids")
P4=$(awk '$1 == "node04" {print $2}' "$TMP/cluster/cluster.pids")
sleep 5 # past the joins' bursts

log "baseline: node00 idle for ${BASELINE}s"
rss0=$(rss_kb "$P0"); c0=$(cpu_ticks "$P0")
read -r bs_samples bs_bad < <(watch_node00 "$BASELINE")
c1=$(cpu_ticks "$P0"); rss1=$(rss_kb "$P0")
cpu_base=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v s="$BASELINE" 'BEGIN {printf "%.2f", 100 * (b - a) / hz / s}')

ref0=$(stat_of "$HB" refutations)
I=$(curl -sf -D - -o /dev/null --max-time 5 "http://127.0.0.1:$HB/v1/members" |
	tr -d '\r' | awk -F': ' 'tolower($1) == "x-netcoord-index" {print $2}')
log "holding $HELD blocking queries (index $I) on node00 for ${HOLD}s"
cat >"$TMP/hold.py" <<'EOF'
# hold.py PORT N INDEX HOLD_S KILL_PID: hold N blocking queries, wait
# HOLD_S, kill -9 KILL_PID, time every answer. Prints "held N" when all
# are sent, then one JSON line of results.
import asyncio, json, os, re, resource, signal, sys, time
port, n, index, hold, victim = (int(sys.argv[1]), int(sys.argv[2]),
    sys.argv[3], float(sys.argv[4]), int(sys.argv[5]))
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 100) if hard > 0 else n + 100, hard))
req = ("GET /v1/members?index=%s&wait=10m HTTP/1.1\r\nHost: 127.0.0.1\r\n"
       "Connection: close\r\n\r\n" % index).encode()
done, early = [], []
async def one(killed):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(req)
    await w.drain()
    data = await r.read()
    t = time.monotonic()
    w.close()
    (done if killed.is_set() else early).append((t, data))
async def main():
    killed = asyncio.Event()
    tasks = [asyncio.ensure_future(one(killed)) for _ in range(n)]
    await asyncio.sleep(1)
    print("held", n, flush=True)
    await asyncio.sleep(hold)
    killed.set()
    t0 = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    await asyncio.wait(tasks, timeout=60)
    lat = sorted(t - t0 for t, _ in done)
    idx = [int(m.group(1)) for _, d in done
           for m in [re.search(rb"X-Netcoord-Index: (\d+)", d)] if m]
    print(json.dumps({"answered": len(done), "early": len(early),
        "median_s": lat[len(lat) // 2] if lat else None,
        "max_s": lat[-1] if lat else None,
        "index_grew": sum(1 for i in idx if i > int(index)),
        "status_200": sum(1 for _, d in done if d.startswith(b"HTTP/1.1 200"))}),
        flush=True)
asyncio.run(main())
EOF
python3 "$TMP/hold.py" "$HB" "$HELD" "$I" "$HOLD" "$P4" >"$TMP/hold.out" 2>"$TMP/hold.err" &
HOLDER=$!
PIDS+=("$HOLDER")
wait_until 30 grep -q '^held' "$TMP/hold.out" || { log "FAIL: holder did not start: $(cat "$TMP/hold.err")"; exit 1; }
sleep 2
held_gauge=$(metric "$HB" netcoord_http_blocking_held)
c2=$(cpu_ticks "$P0"); t2=$(date +%s.%N)
read -r hs_samples hs_bad < <(watch_node00 $((HOLD - 6)))
c3=$(cpu_ticks "$P0"); t3=$(date +%s.%N); rss2=$(rss_kb "$P0")
cpu_held=$(awk -v a="$c2" -v b="$c3" -v hz="$HZ" -v t0="$t2" -v t1="$t3" 'BEGIN {printf "%.2f", 100 * (b - a) / hz / (t1 - t0)}')
evals=$(metric "$HB" netcoord_http_blocking_evaluations_total)
log "node04 is killed by the holder after ${HOLD}s; waiting for the answers"
wait_until 90 grep -q '^{' "$TMP/hold.out" || { log "FAIL: no result: $(cat "$TMP/hold.err")"; exit 1; }
res=$(grep '^{' "$TMP/hold.out")
sleep 2
ref1=$(stat_of "$HB" refutations)
suspect_lines=$(cat "$TMP"/cluster/node0[1-3].log 2>/dev/null |
	grep -c "EventMemberSuspect: node00\|EventMemberFailed: node00" || true)
get() { python3 -c "import json,sys; v=json.loads(sys.argv[1])['$1']; print('%.2f' % v if isinstance(v, float) else v)" "$res"; }

echo
echo "held requests on node00 (5-agent loopback cluster, $(nproc) cores):"
echo "  held (netcoord_http_blocking_held): ${held_gauge:-?} of $HELD; answered before the kill: $(get early)"
echo "  RSS: ${rss1} kB idle -> ${rss2} kB with $HELD held (+$(( (rss2 - rss1) )) kB, $(( (rss2 - rss1) * 1024 / HELD )) B per request)"
echo "  CPU: ${cpu_base}% idle -> ${cpu_held}% with $HELD held (of one core)"
echo "  evaluations for the held requests during the hold: ${evals:-?}"
echo "  after kill -9 node04: $(get answered) answered (status 200: $(get status_200), larger index: $(get index_grew)); median $(get median_s) s, last $(get max_s) s after the kill"
echo "  peers' view of node00: baseline $bs_samples samples ($bs_bad not alive), held $hs_samples samples ($hs_bad not alive)"
echo "  peers' log lines suspecting/failing node00: $suspect_lines; node00 refutations: $((ref1 - ref0))"
if [ "$hs_bad" = 0 ] && [ "$suspect_lines" = 0 ] && [ "$((ref1 - ref0))" = 0 ]; then
	echo "  result: OK - no peer suspected node00 while it held $HELD requests"
else
	echo "  result: NOT OK - node00 was suspected"
	KEEP=1
fi
