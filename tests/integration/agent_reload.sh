#!/usr/bin/env bash
# agent_reload.sh NETCOORD - reload on SIGHUP and PUT /v1/agent/reload
# (issue 10 item 5) with three real agents.
#
# r1 reads a config file (tags, log level, a token file); r3 reads a
# -tags-file. Editing r1's file and sending SIGHUP: r2 and r3 see r1's new
# tags within seconds (a new alive). r3's tags file edited + SIGHUP: r2
# sees the tags, r3 rewrote the file (serf's format, mode 0600), and r1,
# now at debug, logs that member update at DEBUG (none before). A new token in the token file, applied
# with PUT /v1/agent/reload (the old token): the old token is then refused,
# the new one works, and `netcoord reload` answers what was applied. A
# field that needs a restart is named in the answer and in one log line.
# A broken file keeps everything (400 naming the file, the agent runs on,
# r1 keeps its tags and token). Without a token, reload is refused.
set -euo pipefail
NETCOORD=${1:?usage: agent_reload.sh path/to/netcoord}
. "$(dirname "$0")/lib.sh"
nc_setup

mapfile -t P < <(nc_ports 6)
G=("${P[@]:0:3}")
H=("${P[@]:3:3}")
T=$NC_TMP
OLD=old-token-0123456789abcdef
NEW=new-token-0123456789abcdef
printf '%s\n' "$OLD" >"$T/token"
chmod 600 "$T/token"
write_conf() { # write_conf ROLE LEVEL [EXTRA JSON FIELDS]
	printf '{"tags": {"role": "%s"}, "log_level": "%s", "http_token_file": "%s"%s}\n' \
		"$1" "$2" "$T/token" "${3:-}" >"$T/r1.json.tmp"
	chmod 600 "$T/r1.json.tmp"
	mv "$T/r1.json.tmp" "$T/r1.json"
}
write_conf web info
printf '{"role": "cache"}' >"$T/r3.tags"
chmod 644 "$T/r3.tags"

nc_start r1 -bind "127.0.0.1:${G[0]}" -http-addr "127.0.0.1:${H[0]}" -profile local \
	-config-file "$T/r1.json"
nc_start r2 -bind "127.0.0.1:${G[1]}" -http-addr "127.0.0.1:${H[1]}" -profile local \
	-join "127.0.0.1:${G[0]}"
nc_start r3 -bind "127.0.0.1:${G[2]}" -http-addr "127.0.0.1:${H[2]}" -profile local \
	-tags-file "$T/r3.tags" -join "127.0.0.1:${G[0]}"

# tag_of HTTPPORT NODE KEY : the tag as HTTPPORT's agent sees it.
tag_of() {
	curl -sf --max-time 2 "http://127.0.0.1:$1/v1/members" 2>/dev/null | python3 -c 'import json,sys
for m in json.load(sys.stdin):
    if m["Name"] == sys.argv[1]: print(m["Tags"].get(sys.argv[2], ""))' "$2" "$3" 2>/dev/null
}
tag_is() { [ "$(tag_of "$1" "$2" "$3")" = "$4" ]; }
wait_for 15 "r2 sees r1 role=web and r3 role=cache" \
	eval 'tag_is "${H[1]}" r1 role web && tag_is "${H[1]}" r3 role cache'
grep -q '\[DEBUG\]' "$T/r1.log" && die "r1 logs DEBUG lines at level info"

log "edit r1's config file (role=db, log_level debug), SIGHUP r1"
write_conf db debug
kill -HUP "$(pid_of r1)"
wait_for 5 "r2 and r3 see r1 role=db" eval 'tag_is "${H[1]}" r1 role db && tag_is "${H[2]}" r1 role db'
wait_for 5 "r1 logged the reload" grep -q 'reload: applied: log_level, tags' "$T/r1.log"

