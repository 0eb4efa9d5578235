#!/usr/bin/env bash
# serf_queries_mixed.sh NETCOORD - serf queries in a cluster of 3 serf + 10
# netcoord agents (issue 11), encrypted (the events and conflict tests run
# in plaintext, the keys test encrypted too):
#   1. `serf reachability` from s1: every one of the 13 nodes contacted
#      (netcoord agents ack _serf_ping);
#   2. `serf query -no-ack=false uptime` from s1: acks from all 13 nodes,
#      responses from the serf nodes (they have a handler; netcoord agents
#      have none and, like serf without a handler, only ack);
#   3. the same query from s3, which joined through netcoord agents, with
#      -relay-factor=2: still 13 acks;
#   4. `netcoord reachability` from n6: netcoord's own _serf_ping query
#      acked by all 13 nodes, the serf agents included.
# Needs the Debian serf package; skipped (77) without it.
set -euo pipefail
NETCOORD=${1:?usage: serf_queries_mixed.sh path/to/netcoord}
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/serf_mixed_lib.sh"
command -v serf >/dev/null || { log "SKIP: serf not installed"; exit 77; }
nc_setup

# netcoord reachability / keys use write endpoints of the agents' API.
MIXED_NC_ARGS=(-http-allow-unauthenticated-writes=true)
mixed_cluster q "$("$NETCOORD" keygen)" -event-handler="query:uptime=echo up"

log "serf reachability from qs1"
out=$(serf reachability -rpc-addr="127.0.0.1:$R_s1" 2>&1) || true
printf '%s\n' "$out" | sed 's/^/    /'
grep -q 'Successfully contacted all live nodes' <<<"$out" || die "reachability: not every node contacted"
grep -q 'Total members: 13, live members: 13' <<<"$out" || die "reachability: not 13 live members"

# query_check RPCPORT ARGS... : 13 acks, 3 responses "up".
query_check() {
	local port=$1; shift
	local out
	out=$(serf query -rpc-addr="127.0.0.1:$port" -no-ack=false -timeout=5s "$@" uptime 2>&1) || true
	printf '%s\n' "$out" | grep -E 'Total|Response' | sed 's/^/    /'
	local acks resps
	acks=$(grep -c "^Ack from 'q[sn][0-9]*'" <<<"$out" || true)
	resps=$(grep -c "^Response from 'qs[123]': up" <<<"$out" || true)
	log "acks $acks/13, responses $resps/3"
	[ "$acks" = 13 ] && [ "$resps" = 3 ]
}
log "serf query -no-ack=false uptime from qs1"
query_check "$R_s1" || die "query from qs1: not 13 acks and 3 responses"
log "serf query -no-ack=false -relay-factor=2 uptime from qs3"
query_check "$R_s3" -relay-factor=2 || die "query from qs3: not 13 acks and 3 responses"

log "netcoord reachability -verbose from qn6"
rc=0
out=$("$NETCOORD" reachability -verbose -http-addr "127.0.0.1:$H_n6" 2>&1) || rc=$?
printf '%s\n' "$out" | sed 's/^/    /'
[ "$rc" = 0 ] || die "netcoord reachability exited $rc"
grep -q 'Successfully contacted all live nodes' <<<"$out" || die "netcoord reachability: not every node"
grep -q 'Total members: 13, live members: 13' <<<"$out" || die "netcoord reachability: not 13 live members"
[ "$(grep -c "Ack from 'q[sn][0-9]*'" <<<"$out")" = 13 ] || die "netcoord reachability: not 13 acks"
[ "$(grep -c "Ack from 'qs[123]'" <<<"$out")" = 3 ] || die "netcoord reachability: not the 3 serf acks"

acks=0
for n in $MIXED_N; do
	h="H_$n"
	a=$(curl -sf "http://127.0.0.1:${!h}/metrics" | awk '/^netcoord_serf_query_acks_total/ {print $2}' || true)
	acks=$((acks + ${a:-0}))
done
log "acks sent by the 10 netcoord agents: $acks"
mixed_stop
log "PASS"
