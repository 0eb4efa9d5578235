#!/usr/bin/env bash
# serf_keys_mixed.sh NETCOORD - key rotation across a cluster of 3 serf +
# 10 netcoord agents encrypted with K0 (issue 11), driven both ways:
#   1. from a netcoord agent (kn3), `netcoord keys install K1`, `use K1`,
#      `remove K0` each report success from all 13 nodes (serf agents
#      answer netcoord's _serf_*-key queries as they answer serf's), and
#      serf's own `serf keys -list` then shows K1 on 13/13 and nothing
#      else (`netcoord keys list` too);
#   2. from a serf node, `serf keys -install K2`, `-use K2`, `-remove K1`
#      each report success from all 13 nodes (netcoord agents answer on
#      their own keyring) and `serf keys -list` shows K2 on 13/13 only.
# Afterwards, a netcoord and a serf agent holding only K2 join; a netcoord
# and a serf agent holding only K1 are refused. The transcripts are
# printed (README figures).
# Needs the Debian serf package; skipped (77) without it.
set -euo pipefail
NETCOORD=${1:?usage: serf_keys_mixed.sh path/to/netcoord}
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/serf_mixed_lib.sh"
command -v serf >/dev/null || { log "SKIP: serf not installed"; exit 77; }
nc_setup
K0=$(serf keygen)
K1=$(serf keygen)
K2=$(serf keygen)

# netcoord reachability / keys use write endpoints of the agents' API.
MIXED_NC_ARGS=(-http-allow-unauthenticated-writes=true)
mixed_cluster k "$K0"

# 1. netcoord keys from kn3.
nckeys() { # nckeys ARGS... : run `netcoord keys` against kn3, print it.
	local out rc=0
	out=$("$NETCOORD" keys -http-addr "127.0.0.1:$H_n3" "$@" 2>&1) || rc=$?
	printf '%s\n' "$out" | sed 's/^/    /'
	[ $rc = 0 ] && grep -q '^==> ' <<<"$out"
}
log "netcoord keys install K1 (from kn3)"
nckeys install "$K1" || die "netcoord keys install K1 failed"
log "netcoord keys use K1"
nckeys use "$K1" || die "netcoord keys use K1 failed"
log "netcoord keys remove K0"
nckeys remove "$K0" || die "netcoord keys remove K0 failed"
log "netcoord keys list"
nckeys list || die "netcoord keys list failed"
log "serf keys -list (after netcoord's rotation)"
out=$(serf keys -rpc-addr="127.0.0.1:$R_s2" -list 2>&1) || die "serf list failed"
printf '%s\n' "$out" | sed 's/^/    /'
grep -q "$K1.*\[13/13\]" <<<"$out" || die "K1 not on 13/13 after netcoord's rotation"
grep -q "$K0" <<<"$out" && die "K0 still listed after netcoord's rotation"
out=$(curl -sf "http://127.0.0.1:$H_n3/metrics" | grep -E '^netcoord_serf_own_' || true)
printf '%s\n' "$out" | sed 's/^/    kn3 /'

# 2. serf keys from ks1.
keys() { # keys ARGS... : run `serf keys` on ks1, print its output.
	local out rc=0
	out=$(serf keys -rpc-addr="127.0.0.1:$R_s1" "$@" 2>&1) || rc=$?
	printf '%s\n' "$out" | sed 's/^/    /'
	return $rc
}
log "serf keys -install K2"
keys -install="$K2" || die "install K2 failed"
log "serf keys -use K2"
keys -use="$K2" || die "use K2 failed"
log "serf keys -remove K1"
keys -remove="$K1" || die "remove K1 failed"
log "serf keys -list"
out=$(serf keys -rpc-addr="127.0.0.1:$R_s1" -list 2>&1) || die "list failed"
printf '%s\n' "$out" | sed 's/^/    /'
grep -q "$K2.*\[13/13\]" <<<"$out" || die "K2 not on 13/13"
grep -q "$K1" <<<"$out" && die "K1 still listed"

mapfile -t X < <(nc_ports 6)
log "netcoord and serf agents holding only K2 join"
nc_start kx2 -bind "127.0.0.1:${X[0]}" -http-addr "127.0.0.1:${X[1]}" -profile lan -encrypt "$K2" -join "127.0.0.1:$G_s2"
serf_start ky2 -bind="127.0.0.1:${X[2]}" -rpc-addr="127.0.0.1:${X[3]}" -profile=lan -encrypt="$K2" -join="127.0.0.1:$G_n7"
known_by_s1() { status_is serf_members "$R_s1" "$1" alive; }
wait_for 20 "kx2 (K2, netcoord) alive at ks1" known_by_s1 kx2
wait_for 20 "ky2 (K2, serf) alive at ks1" known_by_s1 ky2
log "netcoord and serf agents holding only K1 are refused"
mapfile -t Y < <(nc_ports 4)
nc_start kx1 -bind "127.0.0.1:${Y[0]}" -http-addr "127.0.0.1:${Y[1]}" -profile lan -encrypt "$K1" -join "127.0.0.1:$G_n2"
serf_start ky1 -bind="127.0.0.1:${Y[2]}" -rpc-addr="127.0.0.1:${Y[3]}" -profile=lan -encrypt="$K1" -join="127.0.0.1:$G_n3"
wait_exit "$(pid_of ky1)" 20
[ "$WAIT_RC" != 0 ] && [ "$WAIT_RC" != timeout ] || die "ky1 (K1, serf) was not refused: $WAIT_RC"
log "ok: ky1 (K1, serf) exited with $WAIT_RC (join refused)"
seen_k1() { serf_members "$R_s1" | grep -q '^kx1 '; }
never_within 8 "kx1 (K1, netcoord) listed by ks1" seen_k1
for n in kx2 ky2 kx1; do kill -KILL "$(pid_of $n)" 2>/dev/null || true; done
mixed_stop
log "PASS"
