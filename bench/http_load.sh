#!/usr/bin/env bash
# bench/http_load.sh - HTTP load benchmark of the agent (a benchmark that
# prints figures, not a test; nothing fails on a slow machine).
#
#   bench/http_load.sh [--netcoord BIN] [--members N] [--duration S]
#                      [--connections C] [--threads T] [--skip-cluster]
#
# Part 1, throughput: one agent holding N fake members (default 10,000,
#   played by bench/members_load.py: alive, each with a coordinate), then
#   wrk with keep-alive against /v1/health (the baseline: routing + MHD,
#   no work) and /v1/nearest?n=5 (ranking all N members), same run, same
#   settings. Prints req/s, p50 and p99 of each and the ratio
#   nearest/health. Targets (issue #4): nearest >= 30,000 req/s and
#   p99 <= 5 ms on 2 cores. Identical queries are answered from the
#   answer cache (api/view.c) except after each rebuild of the member
#   view (at most every 0.25 s); the script prints how many rebuilds,
#   hits and misses the nearest run saw (/metrics). A third run asks
#   /v1/nearest?n=5&from=fake-<i> for 1,000 different sources in turn:
#   more distinct queries than the cache keeps (128), so every answer is
#   ranked over all N members: the uncached cost.
# Part 2, isolation: a 5-agent loopback cluster (scripts/cluster.sh,
#   no latency emulation); wrk loads node00's /v1/nearest?n=5 at full
#   speed while the other four probe it. Every second each peer's view of
#   node00 is sampled; afterwards the peers' logs are searched for
#   suspicion of node00 and node00's refutation counter is read. Gossip
#   must keep answering probes in time: no peer may suspect node00.
#
# Everything binds to 127.0.0.1; every process started is stopped by PID on
# exit; every wait is bounded.
set -euo pipefail
# Ports we bind stay below the kernel's ephemeral range, so no outgoing
# connection (curl, wrk) can take one between the check and the bind.
EPHEMERAL_LO=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NETCOORD=""
MEMBERS=10000
DURATION=10
CONNS=32
THREADS=1
SKIP_CLUSTER=0
while [ $# -gt 0 ]; do
	case "$1" in
	--netcoord) NETCOORD=$2; shift 2 ;;
	--members) MEMBERS=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--connections) CONNS=$2; shift 2 ;;
	--threads) THREADS=$2; shift 2 ;;
	--skip-cluster) SKIP_CLUSTER=1; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "http_load.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
if [ -z "$NETCOORD" ]; then
	for b in "$ROOT/build/cmd/netcoord" "$ROOT"/build*/cmd/netcoord; do
		[ -x "$b" ] && { NETCOORD=$b; break; }
	done
fi
[ -x "$NETCOORD" ] || { echo "http_load.sh: no netcoord binary (scripts/build.sh)" >&2; exit 2; }
for t in wrk curl python3; do
	command -v $t >/dev/null || { echo "http_load.sh: $t not installed" >&2; exit 2; }
done

TMP=$(mktemp -d /tmp/netcoord-bench.XXXXXX)
PIDS=()
CLUSTER_UP=0
cleanup() {
	local pid
	[ "$CLUSTER_UP" = 1 ] && bash "$ROOT/scripts/cluster.sh" stop --dir "$TMP/cluster" >/dev/null 2>&1 || true
	for pid in ${PIDS[@]+"${PIDS[@]}"}; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in ${PIDS[@]+"${PIDS[@]}"}; do
		for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [ "${KEEP:-0}" = 1 ]; then echo "logs kept in $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

port_busy() {
	ss -Hltun 2>/dev/null | awk '{print $5}' | grep -Eq "[:.]$1\$"
}
# free_ports N: first of N consecutive free ports in 20000-EPHEMERAL_LO.
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
	echo "http_load.sh: no free port range" >&2
	exit 1
}

# wait_until SECS CMD...: poll every 0.5 s; returns 1 on timeout.
wait_until() {
	local end=$(( $(date +%s) + $1 )); shift
	while ! "$@"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.5
	done
}

