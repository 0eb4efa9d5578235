#!/usr/bin/env bash
# agent_keyfiles.sh NETCOORD - serf's -keyring-file and -tags-file.
#
# Story: k1 and k2 start encrypted from keyring files holding K1 and join.
# Over HTTP (?local=1: each agent's own keyring), K2 is installed and made
# primary on both, and K1 removed: each
# file is rewritten (K2 first, mode 0600). k2 is killed and restarted with
# its keyring file only: it is back in the cluster (which now only speaks
# K2) with K2 primary. A tags file gives k3 its tags, seen by the others.
# Start-up errors name the file: -encrypt with -keyring-file (serf refuses
# both), a keyring file that is not a JSON array of keys, -tag with
# -tags-file.
set -euo pipefail
NETCOORD=${1:?usage: agent_keyfiles.sh path/to/netcoord}
. "$(dirname "$0")/lib.sh"
nc_setup

mapfile -t P < <(nc_ports 6)
G=("${P[@]:0:3}")
H=("${P[@]:3:3}")
common=(-profile lan -log-level debug -http-token t0k-long-enough-token)
K1=$("$NETCOORD" keygen)
K2=$("$NETCOORD" keygen)
api() { # api METHOD HTTPPORT PATH [BODY]
	curl -sf --max-time 5 -X "$1" -H 'Authorization: Bearer t0k-long-enough-token' \
		${4:+--data "$4"} "http://127.0.0.1:$2$3"
}
nc_members() { # with the token
	local body
	body=$(api GET "$1" /v1/members) || return 1
	python3 -c 'import json,sys
for m in json.load(sys.stdin): print(m["Name"], m["Status"])' <<<"$body"
}
status_is() { # whole output first (no early-closed pipe)
	local out
	out=$("$1" "$2") || return 1
	grep -qx "$3 $4" <<<"$out"
}
knows() {
	local name=$1 h; shift
	for h in "$@"; do status_is nc_members "$h" "$name" alive || return 1; done
}
first_key() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0])' "$1"; }
nkeys() { python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$1"; }

printf '["%s"]\n' "$K1" >"$NC_TMP/k1.keys"
printf '["%s"]\n' "$K1" >"$NC_TMP/k2.keys"
nc_start k1 -bind "127.0.0.1:${G[0]}" -http-addr "127.0.0.1:${H[0]}" "${common[@]}" \
	-keyring-file "$NC_TMP/k1.keys"
nc_start k2 -bind "127.0.0.1:${G[1]}" -http-addr "127.0.0.1:${H[1]}" "${common[@]}" \
	-keyring-file "$NC_TMP/k2.keys" -join "127.0.0.1:${G[0]}"
wait_for 10 "k1, k2 joined with K1 from their keyring files" knows k2 "${H[0]}" "${H[1]}"
grep -q 'Restored keyring with 1 keys' "$NC_TMP/k2.log" || die "k2 did not say it loaded the file"

log "rotate: install K2, use K2, remove K1 (both agents)"
for h in "${H[0]}" "${H[1]}"; do
	api PUT "$h" /v1/agent/keyring/install?local=1 "{\"Key\":\"$K2\"}" >/dev/null || die "install on $h"
done
for h in "${H[0]}" "${H[1]}"; do
	api PUT "$h" /v1/agent/keyring/use?local=1 "{\"Key\":\"$K2\"}" >/dev/null || die "use on $h"
done
for h in "${H[0]}" "${H[1]}"; do
	api PUT "$h" /v1/agent/keyring/remove?local=1 "{\"Key\":\"$K1\"}" >/dev/null || die "remove on $h"
done
for f in k1 k2; do
	[ "$(first_key "$NC_TMP/$f.keys")" = "$K2" ] || die "$f.keys: K2 is not first: $(cat "$NC_TMP/$f.keys")"
	[ "$(nkeys "$NC_TMP/$f.keys")" = 1 ] || die "$f.keys: K1 still there"
	[ "$(stat -c %a "$NC_TMP/$f.keys")" = 600 ] || die "$f.keys: mode $(stat -c %a "$NC_TMP/$f.keys")"
done
ls "$NC_TMP" | grep -q '\.tmp\.' && die "temporary file left behind"
log "ok: keyring files rewritten, K2 first, mode 0600"

log "kill -9 k2, restart it with its keyring file"
kill -KILL "$(pid_of k2)"
wait "$(pid_of k2)" 2>/dev/null || true
wait_for 30 "k1 marks k2 failed" status_is nc_members "${H[0]}" k2 failed
nc_start k2 -bind "127.0.0.1:${G[1]}" -http-addr "127.0.0.1:${H[1]}" "${common[@]}" \
	-keyring-file "$NC_TMP/k2.keys" -join "127.0.0.1:${G[0]}"
wait_for 15 "restarted k2 is back in the cluster" knows k2 "${H[0]}" "${H[1]}"
primary=$(api GET "${H[1]}" "/v1/agent/keyring?local=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Primary"])')
[ "$primary" = "$K2" ] || die "restarted k2: primary $primary, want K2"
log "ok: restarted k2 has K2 primary"

# Tags file: the tags of the file, seen by the others.
printf '{"role": "db", "dc": "east"}\n' >"$NC_TMP/k3.tags"
printf '["%s"]\n' "$K2" >"$NC_TMP/k3.keys"
nc_start k3 -bind "127.0.0.1:${G[2]}" -http-addr "127.0.0.1:${H[2]}" "${common[@]}" \
	-keyring-file "$NC_TMP/k3.keys" -tags-file "$NC_TMP/k3.tags" -join "127.0.0.1:${G[0]}"
wait_for 10 "k3 joined" knows k3 "${H[0]}"
k3_tags() {
	api GET "${H[0]}" /v1/members | python3 -c 'import json,sys
t = [m for m in json.load(sys.stdin) if m["Name"] == "k3"][0]["Tags"]
sys.exit(0 if t.get("role") == "db" and t.get("dc") == "east" else 1)'
}
wait_for 10 "k1 sees k3's tags from its tags file" k3_tags

# Start-up errors naming the file.
expect_error() { # expect_error TEXT ARGS...
	local text=$1 rc=0 out; shift
	out=$(timeout 10 "$NETCOORD" agent -http-addr off "$@" 2>&1) || rc=$?
	[ "$rc" = 2 ] || die "agent $* exited $rc, want 2 ($out)"
	grep -qF -- "$text" <<<"$out" || die "agent $*: message does not name $text: $out"
	log "ok: exit 2: $out"
}
expect_error "$NC_TMP/k1.keys" -bind 127.0.0.1:0 -encrypt "$K1" -keyring-file "$NC_TMP/k1.keys"
printf '{"not": "an array"}' >"$NC_TMP/bad.keys"
expect_error "$NC_TMP/bad.keys" -bind 127.0.0.1:0 -keyring-file "$NC_TMP/bad.keys"
printf '["not base64!"]' >"$NC_TMP/bad2.keys"
expect_error "$NC_TMP/bad2.keys" -bind 127.0.0.1:0 -keyring-file "$NC_TMP/bad2.keys"
expect_error "$NC_TMP/k3.tags" -bind 127.0.0.1:0 -tags-file "$NC_TMP/k3.tags" -tag a=b
printf '[1]' >"$NC_TMP/bad.tags"
expect_error "$NC_TMP/bad.tags" -bind 127.0.0.1:0 -tags-file "$NC_TMP/bad.tags"
log "PASS agent_keyfiles"
