#!/usr/bin/env bash
# agent_verify.sh NETCOORD - GET /v1/nearest?verify=K against a dead
# candidate (issue 12 §3).
#
# Story: four agents on 127.0.0.1 join. v2 is killed with SIGKILL; right
# away (before anyone declares it failed) v1 is asked for its 3 nearest,
# verified (verify=3, status=alive,suspect so that v2 is still a
# candidate). v2 must be listed with "MeasuredMs": null and after both
# answering agents, which carry a measured RTT; the answer must come within
# the 1 s bound. A second identical query is answered from the
# -verify-cache (metrics count one hit, no new pings). `netcoord nearest
# -verify 3` prints the MEASURED column; bad verify values are 400 naming
# the parameter.
set -euo pipefail
NETCOORD=${1:?usage: agent_verify.sh path/to/netcoord}
. "$(dirname "$0")/lib.sh"
nc_setup
command -v python3 >/dev/null || { log "SKIP: python3 not installed"; exit 77; }

mapfile -t P < <(nc_ports 8)
G=("${P[@]:0:4}")
H=("${P[@]:4:4}")
for i in 0 1 2 3; do
	join=()
	[ "$i" -gt 0 ] && join=(-join "127.0.0.1:${G[0]}")
	nc_start "v$((i + 1))" -bind "127.0.0.1:${G[$i]}" \
		-http-addr "127.0.0.1:${H[$i]}" -profile lan "${join[@]}"
done
all_alive() { [ "$(count_status nc_members "${H[0]}" alive)" = 4 ] &&
	[ "$(count_status nc_members "${H[2]}" alive)" = 4 ]; }
wait_for 15 "4 agents alive" all_alive
# A few probe rounds so that every candidate has a coordinate.
sleep 3

URL="http://127.0.0.1:${H[0]}/v1/nearest?n=3&verify=3&status=alive,suspect"
log "kill -9 v2, then ask v1 for its verified nearest"
kill -KILL "$(pid_of v2)"
T0=$(date +%s.%N)
BODY=$(curl -sf --max-time 5 "$URL") || die "verified nearest failed"
T1=$(date +%s.%N)
python3 - "$BODY" "$T0" "$T1" <<'PY' || die "verified answer is wrong"
import json, sys
d = json.loads(sys.argv[1]); took = float(sys.argv[3]) - float(sys.argv[2])
nodes = d["Nodes"]
print("  took %.2f s: %s" % (took, [(n["Name"], n["EstimatedMs"], n["MeasuredMs"]) for n in nodes]))
names = [n["Name"] for n in nodes]
assert "v2" in names, "the dead candidate is not a candidate: %s" % names
assert nodes[0]["Name"] != "v2", "dead v2 reported nearest"
assert nodes[0]["MeasuredMs"] is not None and nodes[0]["MeasuredMs"] > 0
dead = nodes[names.index("v2")]
assert dead["MeasuredMs"] is None, "dead v2 has a measurement"
assert names.index("v2") == len(names) - 1, "dead v2 not last"
assert all(n["MeasuredMs"] is not None for n in nodes if n["Name"] != "v2")
assert d["Verify"]["K"] == 3 and d["Verify"]["Answered"] == 2, d["Verify"]
assert took < 1.5, "took %.2f s (bound 1 s)" % took
PY
metric() { curl -sf --max-time 2 "http://127.0.0.1:${H[0]}/metrics" |
	awk -v m="$1" '$1 == m {print $2}'; }
PINGS=$(metric netcoord_verify_pings_total)
[ "$PINGS" = 9 ] || die "want 9 verification pings (3 x 3), got $PINGS"
curl -sf --max-time 5 "$URL" >/dev/null || die "second query failed"
[ "$(metric netcoord_verify_cache_hits_total)" = 1 ] || die "second query not from the cache"
[ "$(metric netcoord_verify_pings_total)" = 9 ] || die "cache hit sent pings"
OUT=$("$NETCOORD" nearest -http-addr "127.0.0.1:${H[0]}" -verify 2 -n 2) ||
	die "netcoord nearest -verify failed"
grep -q MEASURED <<<"$OUT" || die "no MEASURED column: $OUT"
for bad in 0 33 abc; do
	code=$(curl -s -o "$NC_TMP/bad.json" -w '%{http_code}' \
		"http://127.0.0.1:${H[0]}/v1/nearest?verify=$bad")
	[ "$code" = 400 ] && grep -q '\\"verify\\"' "$NC_TMP/bad.json" ||
		die "verify=$bad: $code $(cat "$NC_TMP/bad.json")"
done
code=$(curl -s -o "$NC_TMP/bad.json" -w '%{http_code}' \
	"http://127.0.0.1:${H[0]}/v1/nearest?verify=2&from=v3")
[ "$code" = 400 ] || die "verify with from=v3: $code"
log "PASS"