# Number of alive members an agent on HTTP port $1 sees.
alive_count() {
	curl -sf --max-time 5 "http://127.0.0.1:$1/v1/members" | python3 -c '
import json, sys
print(sum(1 for m in json.load(sys.stdin) if m.get("Status") == "alive"))' 2>/dev/null || echo 0
}
alive_at_least() { [ "$(alive_count "$1")" -ge "$2" ]; }

# Members with a coordinate, from /v1/coordinate/nodes (-1 if missing).
coord_count() {
	curl -sf --max-time 5 "http://127.0.0.1:$1/v1/coordinate/nodes" | python3 -c '
import json, sys
d = json.load(sys.stdin)
if isinstance(d, dict):
    d = d.get("Nodes", d.get("nodes", []))
print(len(d))' 2>/dev/null || echo -1
}
coords_at_least() { [ "$(coord_count "$1")" -ge "$2" ]; }

# run_wrk NAME URL [LUA]: runs wrk, prints "rps p50_ms p99_ms non2xx errors".
run_wrk() {
	local out="$TMP/wrk-$1.txt"
	wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency ${3:+-s "$3"} "$2" >"$out" 2>&1 || true
	python3 - "$out" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    if not m:
        return float("nan")
    x = float(m.group(1))
    return x / 1000 if m.group(2) == "us" else x * 1000 if m.group(2) == "s" else x
rps = re.search(r"Requests/sec:\s+([\d.]+)", t)
p50 = re.search(r"^\s+50%\s+(\S+)", t, re.M)
p99 = re.search(r"^\s+99%\s+(\S+)", t, re.M)
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
errs = re.search(r"Socket errors: (.*)", t)
print("%.0f %.3f %.3f %s %s" % (float(rps.group(1)) if rps else 0,
      ms(p50.group(1)) if p50 else float("nan"),
      ms(p99.group(1)) if p99 else float("nan"),
      non2xx.group(1) if non2xx else 0,
      "errors" if errs else "-"))
EOF
}

echo "=== netcoord HTTP load benchmark ($(nproc) cores, wrk -t$THREADS -c$CONNS -d${DURATION}s, keep-alive)"
echo "binary: $NETCOORD"

# ---------------------------------------------------------------- part 1
P=$(free_ports 3)
SEED_PORT=$P GOSSIP_PORT=$((P + 1)) HTTP=$((P + 2))
python3 "$ROOT/bench/members_load.py" "$SEED_PORT" "$MEMBERS" >"$TMP/members_load.log" 2>&1 &
PIDS+=($!)
sleep 0.5
# wrk's CONNS connections all come from 127.0.0.1: raise the per-client
# connection limit (default 16, issue 9 row 6) above them, here and in part 2.
"$NETCOORD" agent -node bench-agent -bind "127.0.0.1:$GOSSIP_PORT" \
	-http-addr "127.0.0.1:$HTTP" -join "127.0.0.1:$SEED_PORT" \
	-http-max-conns-per-client "$((CONNS + 8))" \
	-log-level warn >"$TMP/agent.log" 2>&1 &
PIDS+=($!)
log "part 1: agent on :$GOSSIP_PORT (http :$HTTP), $MEMBERS fake members from :$SEED_PORT"
if ! wait_until 60 alive_at_least "$HTTP" $((MEMBERS + 1)); then
	log "only $(alive_count "$HTTP") alive members after 60 s; going on anyway"
fi
log "members alive: $(alive_count "$HTTP")"
if [ "$(coord_count "$HTTP")" != -1 ] &&
	wait_until 60 coords_at_least "$HTTP" "$MEMBERS"; then
	log "coordinates known: $(coord_count "$HTTP")"
else
	log "coordinates known: $(coord_count "$HTTP") (wanted $MEMBERS; -1 = no /v1/coordinate/nodes)"
fi
NEAREST="http://127.0.0.1:$HTTP/v1/nearest?n=5"
HEALTH="http://127.0.0.1:$HTTP/v1/health"
code=$(curl -s -o "$TMP/nearest.json" -w '%{http_code}' --max-time 5 "$NEAREST" || true)
log "GET /v1/nearest?n=5 -> HTTP $code: $(head -c 300 "$TMP/nearest.json")"

