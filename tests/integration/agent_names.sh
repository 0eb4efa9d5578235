#!/usr/bin/env bash
# agent_names.sh NETCOORD - joining by host name, and serf's -retry-join.
#
# Story: n1 listens on 127.0.0.1; n2 joins it as "localhost:PORT" (a name,
# resolved by the agent). Two agents on [::1] join by a name that resolves
# to ::1 (ip6-localhost if /etc/hosts has it, else a name of our own in a
# private mount namespace where a test hosts file covers /etc/hosts: the
# machine's file is never touched). n3 starts with -retry-join toward a
# port where nobody listens yet, logs its failed attempts, and joins once
# n4 starts there. An agent told to join a name that does not resolve logs
# a line naming it, keeps retrying and keeps serving. -retry-max 1 makes
# an agent give up after its 2nd attempt and exit 1 (serf's meaning).
set -euo pipefail
NETCOORD=${1:?usage: agent_names.sh path/to/netcoord}
. "$(dirname "$0")/lib.sh"
nc_setup

mapfile -t P < <(nc_ports 16)
G=("${P[@]:0:8}")   # gossip ports
H=("${P[@]:8:8}")   # http ports
common=(-profile lan -log-level debug)
knows() { # knows NAME HTTPPORTS... : each lists NAME alive
	local name=$1 h; shift
	for h in "$@"; do status_is nc_members "$h" "$name" alive || return 1; done
}

# --- a name resolving to 127.0.0.1 -------------------------------------
nc_start n1 -bind "127.0.0.1:${G[0]}" -http-addr "127.0.0.1:${H[0]}" "${common[@]}"
wait_for 10 "n1 up" knows n1 "${H[0]}"
nc_start n2 -bind "127.0.0.1:${G[1]}" -http-addr "127.0.0.1:${H[1]}" "${common[@]}" \
	-join "localhost:${G[0]}"
wait_for 10 "n2 joined n1 via localhost" knows n2 "${H[0]}"
grep -q 'Resolved "localhost"' "$NC_TMP/n2.log" || die "n2 did not resolve localhost"

# --- a name resolving to ::1 --------------------------------------------
# nc_start_ns NAME HOSTSFILE ARGS... : like nc_start, with HOSTSFILE as
# /etc/hosts in a private mount namespace (the PID stays the agent's).
nc_start_ns() {
	local name=$1 hosts=$2; shift 2
	unshare -m -- sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' \
		"$hosts" "$NETCOORD" agent -node "$name" "$@" >"$NC_TMP/$name.log" 2>&1 &
	local pid=$!
	NC_PIDS+=("$pid")
	printf -v "NC_PID_$name" '%s' "$pid"
}
v6_start=""
if ! grep -q ' lo$' /proc/net/if_inet6 2>/dev/null ||
	! grep -q '^0\{31\}1 ' /proc/net/if_inet6; then
	log "SKIP part: no IPv6 loopback (::1)"
elif getent ahosts ip6-localhost | grep -q '^::1 '; then
	v6name=ip6-localhost v6_start=nc_start
elif unshare -m -- sh -c "mount --bind /etc/hosts /etc/hosts" 2>/dev/null; then
	v6name=nc-test-v6
	printf '127.0.0.1 localhost\n::1 %s\n' "$v6name" >"$NC_TMP/hosts"
	v6_start="nc_start_ns"
else
	log "SKIP part: no name resolves to ::1 and no mount namespace to make one"
fi
if [ -n "$v6_start" ]; then
	log "joining by $v6name (::1)"
	nc_start v6a -bind "[::1]:${G[2]}" -http-addr "127.0.0.1:${H[2]}" "${common[@]}"
	wait_for 10 "v6a up" knows v6a "${H[2]}"
	if [ "$v6_start" = nc_start ]; then
		nc_start v6b -bind "[::1]:${G[3]}" -http-addr "127.0.0.1:${H[3]}" \
			"${common[@]}" -join "$v6name:${G[2]}"
	else
		nc_start_ns v6b "$NC_TMP/hosts" -bind "[::1]:${G[3]}" \
			-http-addr "127.0.0.1:${H[3]}" "${common[@]}" -join "$v6name:${G[2]}"
	fi
	wait_for 10 "v6b joined v6a via $v6name" knows v6b "${H[2]}"
	grep -q "Resolved \"$v6name\"" "$NC_TMP/v6b.log" || die "v6b did not resolve $v6name"
	kill -KILL "$(pid_of v6a)" "$(pid_of v6b)"
