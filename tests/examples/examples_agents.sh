#!/usr/bin/env bash
# examples_agents.sh NETCOORD NEAREST_SERVICE - examples/nearest_service
# and examples/dr_failover.sh against a real cluster on loopback, each
# answer checked against one computed independently from the agents' own
# data (tests/examples/expect.py: /v1/members + one /v1/rtt per pair,
# ranked and filtered there, not by /v1/nearest or /v1/failover).
#
# Cluster: five agents in three "datacenters" with emulated latency
# (-latency-matrix): east1 east2 | north1 | west1 west2; 2 ms inside a
# datacenter, east-north 30 ms, north-west 50 ms, east-west 75 ms.
# Services: web on east2 (port tag 8081) and west1 (8082); db on north1
# (no port tag: its gossip port is the answer) and west2 (8083).
#
#  1. Once coordinates have settled, nearest_service web / db through
#     every agent's API (each agent is left out of its own answers, so
#     east2 must send web to west1), and dr_failover.sh -group dc through
#     every agent's API, must match the computed answer.
#  2. north1 is killed; once the others see it failed, the same again
#     (db now goes to west2, east fails over to west, west to east).
#  3. Errors: an unknown service, a group key nobody has.
set -euo pipefail
NETCOORD=${1:?usage: examples_agents.sh path/to/netcoord path/to/nearest_service}
NEAREST=${2:?usage: examples_agents.sh path/to/netcoord path/to/nearest_service}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
EXPECT="$SRC/tests/examples/expect.py"
DR="$SRC/examples/dr_failover.sh"
. "$SRC/tests/integration/lib.sh"
nc_setup
command -v python3 >/dev/null || { log "SKIP: python3 not installed"; exit 77; }

names=(east1 east2 north1 west1 west2)
mapfile -t P < <(nc_ports 10)
G=("${P[@]:0:5}") # gossip ports
H=("${P[@]:5:5}") # http ports
cat >"$NC_TMP/matrix.txt" <<'EOF'
# east1 east2 north1 west1 west2
0 2 30 75 75
2 0 30 75 75
30 30 0 50 50
75 75 50 0 2
75 75 50 2 0
EOF
: >"$NC_TMP/map.txt"
for i in 0 1 2 3 4; do
	echo "127.0.0.1:${G[$i]} $i ${names[$i]}" >>"$NC_TMP/map.txt"
done
tags=("-tag dc=east"
	"-tag dc=east -tag service=web -tag port=8081"
	"-tag dc=north -tag service=db"
	"-tag dc=west -tag service=web -tag port=8082"
	"-tag dc=west -tag service=db -tag port=8083")
for i in 0 1 2 3 4; do
	join=()
	[ "$i" = 0 ] || join=(-join "127.0.0.1:${G[0]}")
	# shellcheck disable=SC2086 # tags[i] is a list of flags
	nc_start "${names[$i]}" -bind "127.0.0.1:${G[$i]}" \
		-http-addr "127.0.0.1:${H[$i]}" -seed $((i + 1)) -profile lan \
		-latency-matrix "$NC_TMP/matrix.txt" -latency-map "$NC_TMP/map.txt" \
		${tags[$i]} "${join[@]}"
done

api() { echo "127.0.0.1:${H[$1]}"; }
alive_on() { nc_members "${H[$1]}" | awk '$2 == "alive"' | wc -l; }
all_see() { # all_see N: every running agent in $live sees N alive
	local i
	for i in $live; do [ "$(alive_on "$i")" = "$1" ] || return 1; done
}
live="0 1 2 3 4"
wait_for 30 "5 agents see 5 alive" all_see 5