probe_stats() {  # "probes probe_failures suspicions" of the agent
	curl -sf --max-time 5 "http://127.0.0.1:$HTTP/v1/stats" | python3 -c '
import json, sys
g = json.load(sys.stdin)["gossip"]
print(g["probes"], g["probe_failures"], g["suspicions"])' 2>/dev/null || echo "0 0 0"
}
cache_stats() {  # "view_builds cache_hits cache_misses" (api/view.c)
	curl -sf --max-time 5 "http://127.0.0.1:$HTTP/metrics" | awk '
		$1 == "netcoord_http_view_builds_total" {b = $2}
		$1 == "netcoord_http_cache_hits_total" {h = $2}
		$1 == "netcoord_http_cache_misses_total" {m = $2}
		END {print b + 0, h + 0, m + 0}' 2>/dev/null || echo "0 0 0"
}
read -r h_rps h_p50 h_p99 h_bad h_err <<<"$(run_wrk health "$HEALTH")"
read -r pr0 pf0 su0 <<<"$(probe_stats)"
read -r vb0 ch0 cm0 <<<"$(cache_stats)"
read -r n_rps n_p50 n_p99 n_bad n_err <<<"$(run_wrk nearest "$NEAREST")"
read -r pr1 pf1 su1 <<<"$(probe_stats)"
read -r vb1 ch1 cm1 <<<"$(cache_stats)"
cat >"$TMP/miss.lua" <<'EOF'
-- 1,000 different sources in turn: every answer a cache miss
local i = 0
request = function()
  i = i % 1000 + 1
  return wrk.format("GET", "/v1/nearest?n=5&from=fake-" .. i)
end
EOF
read -r m_rps m_p50 m_p99 m_bad m_err <<<"$(run_wrk miss "$NEAREST" "$TMP/miss.lua")"
read -r vb2 ch2 cm2 <<<"$(cache_stats)"
read -r pr2 pf2 su2 <<<"$(probe_stats)"
python3 - "$h_rps" "$h_p50" "$h_p99" "$h_bad" "$n_rps" "$n_p50" "$n_p99" "$n_bad" "$MEMBERS" \
	"$m_rps" "$m_p50" "$m_p99" "$m_bad" <<'EOF'
import sys
h_rps, h_p50, h_p99, h_bad, n_rps, n_p50, n_p99, n_bad = map(float, sys.argv[1:9])
members = int(sys.argv[9])
m_rps, m_p50, m_p99, m_bad = map(float, sys.argv[10:14])
print()
print("%-28s %12s %9s %9s %8s" % ("endpoint", "req/s", "p50 ms", "p99 ms", "non-2xx"))
print("%-28s %12.0f %9.3f %9.3f %8d" % ("/v1/health (baseline)", h_rps, h_p50, h_p99, h_bad))
print("%-28s %12.0f %9.3f %9.3f %8d" % ("/v1/nearest?n=5 (%d m.)" % members, n_rps, n_p50, n_p99, n_bad))
print("%-28s %12.0f %9.3f %9.3f %8d" % ("  uncached (1,000 from=)", m_rps, m_p50, m_p99, m_bad))
ratio = n_rps / h_rps if h_rps > 0 else float("nan")
print("nearest/health throughput ratio: %.2f" % ratio)
ok_rps = n_rps >= 30000
ok_p99 = n_p99 <= 5.0
print("target nearest >= 30,000 req/s: %s; p99 <= 5 ms: %s" %
      ("met" if ok_rps else "MISSED", "met" if ok_p99 else "MISSED"))
if n_bad > 0 or h_bad > 0 or m_bad > 0:
    print("WARNING: non-2xx answers: the figures above are not valid")
