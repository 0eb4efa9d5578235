#!/usr/bin/env bash
# cli_agent.sh NETCOORD - the command-line client against real agents on
# loopback (the examples have their own test: tests/examples/).
#
# Story: four agents in two "datacenters" with emulated wide-area latency
# (-latency-matrix: east1/east2 2 ms apart, west1/west2 2 ms apart, 60
# ms across), gossip encrypted with key K1. Only west1 offers service=web
# (port tag 8080). From east1's API, the CLI must show: four members
# alive; an estimated RTT to west1 in the tens of ms once coordinates have
# settled; east2 as the nearest node; west as the failover target for
# group dc. Then key rotation driven from east1 alone (keys install K2,
# use K2, remove K1, list: serf's key queries reach all four agents; a
# -local install, and a `keys remove` of the primary that all refuse,
# exit 1 listing them), `netcoord reachability` (4 acks),
# join of a fifth agent through `netcoord join`, its `netcoord leave`, and
# the one-line errors: unknown node, unreachable agent. Endpoints the agent does not serve yet make the test skip (77)
# with the list of what is missing, rather than fail.
set -euo pipefail
NETCOORD=${1:?usage: cli_agent.sh path/to/netcoord}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRC/tests/integration/lib.sh"
nc_setup

mapfile -t P < <(nc_ports 10)
G=("${P[@]:0:5}") # gossip ports
H=("${P[@]:5:5}") # http ports
K1=$("$NETCOORD" keygen)
K2=$("$NETCOORD" keygen)
[[ $K1 =~ ^[A-Za-z0-9+/]{43}=$ ]] || die "keygen printed '$K1'"
[ "$K1" != "$K2" ] || die "keygen twice gave the same key"

cat >"$NC_TMP/matrix.txt" <<'EOF'
# east1 east2 west1 west2 west3
0 2 60 60 60
2 0 60 60 60
60 60 0 2 2
60 60 2 0 2
60 60 2 2 0
EOF
names=(east1 east2 west1 west2 west3)
: >"$NC_TMP/map.txt"
for i in 0 1 2 3 4; do
	echo "127.0.0.1:${G[$i]} $i ${names[$i]}" >>"$NC_TMP/map.txt"
done
# Join/leave/keyring answer 403 on an agent without -http-token unless
# writes are explicitly allowed (api/http.c).
common=(-profile lan -latency-matrix "$NC_TMP/matrix.txt"
	-latency-map "$NC_TMP/map.txt" -http-allow-unauthenticated-writes=true)
start() { # start INDEX KEY TAGS...
	local i=$1 key=$2; shift 2
	nc_start "${names[$i]}" -bind "127.0.0.1:${G[$i]}" \
		-http-addr "127.0.0.1:${H[$i]}" -seed $((i + 1)) -encrypt "$key" "${common[@]}" "$@"
}
start 0 "$K1" -tag dc=east
start 1 "$K1" -tag dc=east -join "127.0.0.1:${G[0]}"
start 2 "$K1" -tag dc=west -tag service=web -tag port=8080 -join "127.0.0.1:${G[0]}"
start 3 "$K1" -tag dc=west -join "127.0.0.1:${G[0]}"

export NETCOORD_HTTP_ADDR=127.0.0.1:${H[0]}
ncli() { "$NETCOORD" "$@"; }
alive_count() { ncli members -status alive 2>/dev/null | awk 'NR > 1' | wc -l; }
has_alive() { [ "$(alive_count)" = "$1" ]; }
wait_for 20 "netcoord members: 4 alive" has_alive 4
ncli members | sed 's/^/    /'

# Which endpoints does this agent serve? Skip, naming them, if some are
# missing (the API may land after this test).
missing=()
for ep in "rtt?to=east1" "nearest" "failover?group=dc" agent/keyring agent/self; do
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://$NETCOORD_HTTP_ADDR/v1/$ep")
	[ "$code" = 404 ] && [ "$(curl -s "http://$NETCOORD_HTTP_ADDR/v1/$ep" |
		grep -c 'no such endpoint')" = 1 ] && missing+=("/v1/${ep%%\?*}")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "SKIP: agent does not serve ${missing[*]} yet"
	exit 77
fi

# rtt: tens of ms across the "ocean" once coordinates settle.
est_ms() { ncli rtt "$@" | awk '/^Estimated/ { print $(NF - 1) }'; }
across_ok() {
	local e
	e=$(est_ms west1) || return 1
	awk -v e="$e" 'BEGIN { exit !(e > 30 && e < 120) }'
}
wait_for 60 "rtt east1 -> west1 in (30, 120) ms" across_ok
ncli rtt west1 | sed 's/^/    /'
ncli rtt east2 west2 | grep -q '^Estimated east2 <-> west2 rtt: ' ||
	die "rtt A B output"
ncli rtt -json west1 | grep -q '"EstimatedMs": ' || die "rtt -json output"