fi

# --- -retry-join toward an agent started later ---------------------------
nc_start n3 -bind "127.0.0.1:${G[4]}" -http-addr "127.0.0.1:${H[4]}" "${common[@]}" \
	-retry-join "localhost:${G[5]}" -retry-interval 1s
wait_for 10 "n3 logs a failed -retry-join attempt" \
	grep -q 'Join failed: .*(-retry-join, attempt 2)' "$NC_TMP/n3.log"
nc_start n4 -bind "127.0.0.1:${G[5]}" -http-addr "127.0.0.1:${H[5]}" "${common[@]}"
wait_for 10 "n3 joined n4 once it started" knows n3 "${H[5]}"
grep -q 'Join completed' "$NC_TMP/n3.log" || die "n3 did not log its join"

# --- a name that does not resolve: logged, retried, no crash -------------
nc_start n5 -bind "127.0.0.1:${G[6]}" -http-addr "127.0.0.1:${H[6]}" "${common[@]}" \
	-retry-join "no-such-host.invalid:${G[0]}" -retry-interval 1s \
	-http-allow-unauthenticated-writes=true
wait_for 10 "n5 names the unresolvable host, twice" \
	bash -c "[ \$(grep -c 'cannot resolve \"no-such-host.invalid\"' '$NC_TMP/n5.log') -ge 2 ]"
kill -0 "$(pid_of n5)" || die "n5 died"
curl -sf --max-time 2 "http://127.0.0.1:${H[6]}/v1/health" >/dev/null || die "n5 stopped serving"
# ... and the API says so too, naming it.
body=$(curl -s --max-time 10 -X PUT \
	"http://127.0.0.1:${H[6]}/v1/agent/join?address=no-such-host.invalid" || true)
grep -q 'cannot resolve \\"no-such-host.invalid\\"' <<<"$body" ||
	die "PUT join of a bad name: $body"
log "ok: PUT join of a bad name: $body"
kill -KILL "$(pid_of n5)"

# --- the CLI's join by name ---------------------------------------------
nc_start n6 -bind "127.0.0.1:${G[7]}" -http-addr "127.0.0.1:${H[7]}" "${common[@]}" \
	-http-token t0k-long-enough-token
wait_for 10 "n6 up" curl -sf -o /dev/null "http://127.0.0.1:${H[7]}/v1/health"
out=$("$NETCOORD" join -http-addr "127.0.0.1:${H[7]}" -token t0k-long-enough-token "localhost:${G[0]}" 2>&1) ||
	die "netcoord join localhost: $out"
log "ok: netcoord join localhost:${G[0]}: $out"
wait_for 10 "n1 sees n6" knows n6 "${H[0]}"
out=$("$NETCOORD" join -http-addr "127.0.0.1:${H[7]}" -token t0k-long-enough-token "no-such-host.invalid" 2>&1) &&
	die "join of a bad name succeeded: $out"
grep -q 'no-such-host.invalid' <<<"$out" || die "CLI join error does not name the host: $out"
log "ok: bad name: $out"

# --- -retry-max: give up and exit 1 --------------------------------------
mapfile -t Q < <(nc_ports 2)
nc_start n7 -bind "127.0.0.1:${Q[0]}" -http-addr off "${common[@]}" \
	-retry-join "127.0.0.1:${Q[1]}" -retry-interval 1s -retry-max 1
wait_exit "$(pid_of n7)" 15
[ "$WAIT_RC" = 1 ] || die "n7 (-retry-max 1) exit: $WAIT_RC, want 1"
[ "$(grep -c 'Join failed' "$NC_TMP/n7.log")" = 2 ] || die "n7: want 2 failed attempts"
grep -q 'maximum retry join attempts' "$NC_TMP/n7.log" || die "n7 did not say why"
log "PASS agent_names"