print()
EOF
echo "during the nearest run the agent probed $((pr1 - pr0)) fake members: $((pf1 - pf0)) probe failures, $((su1 - su0)) suspicions raised"
echo "  member view rebuilt $((vb1 - vb0)) times; answer cache: $((ch1 - ch0)) hits, $((cm1 - cm0)) misses"
echo "  uncached run: view rebuilt $((vb2 - vb1)) times; $((ch2 - ch1)) hits, $((cm2 - cm1)) misses;" \
	"$((pr2 - pr1)) probes, $((pf2 - pf1)) failures, $((su2 - su1)) suspicions"
kill -TERM "${PIDS[@]}" 2>/dev/null || true

[ "$SKIP_CLUSTER" = 1 ] && exit 0

# ---------------------------------------------------------------- part 2
GB=$(free_ports 5)
HB=$(free_ports 5)
log "part 2: 5-agent loopback cluster (gossip :$GB.., http :$HB..)"
CLUSTER_UP=1
bash "$ROOT/scripts/cluster.sh" start 5 --no-latency --dir "$TMP/cluster" \
	--base-port "$GB" --http-port "$HB" --netcoord "$NETCOORD" \
	-- -http-max-conns-per-client "$((CONNS + 8))" >/dev/null
for i in 0 1 2 3 4; do
	wait_until 30 alive_at_least $((HB + i)) 5 ||
		{ log "FAIL: node0$i does not see 5 alive members"; exit 1; }
done
stat_of() {  # stat_of HTTPPORT KEY (gossip counter)
	curl -sf --max-time 5 "http://127.0.0.1:$1/v1/stats" |
		python3 -c "import json,sys; print(int(json.load(sys.stdin)['gossip']['$2']))" 2>/dev/null || echo -1
}
acks0=$(stat_of "$HB" acks_sent)
ref0=$(stat_of "$HB" refutations)
log "cluster converged; wrk on node00 /v1/nearest?n=5 for ${DURATION}s while peers probe it"
wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency \
	"http://127.0.0.1:$HB/v1/nearest?n=5" >"$TMP/wrk-cluster.txt" 2>&1 &
WRK=$!
PIDS+=($WRK)
samples=0 bad_samples=0
while kill -0 $WRK 2>/dev/null; do
	for i in 1 2 3 4; do
		st=$(curl -sf --max-time 2 "http://127.0.0.1:$((HB + i))/v1/members" |
			python3 -c 'import json,sys
print(next((m["Status"] for m in json.load(sys.stdin) if m["Name"] == "node00"), "missing"))' 2>/dev/null || echo "?")
		samples=$((samples + 1))
		[ "$st" = alive ] || { bad_samples=$((bad_samples + 1)); log "node0$i sees node00 as $st"; }
	done
	sleep 1
done
wait $WRK 2>/dev/null || true
rps=$(awk '/Requests\/sec/ {print $2}' "$TMP/wrk-cluster.txt")
p99=$(awk '$1 == "99%" {print $2}' "$TMP/wrk-cluster.txt")
sleep 2  # let a late suspicion reach the logs
acks1=$(stat_of "$HB" acks_sent)
ref1=$(stat_of "$HB" refutations)
suspect_lines=$(cat "$TMP"/cluster/node0[1-4].log 2>/dev/null |
	grep -c "EventMemberSuspect: node00\|EventMemberFailed: node00" || true)
echo
bad=$(awk '/Non-2xx/ {print $5}' "$TMP/wrk-cluster.txt")
echo "under load: node00 served ${rps:-?} req/s (p99 ${p99:-?}, non-2xx ${bad:-0}) on /v1/nearest?n=5"
echo "  acks sent by node00 during the run: $((acks1 - acks0)); refutations: $((ref1 - ref0))"
echo "  peers' view of node00 sampled $samples times: $bad_samples not alive"
echo "  peers' log lines suspecting/failing node00: $suspect_lines"
if [ "$bad_samples" = 0 ] && [ "$suspect_lines" = 0 ] && [ "$((ref1 - ref0))" = 0 ]; then
	echo "  result: OK - no peer suspected node00 while it was under full HTTP load"
else
	echo "  result: NOT OK - node00 was suspected under load"
	KEEP=1
fi
