#!/usr/bin/env bash
# agent_config.sh NETCOORD - configuration errors and the HTTP router.
#
# Story: bad values (flag or config file) stop the agent at start-up with
# exit code 2 and a message naming the field. A good config file starts an
# agent whose flags override the file; its HTTP API answers /v1/health and
# /v1/members as JSON, 404 / 405 with JSON error bodies; SIGTERM makes it
# leave and exit 0. TEST FACILITY: an agent with -latency-rules re-reads
# the file on SIGHUP (one log line each, a bad file keeps the old rules,
# the agent keeps running). Runs in a few seconds.
set -euo pipefail
NETCOORD=${1:?usage: agent_config.sh path/to/netcoord}
. "$(dirname "$0")/lib.sh"
nc_setup

# expect_config_error FIELD ARGS... : exit 2 and the message names FIELD.
expect_config_error() {
	local field=$1; shift
	local rc=0 out
	out=$(timeout 10 "$NETCOORD" agent "$@" 2>&1) || rc=$?
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
