#!/usr/bin/env bash
# agent_https.sh NETCOORD - the API over HTTPS (issue 10 item 4).
#
# A self-signed EC certificate for CN=localhost (subjectAltName
# DNS:localhost, IP:127.0.0.1) is made with the openssl CLI. An agent
# serves its API with it: the CLI given the certificate as its CA
# (-ca-file, or $NETCOORD_CACERT) lists the members over https; without
# the CA it fails naming the certificate problem; plain http:// to the TLS
# port gets nothing; examples/dr_failover.sh works over https too.
# Start-up stops (exit 2) with a message naming the file for a missing
# certificate, a certificate that is not PEM, a key that does not match
# the certificate and a key without a certificate; a key file others can
# read earns a warning.
set -euo pipefail
NETCOORD=${1:?usage: agent_https.sh path/to/netcoord}
. "$(dirname "$0")/lib.sh"
nc_setup
command -v openssl >/dev/null || { log "SKIP: openssl not installed"; exit 77; }

mapfile -t P < <(nc_ports 2)
G=${P[0]} H=${P[1]}
T=$NC_TMP
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$T/key.pem" -out "$T/cert.pem" -days 2 -subj /CN=localhost \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>"$T/openssl.log" \
	|| die "openssl req failed: $(cat "$T/openssl.log")"
chmod 600 "$T/key.pem"
openssl ecparam -name prime256v1 -genkey -noout -out "$T/other.pem" 2>/dev/null
chmod 644 "$T/other.pem"
echo "this is not a certificate" >"$T/garbage.pem"

nc_start h1 -bind "127.0.0.1:$G" -http-addr "127.0.0.1:$H" -profile local \
	-http-tls-cert "$T/cert.pem" -http-tls-key "$T/key.pem"
https_up() { curl -sf --max-time 2 --cacert "$T/cert.pem" "https://127.0.0.1:$H/v1/health" >/dev/null; }
wait_for 10 "agent answers over https" https_up
grep -q "http 127.0.0.1:$H (https)" "$T/h1.log" || die "start line does not say https"

cli() { timeout 15 "$NETCOORD" "$@"; }
out=$(cli members -http-addr "https://127.0.0.1:$H" -ca-file "$T/cert.pem" 2>&1) \
	|| die "members over https with -ca-file failed: $out"
grep -Eq '^h1 +127\.0\.0\.1:'"$G"' +alive' <<<"$out" || die "members over https: $out"
log "ok: CLI -ca-file lists members over https"
out=$(NETCOORD_CACERT="$T/cert.pem" NETCOORD_HTTP_ADDR="https://localhost:$H" cli members 2>&1) \
	|| die "members with NETCOORD_CACERT / NETCOORD_HTTP_ADDR failed: $out"
grep -q '^h1 ' <<<"$out" || die "members via the environment: $out"
log "ok: NETCOORD_CACERT and an https NETCOORD_HTTP_ADDR (host name localhost)"
# One agent: the answer is an empty table ("no other dc"), but it came
# over https (a TLS failure is netcoord's error line instead).
out=$(NETCOORD=$NETCOORD timeout 15 sh "$(dirname "$0")/../../examples/dr_failover.sh" \
	-http-addr "https://127.0.0.1:$H" -ca-file "$T/cert.pem" 2>&1) || true
grep -q '^#  DC  MEDIAN_RTT' <<<"$out" && ! grep -q 'netcoord:' <<<"$out" \
	|| die "dr_failover.sh over https: $out"
log "ok: examples/dr_failover.sh over https"

rc=0; out=$(cli members -http-addr "https://127.0.0.1:$H" 2>&1) || rc=$?
[ "$rc" = 1 ] || die "members without the CA: exit $rc, want 1 ($out)"
grep -qi 'certificate' <<<"$out" || die "members without the CA: no word about the certificate: $out"
grep -q 'ca-file' <<<"$out" || die "members without the CA: no hint about -ca-file: $out"
log "ok: without the CA: $out"

rc=0; out=$(cli members -http-addr "127.0.0.1:$H" 2>&1) || rc=$?
[ "$rc" = 1 ] || die "plain http to the TLS port: exit $rc, want 1 ($out)"
grep -q 'HTTPS' <<<"$out" || die "plain http to the TLS port: no hint: $out"
if curl -s --max-time 3 "http://127.0.0.1:$H/v1/members" | grep -q '"Name"'; then
	die "plain http to the TLS port answered members"
fi
log "ok: plain http:// to the TLS port gets nothing: $out"
kill -0 "$(pid_of h1)" || die "agent died"

expect_error() { # expect_error TEXT ARGS...
	local text=$1 rc=0 out; shift
	out=$(timeout 10 "$NETCOORD" agent -bind 127.0.0.1:0 -http-addr 127.0.0.1:0 "$@" 2>&1) || rc=$?
	[ "$rc" = 2 ] || die "agent $* exited $rc, want 2 ($out)"
	grep -qF -- "$text" <<<"$out" || die "agent $*: message does not name $text: $out"
	LAST_OUT=$out
	log "ok: exit 2: $(grep 'netcoord: config' <<<"$out")"
}
expect_error "$T/missing.pem" -http-tls-cert "$T/missing.pem" -http-tls-key "$T/key.pem"
expect_error "$T/garbage.pem" -http-tls-cert "$T/garbage.pem" -http-tls-key "$T/key.pem"
expect_error "$T/garbage.pem" -http-tls-cert "$T/cert.pem" -http-tls-key "$T/garbage.pem"
expect_error "$T/other.pem" -http-tls-cert "$T/cert.pem" -http-tls-key "$T/other.pem"
grep -q "TLS key file $T/other.pem is readable by every user" <<<"$LAST_OUT" \
	|| die "no warning for a world-readable key file: $LAST_OUT"
grep -qF "$T/cert.pem" <<<"$LAST_OUT" || die "mismatch message does not name the certificate: $LAST_OUT"
expect_error "http_tls_cert" -http-tls-key "$T/key.pem"
log "PASS agent_https"
