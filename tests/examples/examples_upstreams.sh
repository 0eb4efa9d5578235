#!/usr/bin/env bash
# examples_upstreams.sh NETCOORD UPSTREAMS - examples/upstreams against a
# real cluster on loopback.
#
# Four agents (profile lan): n1 (no service), n2 web with port tag 8081,
# n3 web with 8082, n4 web without a port tag (its gossip port is used).
# `upstreams -n 3 -tag service=web` runs against n1's API with a reload
# command that counts its runs.
#   1. The file appears with exactly the three web members' lines (the
#      set is checked, computed here from the ports we gave), sorted; the
#      reload ran; no temporary file is left behind.
#   2. Nothing changes for 3 s: the file is not rewritten (same inode,
#      no more reloads).
#   3. kill -9 n3: within FAIL_BOUND s the file is rewritten without
#      127.0.0.1:8082 and keeps the two others; the reload ran again.
#   4. -n 1 -once prints one line and exits 0.
set -euo pipefail
NETCOORD=${1:?usage: examples_upstreams.sh path/to/netcoord path/to/upstreams}
UPSTREAMS=${2:?usage: examples_upstreams.sh path/to/netcoord path/to/upstreams}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRC/tests/integration/lib.sh"
nc_setup
FAIL_BOUND=${FAIL_BOUND:-25}

mapfile -t P < <(nc_ports 8)
G=("${P[@]:0:4}")
H=("${P[@]:4:4}")
common=(-profile lan)
nc_start n1 -bind "127.0.0.1:${G[0]}" -http-addr "127.0.0.1:${H[0]}" -seed 1 "${common[@]}"
nc_start n2 -bind "127.0.0.1:${G[1]}" -http-addr "127.0.0.1:${H[1]}" -seed 2 "${common[@]}" -tag service=web -tag port=8081 -join "127.0.0.1:${G[0]}"
nc_start n3 -bind "127.0.0.1:${G[2]}" -http-addr "127.0.0.1:${H[2]}" -seed 3 "${common[@]}" -tag service=web -tag port=8082 -join "127.0.0.1:${G[0]}"
nc_start n4 -bind "127.0.0.1:${G[3]}" -http-addr "127.0.0.1:${H[3]}" -seed 4 "${common[@]}" -tag service=web -join "127.0.0.1:${G[0]}"
all_alive() { [ "$(count_status nc_members "${H[0]}" alive)" = 4 ]; }
wait_for 20 "n1 sees 4 alive" all_alive

OUT="$NC_TMP/up/web.conf"
mkdir -p "$NC_TMP/up"
RELOADS="$NC_TMP/reloads"
: >"$RELOADS"
"$UPSTREAMS" -http-addr "127.0.0.1:${H[0]}" -n 3 -out "$OUT" \
	-reload "echo reload >>'$RELOADS'" web 2>"$NC_TMP/upstreams.log" &
NC_PIDS+=("$!")
UP_PID=$!

want3=$(printf 'server 127.0.0.1:%s;\n' 8081 8082 "${G[3]}" | sort)
has_lines() { [ -f "$OUT" ] && [ "$(cat "$OUT")" = "$1" ]; }
wait_for 10 "the file lists the three web members" has_lines "$want3"
[ "$(wc -l <"$RELOADS")" -ge 1 ] || die "reload did not run"
ls "$NC_TMP/up" | grep -v '^web.conf$' && die "files left in the directory"
log "file: $(tr '\n' ' ' <"$OUT")"

ino=$(stat -c %i "$OUT")
r0=$(wc -l <"$RELOADS")
sleep 3
[ "$(stat -c %i "$OUT")" = "$ino" ] || die "rewritten with nothing changed: $(cat "$NC_TMP/upstreams.log")"
[ "$(wc -l <"$RELOADS")" = "$r0" ] || die "reloaded with nothing changed"
log "ok: not rewritten while nothing changed"

log "kill -9 n3"
kill -KILL "$(pid_of n3)"
want2=$(printf 'server 127.0.0.1:%s;\n' 8081 "${G[3]}" | sort)
wait_for "$FAIL_BOUND" "the file drops n3 (127.0.0.1:8082)" has_lines "$want2"
[ "$(wc -l <"$RELOADS")" -gt "$r0" ] || die "reload did not run after the change"
[ "$(stat -c %i "$OUT")" != "$ino" ] || die "not replaced by rename"
kill -0 "$UP_PID" 2>/dev/null || die "upstreams exited: $(cat "$NC_TMP/upstreams.log")"
sed 's/^/    /' "$NC_TMP/upstreams.log"

"$UPSTREAMS" -http-addr "127.0.0.1:${H[0]}" -n 1 -once -out "$NC_TMP/one.conf" web 2>/dev/null ||
	die "-once failed"
[ "$(wc -l <"$NC_TMP/one.conf")" = 1 ] || die "-n 1 wrote $(wc -l <"$NC_TMP/one.conf") lines"
grep -Eq '^server 127\.0\.0\.1:[0-9]+;$' "$NC_TMP/one.conf" || die "bad line: $(cat "$NC_TMP/one.conf")"
log "PASS"
