#!/usr/bin/env bash
# cluster_ui.sh NETCOORD - the browser test (map.test.js) against a real
# cluster: four `netcoord agent`s on loopback (profile local, tags dc=eu|us,
# rack=...), the page loaded from n1, and n4 killed with SIGKILL to check
# that the map marks it failed within FAIL_BOUND seconds.
#
# If n1 does not serve /ui/ yet, tests/browser/mock_api.js --proxy serves
# web/ and forwards /v1/* to n1, so the page still talks to the real API.
#
# Env: FAIL_BOUND (default 20 s), NC_AGENT_ARGS (extra flags for every
# agent, e.g. a token option), NC_TOKEN (the token, if NC_AGENT_ARGS sets
# one), NC_ARTIFACTS (screenshots; default <repo>/artifacts).
# Exit 77 (skip) when chromium or playwright-core is missing: run
# scripts/setup-browser.sh first.
set -euo pipefail
NETCOORD=${1:?usage: cluster_ui.sh path/to/netcoord}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
. "$REPO/tests/integration/lib.sh"
nc_setup
FAIL_BOUND=${FAIL_BOUND:-20}
if [ ! -x /usr/bin/chromium ] || [ ! -d "$HERE/node_modules/playwright-core" ] || ! command -v node >/dev/null; then
	log "SKIP: chromium/node/playwright-core missing (run scripts/setup-browser.sh)"
	exit 77
fi

mapfile -t P < <(nc_ports 9)
G=("${P[@]:0:4}")   # gossip ports
H=("${P[@]:4:4}")   # http ports
PROXY_PORT=${P[8]}
read -r -a extra <<<"${NC_AGENT_ARGS:-}"
common=(-profile local "${extra[@]}")
nc_start n1 -bind "127.0.0.1:${G[0]}" -http-addr "127.0.0.1:${H[0]}" -seed 1 -tag dc=eu -tag rack=a "${common[@]}"
nc_start n2 -bind "127.0.0.1:${G[1]}" -http-addr "127.0.0.1:${H[1]}" -seed 2 -tag dc=eu -tag rack=b "${common[@]}" -join "127.0.0.1:${G[0]}"
nc_start n3 -bind "127.0.0.1:${G[2]}" -http-addr "127.0.0.1:${H[2]}" -seed 3 -tag dc=us -tag rack=a "${common[@]}" -join "127.0.0.1:${G[0]}"
nc_start n4 -bind "127.0.0.1:${G[3]}" -http-addr "127.0.0.1:${H[3]}" -seed 4 -tag dc=us -tag rack=b "${common[@]}" -join "127.0.0.1:${G[1]}"

auth=()
[ -n "${NC_TOKEN:-}" ] && auth=(-H "Authorization: Bearer $NC_TOKEN")
n1_alive() {
	local body
	body=$(curl -sf --max-time 2 "${auth[@]}" "http://127.0.0.1:${H[0]}/v1/members") || return 1
	[ "$(grep -o '"Status":"alive"' <<<"$body" | wc -l)" -ge 4 ]
}
wait_for 20 "n1 sees 4 alive" n1_alive

UI="http://127.0.0.1:${H[0]}"
if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$UI/ui/")" != 200 ]; then
	log "n1 does not serve /ui/: serving web/ from mock_api.js --proxy $UI"
	node "$HERE/mock_api.js" --port "$PROXY_PORT" --proxy "$UI" >"$NC_TMP/proxy.log" 2>&1 &
	NC_PIDS+=("$!")
	UI="http://127.0.0.1:$PROXY_PORT"
	wait_for 10 "proxy up" curl -sf --max-time 1 -o /dev/null "$UI/ui/"
fi

cat >"$NC_TMP/cluster.json" <<EOF
{"ui": "$UI", "detect_bound_s": $FAIL_BOUND,
 "nodes": [{"name": "n1", "pid": $(pid_of n1)}, {"name": "n2", "pid": $(pid_of n2)},
           {"name": "n3", "pid": $(pid_of n3)}, {"name": "n4", "pid": $(pid_of n4)}]}
EOF
log "browser test against $UI"
NC_CLUSTER_JSON="$NC_TMP/cluster.json" NC_KILL_NODE=n4 node "$HERE/map.test.js"