log "edit r3's tags file, SIGHUP r3"
printf '{"role": "queue", "dc": "east"}' >"$T/r3.tags"
kill -HUP "$(pid_of r3)"
wait_for 5 "r2 sees r3 role=queue dc=east" eval 'tag_is "${H[1]}" r3 role queue && tag_is "${H[1]}" r3 dc east'
# r1 (now at debug) logs member updates at DEBUG: r3's is one.
wait_for 10 "DEBUG lines in r1's log after its reload" grep -q '\[DEBUG\]' "$T/r1.log"
[ "$(stat -c %a "$T/r3.tags")" = 600 ] || die "r3's tags file not rewritten (mode $(stat -c %a "$T/r3.tags"))"
python3 -c 'import json,sys; t = json.load(open(sys.argv[1])); sys.exit(0 if t == {"role": "queue", "dc": "east"} else 1)' \
	"$T/r3.tags" || die "r3's tags file: $(cat "$T/r3.tags")"
log "ok: r3 rewrote its tags file (mode 600)"

# api TOKEN METHOD HTTPPORT PATH : prints the status, body in $T/body.
api() {
	curl -s -o "$T/body" -w '%{http_code}' --max-time 5 -X "$2" \
		${1:+-H "Authorization: Bearer $1"} "http://127.0.0.1:$3$4"
}
code=$(api "" PUT "${H[0]}" /v1/agent/reload)
[ "$code" = 401 ] || die "reload without a token: $code, want 401"
code=$(api "" PUT "${H[1]}" /v1/agent/reload)
[ "$code" = 403 ] || die "reload on r2 (no token configured): $code, want 403"
log "ok: reload without a token refused (401; 403 where no token is configured)"

log "new token in the token file, max_members in the config file; PUT reload with the old token"
printf '%s\n' "$NEW" >"$T/token"
write_conf db debug ', "max_members": 500'
code=$(api "$OLD" PUT "${H[0]}" /v1/agent/reload)
[ "$code" = 200 ] || die "reload with the old token: $code $(cat "$T/body")"
python3 -c 'import json,sys; d = json.load(open(sys.argv[1]))
sys.exit(0 if d["Applied"] == ["http_token"] and d["NeedRestart"] == ["max_members"] else 1)' "$T/body" \
	|| die "reload answer: $(cat "$T/body")"
grep -q 'reload: not applied until restart: max_members' "$T/r1.log" || die "no restart log line"
code=$(api "$OLD" GET "${H[0]}" /v1/members)
[ "$code" = 403 ] || die "old token after reload: $code, want 403"
code=$(api "$NEW" GET "${H[0]}" /v1/members)
[ "$code" = 200 ] || die "new token after reload: $code, want 200"
log "ok: old token 403, new token 200, max_members named as needing a restart"
out=$(timeout 10 "$NETCOORD" reload -http-addr "127.0.0.1:${H[0]}" -token "$NEW" 2>&1) \
	|| die "netcoord reload: $out"
grep -q 'needs restart: max_members' <<<"$out" || die "netcoord reload: $out"
log "ok: netcoord reload: $(tr '\n' ' ' <<<"$out")"

log "broken config file: everything kept"
printf '{"tags": {"role": "broken"}, "log_level": "loud"}' >"$T/r1.json"
chmod 600 "$T/r1.json"
kill -HUP "$(pid_of r1)"
wait_for 5 "r1 logged that it kept its configuration" grep -q 'reload: configuration kept' "$T/r1.log"
grep 'reload: configuration kept' "$T/r1.log" | grep -q '"log_level"' || die "kept line does not name the field"
code=$(api "$NEW" PUT "${H[0]}" /v1/agent/reload)
[ "$code" = 400 ] || die "reload of a broken file: $code, want 400"
grep -q "r1.json" "$T/body" && grep -q 'log_level' "$T/body" || die "400 does not name file and field: $(cat "$T/body")"
kill -0 "$(pid_of r1)" || die "r1 died"
never_within 2 "r2 sees r1's tags change after a broken reload" eval '! tag_is "${H[1]}" r1 role db'
code=$(api "$NEW" GET "${H[0]}" /v1/members)
[ "$code" = 200 ] || die "token after a broken reload: $code"
log "PASS agent_reload"
