#!/usr/bin/env bash
# serf_conflict_mixed.sh NETCOORD - name conflicts in a cluster of 3 serf +
# 10 netcoord agents (issue 11). serf resolves a conflict by a
# _serf_conflict query run by the node whose name is claimed: every member
# answers with the address it knows for that name, and the node quits if
# the majority knows another one. netcoord agents answer it, so the
# outcome is the one of an all-serf cluster:
#   A. serf agent "ca" is a member; a netcoord agent "ca" at another
#      address joins: the members refuse its conflicting alive (logged);
#      the newcomer hears of the other "ca" and runs serf's resolution
#      itself (_serf_conflict from netcoord), loses the vote and quits
#      (exit 0, as serf), as a serf newcomer does in an all-serf cluster;
#      serf's ca stays, at its address everywhere, and wins its own vote.
#   B. netcoord agent "cb" is a member; a serf agent "cb" at another
#      address joins: it loses the vote ("minority in name conflict
#      resolution, quitting [0 / 14]": every member voted) and exits;
#      the netcoord cb stays up (had it heard of the newcomer, its own
#      vote would say "majority"); every member keeps its address.
# Needs the Debian serf package; skipped (77) without it.
set -euo pipefail
NETCOORD=${1:?usage: serf_conflict_mixed.sh path/to/netcoord}
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/serf_mixed_lib.sh"
command -v serf >/dev/null || { log "SKIP: serf not installed"; exit 77; }
nc_setup
ADDR_WHY=

mixed_cluster c ""
mapfile -t X < <(nc_ports 6)

# addr_everywhere NAME PORT : every serf and netcoord agent of the cluster
# lists NAME alive at 127.0.0.1:PORT.
addr_everywhere() {
	local name=$1 port=$2 p
	for p in "$R_s1" "$R_s2" "$R_s3"; do
		serf members -rpc-addr="127.0.0.1:$p" 2>/dev/null |
			grep -Eq "^$name +127.0.0.1:$port +alive" ||
			{ ADDR_WHY="serf on RPC port $p"; return 1; }
	done
	for p in $MIXED_N; do
		local v="H_$p"
		curl -sf "http://127.0.0.1:${!v}/v1/members" |
			python3 -c 'import json,sys
n,port=sys.argv[1],int(sys.argv[2])
sys.exit(0 if any(m["Name"]==n and m["Port"]==port and m["Status"]=="alive" for m in json.load(sys.stdin)) else 1)' "$name" "$port" ||
			{ ADDR_WHY="netcoord $p: $(curl -sf "http://127.0.0.1:${!v}/v1/members" | tr -d '\n' | grep -o '"Name":"'"$name"'"[^}]*')"; return 1; }
	done
}

log "A: serf ca is a member; a netcoord ca joins from another address"
serf_start ca -bind="127.0.0.1:${X[0]}" -rpc-addr="127.0.0.1:${X[1]}" -profile=lan -join="127.0.0.1:$G_s1"
wait_for 20 "serf ca known everywhere" addr_everywhere ca "${X[0]}"
nc_start ca_nc -bind "127.0.0.1:${X[2]}" -http-addr "127.0.0.1:${X[3]}" -profile lan -node ca -join "127.0.0.1:$G_n4"
conflict_seen() { grep -q 'Conflicting address for ca' "$NC_TMP"/c[sn][0-9]*.log; }
wait_for 20 "members see the conflict over ca" conflict_seen
wait_exit "$(pid_of ca_nc)" 40
[ "$WAIT_RC" = 0 ] || die "netcoord ca did not quit with status 0: $WAIT_RC"
grep -q 'minority in name conflict resolution, quitting' "$NC_TMP/ca_nc.log" ||
	die "netcoord ca exited without losing the vote"
grep 'name conflict resolution' "$NC_TMP/ca_nc.log" | sed 's/^/    netcoord ca: /'
votes=$(sed -n 's/.*minority in name conflict resolution, quitting \[[0-9]* \/ \([0-9]*\)\].*/\1/p' "$NC_TMP/ca_nc.log")
# (A newcomer asks while it still learns the members: more than half of
# the 13 is enough to say the cluster voted.)
[ "${votes:-0}" -ge 7 ] || die "netcoord ca counted only ${votes:-0} votes (want >= 7)"
grep 'name conflict resolution' "$NC_TMP/ca.log" | sed 's/^/    serf ca: /' || true
kill -0 "$(pid_of ca)" 2>/dev/null || die "serf ca quit"
# (polled briefly: one `serf members` RPC may fail under load)
wait_for 10 "ca still at the serf agent's address everywhere" addr_everywhere ca "${X[0]}"
log "ok: netcoord ca lost the vote and quit; ca stays at the serf agent's address everywhere"

log "B: netcoord cb is a member; a serf cb joins from another address"
mapfile -t Y < <(nc_ports 4)
nc_start cb -bind "127.0.0.1:${Y[0]}" -http-addr "127.0.0.1:${Y[1]}" -profile lan -join "127.0.0.1:$G_n2"
wait_for 20 "netcoord cb known everywhere" addr_everywhere cb "${Y[0]}"
serf_start cb_serf -node=cb -bind="127.0.0.1:${Y[2]}" -rpc-addr="127.0.0.1:${Y[3]}" -profile=lan -join="127.0.0.1:$G_s2"
wait_exit "$(pid_of cb_serf)" 40
[ "$WAIT_RC" != timeout ] || die "serf cb did not quit"
grep -q 'minority in name conflict resolution, quitting' "$NC_TMP/cb_serf.log" ||
	die "serf cb exited without losing the vote"
grep 'name conflict resolution' "$NC_TMP/cb_serf.log" | sed 's/^/    /'
# Every member voted, the 10 + 1 netcoord agents included (their answers
# go to the address the query names, as serf's SendToAddress).
votes=$(sed -n 's/.*minority in name conflict resolution, quitting \[[0-9]* \/ \([0-9]*\)\].*/\1/p' "$NC_TMP/cb_serf.log")
[ "${votes:-0}" -ge 13 ] || die "serf cb counted only ${votes:-0} votes (want >= 13)"
wait_for 10 "cb still at the netcoord agent's address everywhere" addr_everywhere cb "${Y[0]}"
# The member runs a vote only if the newcomer's alive reaches it (the
# others refuse it and do not spread it; serf members alike): if it did,
# it won.
grep 'name conflict resolution' "$NC_TMP/cb.log" | sed 's/^/    netcoord cb: /' || true
grep -q 'minority in name conflict resolution' "$NC_TMP/cb.log" && die "netcoord cb lost a vote"
kill -0 "$(pid_of cb)" 2>/dev/null || die "netcoord cb quit"
log "ok: serf cb lost the vote and quit; cb stays at the netcoord agent's address"
kill -KILL "$(pid_of cb)" 2>/dev/null || true
mixed_stop
log "PASS"
