#!/usr/bin/env bash
# agent_blocking.sh NETCOORD - blocking queries against real agents.
#
# Story: three agents (profile lan) on loopback. On n1:
#   - every answer of /v1/members carries X-Netcoord-Index >= 1;
#   - ?index=N&wait=2s with nothing changing answers after 2 s (+ at most
#     2s/16 jitter + one 0.25 s tick; bound 3.5 s) with the same index;
#   - a bad index / wait is a 400 naming the parameter;
#   - `netcoord members -watch` runs in the background;
#   - a request held with ?index=N&wait=60s returns after kill -9 n3
#     within FAIL_BOUND s (the failure-detection bound of
#     agent_cluster.sh: lan probes 1 s, suspicion timeout scaled to the
#     cluster), with a larger index and n3 no longer alive; the time it
#     took is printed;
#   - the -watch output printed a list with n3 not alive.
set -euo pipefail
NETCOORD=${1:?usage: agent_blocking.sh path/to/netcoord}
. "$(dirname "$0")/lib.sh"
nc_setup
FAIL_BOUND=${FAIL_BOUND:-25}

mapfile -t P < <(nc_ports 6)
G=("${P[@]:0:3}")
H=("${P[@]:3:3}")
common=(-profile lan)
nc_start n1 -bind "127.0.0.1:${G[0]}" -http-addr "127.0.0.1:${H[0]}" -seed 1 "${common[@]}"
nc_start n2 -bind "127.0.0.1:${G[1]}" -http-addr "127.0.0.1:${H[1]}" -seed 2 "${common[@]}" -join "127.0.0.1:${G[0]}"
nc_start n3 -bind "127.0.0.1:${G[2]}" -http-addr "127.0.0.1:${H[2]}" -seed 3 "${common[@]}" -join "127.0.0.1:${G[0]}"
all_alive() { [ "$(count_status nc_members "${H[0]}" alive)" = 3 ]; }
wait_for 20 "n1 sees 3 alive" all_alive

URL="http://127.0.0.1:${H[0]}/v1/members"
# index_of FILE : X-Netcoord-Index of the response headers in FILE.
index_of() { tr -d '\r' <"$1" | awk -F': ' 'tolower($1) == "x-netcoord-index" {print $2}' | tail -n1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }

curl -sf -D "$NC_TMP/h0" -o /dev/null --max-time 5 "$URL"
I=$(index_of "$NC_TMP/h0")
[[ "$I" =~ ^[0-9]+$ ]] && [ "$I" -ge 1 ] || die "no X-Netcoord-Index on /v1/members: '$I'"
log "index $I"

# Bad parameters: 400 naming them.
for q in "index=abc" "index=-3" "wait=10" "wait=5parsecs"; do
	code=$(curl -s -o "$NC_TMP/bad" -w '%{http_code}' --max-time 5 "$URL?$q")
	name=${q%%=*}
	[ "$code" = 400 ] || die "$q: HTTP $code"
	grep -q "\\\\\"$name\\\\\"" "$NC_TMP/bad" || die "$q: error does not name $name: $(cat "$NC_TMP/bad")"
done
log "ok: bad index/wait are 400s naming the parameter"

# Nothing changes: answered at the end of the wait, same index.
t0=$(now)
curl -sf -D "$NC_TMP/h1" -o "$NC_TMP/b1" --max-time 10 "$URL?index=$I&wait=2s"
t1=$(now)
took=$(elapsed "$t0" "$t1")
I1=$(index_of "$NC_TMP/h1")
log "wait=2s answered after $took s, index $I1"
[ "$I1" = "$I" ] || die "index changed with nothing happening: $I -> $I1 ($(cat "$NC_TMP/b1"))"
awk -v t="$took" 'BEGIN {exit !(t >= 2.0 && t < 3.5)}' || die "wait=2s took $took s"

# A watcher, and a request held on the index.
"$NETCOORD" members -watch -http-addr "127.0.0.1:${H[0]}" >"$NC_TMP/watch.out" 2>"$NC_TMP/watch.err" &
NC_PIDS+=("$!")
WATCH_PID=$!
curl -s -D "$NC_TMP/h2" -o "$NC_TMP/b2" --max-time 70 "$URL?index=$I&wait=60s" &
CURL_PID=$!
NC_PIDS+=("$CURL_PID")
sleep 1
kill -0 "$CURL_PID" 2>/dev/null || die "the blocking query returned before anything changed: $(cat "$NC_TMP/b2")"
log "kill -9 n3"
t0=$(now)
kill -KILL "$(pid_of n3)"
wait_exit "$CURL_PID" $((FAIL_BOUND + 5))
t1=$(now)
[ "$WAIT_RC" = 0 ] || die "blocking query: curl $WAIT_RC"
took=$(elapsed "$t0" "$t1")
I2=$(index_of "$NC_TMP/h2")
log "blocking query returned $took s after kill -9 n3, index $I -> $I2"
awk -v t="$took" -v b="$FAIL_BOUND" 'BEGIN {exit !(t < b)}' || die "returned after $took s (bound $FAIL_BOUND s)"
[ "$I2" -gt "$I" ] || die "index did not grow: $I -> $I2"
n3=$(python3 -c 'import json,sys
print([m["Status"] for m in json.load(open(sys.argv[1])) if m["Name"] == "n3"][0])' "$NC_TMP/b2")
[ "$n3" != alive ] || die "answer still shows n3 alive"
log "ok: n3 is $n3 in the answer"

# The watcher printed the first list and one without n3 alive.
watch_saw() { grep -Eq '^n3 .*(suspect|failed)' "$NC_TMP/watch.out"; }
wait_for 5 "members -watch printed n3 not alive" watch_saw
[ "$(grep -c '^NAME' "$NC_TMP/watch.out")" -ge 2 ] || die "watch printed $(grep -c '^NAME' "$NC_TMP/watch.out") lists"
kill -0 "$WATCH_PID" 2>/dev/null || die "members -watch exited: $(cat "$NC_TMP/watch.err")"
kill -INT "$WATCH_PID"
log "PASS"