# nearest: each node's rack neighbour first, seen from east1's API (its
# own coordinate, and west2's as gossiped to it).
first_near() { ncli nearest -n 1 "$@" | awk 'NR == 2 { print $2 }'; }
nearest_ok() {
	[ "$(first_near)" = east2 ] && [ "$(first_near -from west2)" = west1 ]
}
wait_for 60 "nearest: east1 -> east2, west2 -> west1" nearest_ok
ncli nearest | sed 's/^/    /'

# failover by dc, skipping east: west.
ncli failover -group dc -skip-local | sed 's/^/    /'
[ "$(ncli failover -group dc -skip-local | awk 'NR == 2 { print $2 }')" = west ] ||
	die "failover target is not west"

# Key rotation from one agent (issue 11): `netcoord keys` runs serf's key
# queries, so each step reaches all 4 agents; the keyrings of the others
# (-local) show it.
ncli keys list -local | grep -q "^$K1  \*\$" || die "keys list -local does not show K1 as primary"
ncli keys list | grep -q "^$K1  \[4/4\]\$" || die "keys list: K1 not on 4/4"
for step in "install $K2" "use $K2" "remove $K1"; do
	out=$(ncli keys $step) || { printf '%s\n' "$out"; die "keys $step"; }
	printf '%s\n' "$out" | sed 's/^/    /'
	grep -q '^==> Successfully' <<<"$out" || die "keys $step: no success line"
done
ncli keys list | sed 's/^/    /'
ncli keys list | grep -q "^$K2  \[4/4\]\$" || die "K2 not on 4/4 after the rotation"
! ncli keys list | grep -q "^$K1" || die "K1 still listed after remove"
for i in 1 2 3; do
	NETCOORD_HTTP_ADDR=127.0.0.1:${H[$i]} ncli keys list -local | grep -q "^$K2  \*\$" ||
		die "agent $i: K2 is not its primary"
done
# -local changes one agent only; a failing node fails the command.
ncli keys install "$K1" -local | grep -qx "Installed key $K1" || die "keys install -local"
ncli keys list | grep -q "^$K1  \[1/4\]\$" || die "K1 installed with -local is not on 1/4"
rc=0
out=$(ncli keys remove "$K2" 2>&1) || rc=$?
printf '%s\n' "$out" | sed 's/^/    /'
[ "$rc" = 1 ] || die "keys remove of the primary key: exit $rc, want 1"
[ "$(grep -c '^failed: .*Removing the primary key is not allowed' <<<"$out")" = 4 ] ||
	die "keys remove K2: not 4 failed lines"
grep -q 'Error removing key: 4/4 nodes reported failure' <<<"$out" || die "keys remove K2: no error line"
ncli keys remove "$K1" >/dev/null || die "keys remove K1 (held by one agent)"
ncli keys list | grep -q "^$K1" && die "K1 listed after its second remove"
# reachability: every agent acks _serf_ping.
out=$(ncli reachability -verbose) || { printf '%s\n' "$out"; die "reachability"; }
printf '%s\n' "$out" | sed 's/^/    /'
grep -q 'Successfully contacted all live nodes' <<<"$out" || die "reachability: not every node"
[ "$(grep -c "Ack from" <<<"$out")" = 4 ] || die "reachability: not 4 acks"

# join + leave through the CLI, on a fifth agent (already on K2).
start 4 "$K2" -tag dc=west
wait_for 10 "west3 HTTP up" curl -sf -o /dev/null "http://127.0.0.1:${H[4]}/v1/health"
NETCOORD_HTTP_ADDR=127.0.0.1:${H[4]} ncli join "127.0.0.1:${G[0]}" | sed 's/^/    /'
wait_for 20 "east1 sees 5 alive" has_alive 5
NETCOORD_HTTP_ADDR=127.0.0.1:${H[4]} ncli leave | sed 's/^/    /'
e_left() { ncli members | awk '$1 == "west3" { print $3 }' | grep -qx left; }
wait_for 20 "east1 shows west3 left" e_left

# One-line errors.
if ncli rtt nosuchnode 2>"$NC_TMP/err"; then die "rtt to an unknown node succeeded"; fi
[ "$(wc -l <"$NC_TMP/err")" = 1 ] || die "rtt error is not one line"
grep -q '^netcoord: rtt: ' "$NC_TMP/err" || die "rtt error: $(cat "$NC_TMP/err")"
log "ok: $(cat "$NC_TMP/err")"
dead=$(nc_ports 1)
if ncli members -http-addr "127.0.0.1:$dead" 2>"$NC_TMP/err"; then die "members on a dead port"; fi
grep -qx "netcoord: cannot reach agent at 127.0.0.1:$dead: Connection refused" "$NC_TMP/err" ||
	die "unreachable error: $(cat "$NC_TMP/err")"
log "ok: $(cat "$NC_TMP/err")"
log "PASS"