# Settled: from east1, its neighbour, north and west in the right bands.
est() { curl -sf --max-time 2 "http://$(api "$1")/v1/rtt?to=$2" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["EstimatedMs"] or -1)'; }
between() { awk -v e="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(e > lo && e < hi) }'; }
settled() {
	between "$(est 0 east2)" 0 12 && between "$(est 0 north1)" 15 50 &&
		between "$(est 0 west1)" 45 110 && between "$(est 3 north1)" 30 75
}
wait_for 90 "coordinates settled (east1: east2 < 12 ms, north1 15-50, west1 45-110)" settled
sleep 1 # the API's view is at most 0.25 s old; the estimates drift slowly

# expect KIND ARGS...: expect.py's answer; an ambiguous geometry is a
# failure of the setup, said as such.
# A near tie (exit 3) while the coordinates still move is waited out, for
# at most 10 s.
expect() {
	local out rc
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		rc=0
		out=$(python3 "$EXPECT" "$@") || rc=$?
		[ $rc = 3 ] || break
		sleep 1
	done
	[ $rc = 0 ] || die "expect.py $* failed ($rc): no clear answer to check against"
	echo "$out"
}

check_nearest() { # check_nearest AGENT SERVICE
	local want got
	want=$(expect nearest "$(api "$1")" "$2")
	if [ "$want" = NONE ]; then
		if got=$("$NEAREST" -http-addr "$(api "$1")" "$2" 2>"$NC_TMP/ns.err"); then
			die "nearest_service $2 via ${names[$1]}: printed '$got', want no match"
		fi
		grep -q 'no healthy member matches' "$NC_TMP/ns.err" ||
			die "nearest_service $2 via ${names[$1]}: $(cat "$NC_TMP/ns.err")"
		got=NONE
	else
		got=$("$NEAREST" -http-addr "$(api "$1")" "$2") ||
			die "nearest_service $2 via ${names[$1]} failed"
	fi
	[ "$got" = "$want" ] ||
		die "nearest_service $2 via ${names[$1]}: printed '$got', computed '$want'"
	log "ok: nearest_service $2 via ${names[$1]} -> $got"
}

check_failover() { # check_failover AGENT
	local want got wg wm gg gm
	want=$(expect failover "$(api "$1")" dc)
	[ "$want" != NONE ] || die "no failover target computed for ${names[$1]}"
	got=$(NETCOORD=$NETCOORD NETCOORD_HTTP_ADDR=$(api "$1") sh "$DR") ||
		die "dr_failover.sh via ${names[$1]} failed"
	# "fail over to: west (median 70.123 ms)"
	read -r gg gm < <(printf '%s\n' "$got" |
		sed -n 's/^fail over to: \([^ ]*\) (median \([0-9.]*\) ms)$/\1 \2/p') || true
	read -r wg wm <<<"$want"
	[ -n "${gg:-}" ] || die "dr_failover.sh via ${names[$1]}: no pick in: $got"
	[ "$gg" = "$wg" ] ||
		die "dr_failover.sh via ${names[$1]}: picked $gg, computed $wg"
	# The median it quotes: the API's, at most a moment apart from ours.
	awk -v a="$gm" -v b="$wm" 'BEGIN { d = a - b; if (d < 0) d = -d;
		exit !(d <= 3 || d <= 0.2 * b) }' ||
		die "dr_failover.sh via ${names[$1]}: median $gm ms, computed $wm ms"
	log "ok: dr_failover.sh via ${names[$1]} -> $gg ($gm ms; computed $wm ms)"
}

for i in $live; do
	check_nearest "$i" web
	check_nearest "$i" db
	check_failover "$i"
done

# north1 goes away: db and north drop out of the answers.
kill -KILL "$(pid_of north1)"
wait "$(pid_of north1)" 2>/dev/null || true
live="0 1 3 4"
north_down() {
	local i
	for i in $live; do nc_members "${H[$i]}" | grep -qx 'north1 alive' && return 1; done
	return 0
}
wait_for 30 "north1 not alive on the others" north_down
sleep 1
for i in $live; do
	check_nearest "$i" db
	check_failover "$i"
done

# Errors: nothing offers the service; nobody has the group key.
check_nearest 0 nosuchservice
if NETCOORD=$NETCOORD NETCOORD_HTTP_ADDR=$(api 0) sh "$DR" -group nosuchkey \
	>/dev/null 2>"$NC_TMP/dr.err"; then
	die "dr_failover.sh -group nosuchkey found a target"
fi
grep -qx 'no other nosuchkey has a healthy member' "$NC_TMP/dr.err" ||
	die "dr_failover.sh -group nosuchkey: $(cat "$NC_TMP/dr.err")"
log "ok: $(cat "$NC_TMP/dr.err")"
log "PASS"
