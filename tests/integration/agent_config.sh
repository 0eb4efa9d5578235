#!/usr/bin/env bash
# agent_config.sh NETCOORD - configuration errors and the HTTP router.
#
# Story: bad values (flag or config file) stop the agent at start-up with
# exit code 2 and a message naming the field. A good config file starts an
# agent whose flags override the file; its HTTP API answers /v1/health and
# /v1/members as JSON, 404 / 405 with JSON error bodies; SIGTERM makes it
# leave and exit 0. Secrets (issue 9 rows 3, 13): short tokens are refused;
# an agent given its key by -encrypt-file and its token by
# $NETCOORD_HTTP_TOKEN keeps both out of /proc/PID/cmdline, logs a warning
# naming the world-readable key file, serves the keyring only with the
# token (no-store) and refuses a foreign Host. TEST FACILITY: an agent
# with -latency-rules re-reads the file on SIGHUP (one log line each, a
# bad file keeps the old rules, the agent keeps running). Runs in a few
# seconds.
set -euo pipefail
NETCOORD=${1:?usage: agent_config.sh path/to/netcoord}
. "$(dirname "$0")/lib.sh"
nc_setup

# expect_config_error FIELD ARGS... : exit 2 and the message names FIELD.
expect_config_error() {
	local field=$1; shift
	local rc=0 out
	if [ "$1" = env ]; then  # expect_config_error F env VAR=V ARGS...
		local kv=$2; shift 2
		out=$(env "$kv" timeout 10 "$NETCOORD" agent "$@" 2>&1) || rc=$?
	else
		out=$(timeout 10 "$NETCOORD" agent "$@" 2>&1) || rc=$?
	fi
	[ "$rc" = 2 ] || die "agent $* exited $rc, want 2 (output: $out)"
	grep -qF -- "$field" <<<"$out" || die "agent $*: message does not name $field: $out"
	grep -q '^netcoord: config: ' <<<"$out" || die "agent $*: message shape: $out"
	log "ok: $* -> exit 2: $out"
}

expect_config_error '"bind"' -bind 1.2.3
expect_config_error '"bind"' -bind=127.0.0.1:99999
expect_config_error '"encrypt"' -encrypt not-base64!
expect_config_error '"encrypt"' -encrypt "$(printf 'short' | base64)"
expect_config_error 'unknown flag "-bogus"' -bogus 1
expect_config_error '"profile"' -profile moon
expect_config_error '"log_level"' -log-level loud
expect_config_error '"join"' -join 300.1.1.1
expect_config_error '"tags"' -tag novalue
expect_config_error '"http_addr"' -http-addr nope
expect_config_error '"http_token"' -http-token s3cret -bind 127.0.0.1:0 -http-addr off
printf 'short-token\n' >"$NC_TMP/short.tok"
chmod 600 "$NC_TMP/short.tok"
expect_config_error '"http_token"' -http-token-file "$NC_TMP/short.tok" -bind 127.0.0.1:0 -http-addr off
expect_config_error 'NETCOORD_HTTP_TOKEN' env NETCOORD_HTTP_TOKEN=tok -bind 127.0.0.1:0 -http-addr off
expect_config_error '"encrypt_file"' -encrypt-file "$NC_TMP/missing.key"

cat >"$NC_TMP/bad1.json" <<'EOF'
{"node_name": "x", "profile": 5}
EOF
expect_config_error '"profile"' -config-file "$NC_TMP/bad1.json"
cat >"$NC_TMP/bad2.json" <<'EOF'
{"bind": "1.2.3"}
EOF
expect_config_error '"bind"' -config-file "$NC_TMP/bad2.json"
cat >"$NC_TMP/bad3.json" <<'EOF'
{"nonsense": true}
EOF
expect_config_error '"nonsense"' -config-file "$NC_TMP/bad3.json"
cat >"$NC_TMP/bad4.json" <<'EOF'
{"join": [1, 2]}
EOF
expect_config_error '"join"' -config-file "$NC_TMP/bad4.json"
printf '{"bind": ' >"$NC_TMP/bad5.json"
expect_config_error 'invalid JSON' -config-file "$NC_TMP/bad5.json"
expect_config_error '"config_file"' -config-file "$NC_TMP/missing.json"

