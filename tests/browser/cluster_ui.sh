#!/usr/bin/env bash
# cluster_ui.sh NETCOORD - the browser test (map.test.js) against real agents
# (CTest: browser_map, labels browser;net).
#
#   1. A local cluster of NC_BROWSER_N (default 7) `netcoord agent`s started by
#      scripts/cluster.sh: 127.0.0.1 only, LAN profile, wide-area latency
#      emulated from tests/data/planetlab200_ms.txt (TEST FACILITY), each
#      agent tagged dc=<region> row=<matrix row>.
#   2. A second, 2-agent cluster (no latency emulation) whose API requires a
#      bearer token (-http-token-file), for the token-prompt test.
# The page is loaded from node00's own /ui/ (the web/ files embedded in the
# binary; no mock, no proxy). The test checks one point per member, the
# nearest list against /v1/nearest, failover, the table, zoom/pan, no
# console errors, then SIGKILLs the last agent by PID and expects its point
# to turn failed within the LAN failure-detection bound (the formula of
# tests/integration/cluster_matrix.sh: N probe intervals + the longest
# Lifeguard suspicion timeout 6 x 4 x log10(N) x 1 s + 3 s to spread; the
# test adds two UI polls + 1 s). Screenshots go to NC_ARTIFACTS (default
# <repo>/artifacts; map.png is the overview).
#
# Env: NC_BROWSER_N (agents, default 7), NC_ARTIFACTS, NC_KEEP_LOGS=1,
#   NC_BOUND_FACTOR (multiplies the detection bound, default 1),
#   NC_FIRST_RENDER_BUDGET_MS (asserts a first-map-frame budget; unset:
#   the time is reported only, a timing figure is not a pass/fail test),
#   NC_REQUIRE_BROWSER=1 (scripts/test.sh sets it: a missing chromium/node/
#   playwright-core is a failure, not a skip).
# Exit 77 (skip) only when the browser tooling is missing (chromium, node or
# playwright-core: run scripts/setup-browser.sh) and NC_REQUIRE_BROWSER != 1.
# Every agent is stopped by PID on exit (SIGKILL: this is a test cluster).
set -euo pipefail
NETCOORD=${1:?usage: cluster_ui.sh path/to/netcoord}
NETCOORD=$(cd "$(dirname "$NETCOORD")" && pwd)/$(basename "$NETCOORD")
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
. "$REPO/tests/integration/lib.sh"
N=${NC_BROWSER_N:-7}
# shellcheck source=tests/browser/tooling.sh
. "$HERE/tooling.sh"
nc_browser_tooling "$HERE"
command -v python3 >/dev/null || die "python3 is needed (scripts/cluster.sh)"
command -v curl >/dev/null || die "curl is needed"

nc_setup
DIR=$NC_TMP/cluster
TDIR=$NC_TMP/token-cluster

# SIGKILL every agent recorded by cluster.sh, by PID (after checking that
# the PID still is that agent), then lib.sh's cleanup (logs on failure).
kill_cluster() {
	local d=$1 name pid rest
	[ -f "$d/cluster.pids" ] || return 0
	while read -r name pid rest; do
		if [ -r "/proc/$pid/cmdline" ] &&
			tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "agent -node $name "; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done <"$d/cluster.pids"
}
ui_on_exit() {
	local rc=$?
	set +e   # a failing command here must not end the handler early
	kill_cluster "$DIR"
	kill_cluster "$TDIR"
	if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
		cp "$DIR"/*.log "$NC_TMP"/ 2>/dev/null || true
		for f in "$TDIR"/*.log; do
			[ -f "$f" ] && cp "$f" "$NC_TMP/token-$(basename "$f")"
		done
	fi
	(exit $rc)   # nc_on_exit reads the status from $?
	nc_on_exit
}
trap ui_on_exit EXIT

# Ports: N gossip + N http for the main cluster, 2 + 2 for the token one.
GP=$(nc_ports $((2 * N + 4)) | head -1)
HP=$((GP + N))
TGP=$((GP + 2 * N))
THP=$((TGP + 2))
bash "$REPO/scripts/cluster.sh" start "$N" --dir "$DIR" --base-port "$GP" \
	--http-port "$HP" --netcoord "$NETCOORD"

TOKEN="browser-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
(umask 077 && printf '%s\n' "$TOKEN" >"$NC_TMP/token")
bash "$REPO/scripts/cluster.sh" start 2 --dir "$TDIR" --base-port "$TGP" \
	--http-port "$THP" --netcoord "$NETCOORD" --no-latency \
	-- -http-token-file "$NC_TMP/token"

alive_seen() {  # alive_seen HTTPPORT [TOKEN]: number of alive members
	local h=()
	[ -n "${2:-}" ] && h=(-H "Authorization: Bearer $2")
	curl -sf --max-time 2 "${h[@]}" "http://127.0.0.1:$1/v1/members" |
		grep -o '"Status":"alive"' | wc -l
}
all_see_all() {
	local name pid hp rest
	while read -r name pid _ hp rest; do
		[ "$(alive_seen "$hp")" = "$N" ] || return 1
	done <"$DIR/cluster.pids"
	[ "$(alive_seen "$THP" "$TOKEN")" = 2 ]
}
wait_for 30 "every agent sees its cluster alive ($N + 2)" all_see_all

UI="http://127.0.0.1:$HP"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$UI/ui/")
[ "$code" = 200 ] || die "node00 does not serve /ui/ (HTTP $code)"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$THP/v1/members")
[ "$code" = 401 ] || die "token agent answers /v1/members without a token (HTTP $code)"

BOUND=$(python3 -c "import math; print(int(math.ceil(($N * 1.0 + 6 * 4 * max(1, math.log10($N)) + 3) * ${NC_BOUND_FACTOR:-1})))")
python3 - "$DIR/cluster.pids" "$UI" "$BOUND" "http://127.0.0.1:$THP" "$TOKEN" \
	>"$NC_TMP/cluster.json" <<'EOF'
import json, sys
pids, ui, bound, tui, tok = sys.argv[1:]
nodes = []
for line in open(pids):
    f = line.split()
    nodes.append({"name": f[0], "pid": int(f[1]), "dc": f[5]})
json.dump({"ui": ui, "token": "", "detect_bound_s": int(bound), "nodes": nodes,
           "token_agent": {"ui": tui, "token": tok}}, sys.stdout, indent=1)
EOF
log "browser test: page from $UI/ui/ ($N agents, latency emulated), token agent :$THP, detection bound ${BOUND}s"
# No `exec`: the EXIT trap must stop the agents after the test. First map
# frame: ~0.2-0.4 s from a real agent (ASan too), reported.
NC_CLUSTER_JSON="$NC_TMP/cluster.json" node "$HERE/map.test.js"
