#!/usr/bin/env bash
# serf_events_mixed.sh NETCOORD - serf user events in a cluster of 3 serf +
# 10 netcoord agents (issue 11): EVENTS (default 50) `serf event
# -coalesce=false deploy <i>` from s1, 0.2 s apart, must each run the
# handler of s2 and of s3 exactly once (50/50, none twice) within SETTLE
# (10 s) after the last. Serf relies on every member re-broadcasting an
# event; netcoord agents relay them with serf's dedup rules. Prints the
# figures (delivered / duplicates per serf) for the README.
# Then NC_EVENTS (default 20) `netcoord event deploy nc<i>` from n3 must
# each run the handler of all three serf nodes exactly once, and n5's
# GET /v1/event/list must show them.
# MIN_DELIVERED (default EVENTS) lowers the bar to measure an old build;
# NC_EVENTS=0 skips the second part (an old build has no `event`).
# Needs the Debian serf package; skipped (77) without it.
set -euo pipefail
NETCOORD=${1:?usage: serf_events_mixed.sh path/to/netcoord}
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/serf_mixed_lib.sh"
command -v serf >/dev/null || { log "SKIP: serf not installed"; exit 77; }
nc_setup
EVENTS=${EVENTS:-50}
SETTLE=${SETTLE:-10}
MIN_DELIVERED=${MIN_DELIVERED:-$EVENTS}
NC_EVENTS=${NC_EVENTS:-20}
MIXED_NC_ARGS=(-http-allow-unauthenticated-writes=true)

# The handler appends "LTIME PAYLOAD" to the file named by its argument.
cat >"$NC_TMP/handler.sh" <<'H'
#!/bin/sh
printf '%s %s\n' "$SERF_USER_LTIME" "$(cat)" >>"$1"
H
chmod +x "$NC_TMP/handler.sh"

# Every serf runs the handler into its own file: pass a per-node wrapper.
for n in s1 s2 s3; do
	printf '#!/bin/sh\nexec %s %s\n' "$NC_TMP/handler.sh" "$NC_TMP/ev$n.txt" >"$NC_TMP/h$n.sh"
	chmod +x "$NC_TMP/h$n.sh"
	: >"$NC_TMP/ev$n.txt"
done
# serf_start gets the same extra arguments for all three; the handler
# path must differ, so start them with a shared one that dispatches on
# SERF_SELF_NAME.
cat >"$NC_TMP/hall.sh" <<H
#!/bin/sh
exec $NC_TMP/handler.sh $NC_TMP/ev\${SERF_SELF_NAME#v}.txt
H
chmod +x "$NC_TMP/hall.sh"

mixed_cluster v "" -event-handler="user:deploy=$NC_TMP/hall.sh"
log "firing $EVENTS events from vs1, 0.2 s apart"
for i in $(seq 1 "$EVENTS"); do
	serf event -rpc-addr="127.0.0.1:$R_s1" -coalesce=false deploy "$i" >/dev/null
	sleep 0.2
done
sleep "$SETTLE"
rc=0
for n in s2 s3; do
	f="$NC_TMP/ev$n.txt"
	got=$(awk '{print $2}' "$f" | sort -u | wc -l)
	dup=$(( $(wc -l <"$f") - got ))
	log "v$n: $got/$EVENTS events delivered, $dup duplicates"
	[ "$got" -ge "$MIN_DELIVERED" ] || rc=1
	[ "$dup" = 0 ] || rc=1
done
if [ "$NC_EVENTS" -gt 0 ]; then
	log "firing $NC_EVENTS events from vn3 (netcoord event), 0.2 s apart"
	for i in $(seq 1 "$NC_EVENTS"); do
		"$NETCOORD" event -http-addr "127.0.0.1:$H_n3" deploy "nc$i" >/dev/null ||
			die "netcoord event failed"
		sleep 0.2
	done
	sleep "$SETTLE"
	for n in s1 s2 s3; do
		f="$NC_TMP/ev$n.txt"
		got=$(awk '$2 ~ /^nc/ {print $2}' "$f" | sort -u | wc -l)
		all=$(awk '$2 ~ /^nc/' "$f" | wc -l)
		log "v$n: $got/$NC_EVENTS netcoord events delivered, $((all - got)) duplicates"
		[ "$got" = "$NC_EVENTS" ] && [ "$all" = "$got" ] || rc=1
	done
	listed=$(curl -sf "http://127.0.0.1:$H_n5/v1/event/list?name=deploy" | grep -o '"LTime"' | wc -l)
	log "vn5 GET /v1/event/list?name=deploy: $listed events"
	[ "$listed" -ge "$NC_EVENTS" ] || rc=1
fi
relayed=0
for n in $MIXED_N; do
	h="H_$n"
	r=$(curl -sf "http://127.0.0.1:${!h}/metrics" | awk '/^netcoord_serf_events_total/ {print $2}' || true)
	relayed=$((relayed + ${r:-0}))
done
log "events relayed by the 10 netcoord agents (sum of first receptions): $relayed"
for n in $MIXED_N; do
	h="H_$n"
	curl -sf "http://127.0.0.1:${!h}/v1/stats" >"$NC_TMP/stats-$n.json" || true
done
mixed_stop
[ "$rc" = 0 ] || die "events lost or duplicated"
log "PASS"