# A port already taken is a config error naming "bind" too.
mapfile -t P < <(nc_ports 3)
nc_start holder -bind "127.0.0.1:${P[0]}" -http-addr off -log-level error
sleep 0.5
expect_config_error '"bind"' -bind "127.0.0.1:${P[0]}" -http-addr off
kill -KILL "$(pid_of holder)" 2>/dev/null || true

# A good file; the -node flag overrides its node_name.
cat >"$NC_TMP/good.json" <<EOF
{
  "node_name": "from-file",
  "bind": "127.0.0.1:${P[1]}",
  "http_addr": "127.0.0.1:${P[2]}",
  "profile": "local",
  "log_level": "debug",
  "tags": {"role": "web", "dc": "east"},
  "seed": 7
}
EOF
nc_start cfgnode -config-file "$NC_TMP/good.json" -tag dc=west
H=${P[2]}
wait_for 10 "HTTP up" curl -sf -o /dev/null "http://127.0.0.1:$H/v1/health"

body=$(curl -sf "http://127.0.0.1:$H/v1/health")
[ "$body" = '{"status":"ok"}' ] || die "health body: $body"
ctype=$(curl -s -o /dev/null -w '%{content_type}' "http://127.0.0.1:$H/v1/health")
[ "$ctype" = application/json ] || die "content type: $ctype"

members=$(curl -sf "http://127.0.0.1:$H/v1/members")
log "members: $members"
grep -q '"Name":"cfgnode"' <<<"$members" || die "flag did not override node_name"
grep -q '"role":"web"' <<<"$members" || die "file tag missing"
grep -q '"dc":"west"' <<<"$members" || die "flag tag did not override the file's"
grep -q '"Status":"alive"' <<<"$members" || die "self not alive"
grep -q "\"Port\":${P[1]}" <<<"$members" || die "port"

code=$(curl -s -o "$NC_TMP/404" -w '%{http_code}' "http://127.0.0.1:$H/v1/nope")
[ "$code" = 404 ] || die "unknown path gave $code"
grep -q '"error"' "$NC_TMP/404" || die "404 body: $(cat "$NC_TMP/404")"
code=$(curl -s -o "$NC_TMP/405" -w '%{http_code}' -X POST -d '{}' "http://127.0.0.1:$H/v1/members")
[ "$code" = 405 ] || die "POST /v1/members gave $code"
grep -q '"error"' "$NC_TMP/405" || die "405 body: $(cat "$NC_TMP/405")"
log "ok: 404 and 405 with JSON errors"

# Hit MHD's connection limit (64), release, and the endpoint still answers
# (MHD puts its listen socket back only from a later MHD_run()).
fds=()
for i in $(seq 1 70); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$H" 2>/dev/null && fds+=("$fd") || true
done
sleep 0.5
for fd in "${fds[@]}"; do exec {fd}>&-; done
log "opened and closed ${#fds[@]} idle HTTP connections"
curl -sf --max-time 5 -o /dev/null "http://127.0.0.1:$H/v1/health" || die "HTTP stuck after the connection limit"
log "ok: HTTP answers after hitting the connection limit"

# Secrets from a file and the environment (issue 9 rows 3, 13).
mapfile -t Q < <(nc_ports 2)
KEY=$("$NETCOORD" keygen)
printf '%s\n' "$KEY" >"$NC_TMP/gossip.key"
chmod 644 "$NC_TMP/gossip.key"
TOK="agent-config-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
NETCOORD_HTTP_TOKEN=$TOK nc_start secret -bind "127.0.0.1:${Q[0]}" \
	-http-addr "127.0.0.1:${Q[1]}" -profile local \
	-encrypt-file "$NC_TMP/gossip.key"
S=${Q[1]}
wait_for 10 "HTTP up" curl -sf -o /dev/null "http://127.0.0.1:$S/v1/health"
tr '\0' ' ' <"/proc/$(pid_of secret)/cmdline" | grep -qF -- "$KEY" && die "key in cmdline"
tr '\0' ' ' <"/proc/$(pid_of secret)/cmdline" | grep -qF -- "$TOK" && die "token in cmdline"
grep -q "\[WARN\].*$NC_TMP/gossip.key is readable by every user" "$NC_TMP/secret.log" ||
	die "no warning naming the readable key file: $(cat "$NC_TMP/secret.log")"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$S/v1/agent/keyring")
