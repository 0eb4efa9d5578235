#!/usr/bin/env bash
# agent_cluster.sh NETCOORD - a cluster of netcoord agents on loopback.
#
# Story: four agents (profile PROFILE, default lan) join one after the
# other (n2 -> n1, n3 -> n2, n4 -> n1) and all see all four alive. kill -9
# n4: the three others mark it failed within FAIL_BOUND seconds (lan: 1 s
# probes, 500 ms probe timeout, suspicion 4 x log10(N) s scaled down by
# confirmations, at most 6x that). SIGTERM n3: it exits 0 and the two
# others show it left. Each membership change is logged with who reported
# it. Not profile local: with RetransmitMult 2 a broadcast reaches only two
# random peers, and spreading becomes a matter of luck in small clusters.
set -euo pipefail
NETCOORD=${1:?usage: agent_cluster.sh path/to/netcoord}
. "$(dirname "$0")/lib.sh"
nc_setup
FAIL_BOUND=${FAIL_BOUND:-25}
PROFILE=${PROFILE:-lan}

mapfile -t P < <(nc_ports 8)
G=("${P[@]:0:4}")   # gossip ports
H=("${P[@]:4:4}")   # http ports
common=(-profile "$PROFILE" -log-level debug)
knows() { # knows NAME HTTPPORTS... : each lists NAME alive
	local name=$1 h; shift
	for h in "$@"; do status_is nc_members "$h" "$name" alive || return 1; done
}
nc_start n1 -bind "127.0.0.1:${G[0]}" -http-addr "127.0.0.1:${H[0]}" -seed 1 "${common[@]}"
wait_for 10 "n1 up" knows n1 "${H[0]}"
nc_start n2 -bind "127.0.0.1:${G[1]}" -http-addr "127.0.0.1:${H[1]}" -seed 2 "${common[@]}" -join "127.0.0.1:${G[0]}"
wait_for 10 "n2 known" knows n2 "${H[0]}" "${H[1]}"
nc_start n3 -bind "127.0.0.1:${G[2]}" -http-addr "127.0.0.1:${H[2]}" -seed 3 "${common[@]}" -join "127.0.0.1:${G[1]}"
wait_for 10 "n3 known" knows n3 "${H[0]}" "${H[1]}" "${H[2]}"
nc_start n4 -bind "127.0.0.1:${G[3]}" -http-addr "127.0.0.1:${H[3]}" -seed 4 "${common[@]}" -join "127.0.0.1:${G[0]}"

all_see_alive() {
	local want=$1; shift
	local h
	for h in "$@"; do
		[ "$(count_status nc_members "$h" alive)" = "$want" ] || return 1
	done
}
wait_for 20 "4 agents see 4 alive" all_see_alive 4 "${H[@]}"

all_see() { # all_see NAME STATUS HTTPPORTS...
	local name=$1 st=$2 h; shift 2
	for h in "$@"; do status_is nc_members "$h" "$name" "$st" || return 1; done
}

log "kill -9 n4"
kill -KILL "$(pid_of n4)"
wait_for "$FAIL_BOUND" "n1..n3 mark n4 failed" all_see n4 failed "${H[0]}" "${H[1]}" "${H[2]}"
grep -q 'EventMemberFailed: n4 .*reported by' "$NC_TMP/n1.log" || die "n1 did not log the failure with its reporter"
grep -h 'EventMemberFailed: n4' "$NC_TMP"/n[123].log | sed 's/^/    /'

log "SIGTERM n3"
kill -TERM "$(pid_of n3)"
wait_exit "$(pid_of n3)" 15
[ "$WAIT_RC" = 0 ] || die "n3 exit after SIGTERM: $WAIT_RC"
wait_for 10 "n1, n2 show n3 left" all_see n3 left "${H[0]}" "${H[1]}"
grep -q 'EventMemberLeave: n3' "$NC_TMP/n1.log" || die "n1 did not log the leave"
# The healthy two never suspected each other.
grep -Eq 'EventMemberFailed: n[12] ' "$NC_TMP"/n[12].log && die "false failure"
log "PASS agent_cluster"