[ "$code" = 401 ] || die "keyring without the token gave $code"
curl -sf -D "$NC_TMP/kr.h" -o "$NC_TMP/kr.json" -H "Authorization: Bearer $TOK" \
	"http://127.0.0.1:$S/v1/agent/keyring?local=1" || die "keyring with the token"
grep -qF "\"Primary\":\"$KEY\"" "$NC_TMP/kr.json" || die "keyring: $(cat "$NC_TMP/kr.json")"
grep -qi '^Cache-Control: no-store' "$NC_TMP/kr.h" || die "keyring headers: $(cat "$NC_TMP/kr.h")"
code=$(curl -s -o "$NC_TMP/host.json" -w '%{http_code}' -H 'Host: rebind.example' \
	-H "Authorization: Bearer $TOK" "http://127.0.0.1:$S/v1/agent/keyring")
[ "$code" = 403 ] || die "foreign Host gave $code"
grep -q '"error"' "$NC_TMP/host.json" || die "Host 403 body: $(cat "$NC_TMP/host.json")"
curl -sf -o /dev/null -H "Host: localhost:$S" "http://127.0.0.1:$S/v1/health" || die "Host: localhost refused"
log "ok: key from a file, token from the environment, keyring needs the token, Host check"
kill -TERM "$(pid_of secret)"
wait_exit "$(pid_of secret)" 10

kill -TERM "$(pid_of cfgnode)"
wait_exit "$(pid_of cfgnode)" 10
[ "$WAIT_RC" = 0 ] || die "SIGTERM exit: $WAIT_RC"
log "ok: SIGTERM -> exit 0"

# TEST FACILITY: latency rules (loop/latency.h), re-read on SIGHUP.
expect_config_error '"latency_rules"' -latency-rules "$NC_TMP/rules.txt" -http-addr off
mapfile -t R < <(nc_ports 3)
printf '0 20\n20 0\n' >"$NC_TMP/m.txt"
printf '127.0.0.1:%d 0 rulesnode\n127.0.0.1:%d 1 other\n' "${R[0]}" "${R[2]}" >"$NC_TMP/map.txt"
lat=(-latency-matrix "$NC_TMP/m.txt" -latency-map "$NC_TMP/map.txt")
printf 'loss 2\n' >"$NC_TMP/rules.txt"
expect_config_error '"latency_rules"' -node rulesnode -bind "127.0.0.1:${R[0]}" \
	-http-addr off "${lat[@]}" -latency-rules "$NC_TMP/rules.txt"
printf '# start\nloss 0.25\n' >"$NC_TMP/rules.txt"
nc_start rulesnode -bind "127.0.0.1:${R[0]}" -http-addr "127.0.0.1:${R[1]}" \
	"${lat[@]}" -latency-rules "$NC_TMP/rules.txt"
H=${R[1]}
wait_for 10 "HTTP up" curl -sf -o /dev/null "http://127.0.0.1:$H/v1/health"
grep -q 'rules: loss 0.250, 0 of 2 mapped peers blocked' "$NC_TMP/rulesnode.log" ||
	die "start-up rules line: $(cat "$NC_TMP/rulesnode.log")"
printf 'block 1\n' >"$NC_TMP/rules.txt"
kill -HUP "$(pid_of rulesnode)"
wait_for 5 "rules re-read" grep -q \
	"re-read from $NC_TMP/rules.txt: loss 0.000, 1 of 2 mapped peers blocked" \
	"$NC_TMP/rulesnode.log"
printf 'block 1\nblock 5\n' >"$NC_TMP/rules.txt"
kill -HUP "$(pid_of rulesnode)"
wait_for 5 "bad rules refused" grep -q "latency rules kept: .*rules.txt:2: row 5 outside" \
	"$NC_TMP/rulesnode.log"
curl -sf --max-time 5 "http://127.0.0.1:$H/v1/stats" | grep -q '"streams_blocked":' ||
	die "no rules counters in /v1/stats"
kill -0 "$(pid_of rulesnode)" || die "SIGHUP ended the agent"
grep -q "Gracefully leaving" "$NC_TMP/rulesnode.log" && die "SIGHUP started a leave"
log "ok: SIGHUP re-reads the latency rules"
kill -TERM "$(pid_of rulesnode)"
wait_exit "$(pid_of rulesnode)" 10
log "PASS agent_config"
