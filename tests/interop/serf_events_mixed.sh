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
# Push/pull user state: a serf agent started with -replay that joins
# through a netcoord agent only runs its handler for the 20 netcoord
# events it learnt from our state (once each); a netcoord agent that joins
# through a serf agent only lists serf's recent events and fires its next
# event with an LTime above them (serf's clocks witnessed).
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
if [ "$NC_EVENTS" -gt 0 ]; then
	mapfile -t X < <(nc_ports 4)
	: >"$NC_TMP/evs4.txt"
	log "vs4 (-replay) joins through vn7 only"
	serf_start vs4 -bind="127.0.0.1:${X[0]}" -rpc-addr="127.0.0.1:${X[1]}" -profile=lan -replay \
		-event-handler="user:deploy=$NC_TMP/hall.sh" -join="127.0.0.1:$G_n7"
	s4_has_all() { [ "$(awk '$2 ~ /^nc/ {print $2}' "$NC_TMP/evs4.txt" | sort -u | wc -l)" = "$NC_EVENTS" ]; }
	wait_for 15 "vs4 replayed the $NC_EVENTS netcoord events from vn7's push/pull" s4_has_all
	sleep 2
	got=$(awk '$2 ~ /^nc/' "$NC_TMP/evs4.txt" | wc -l)
	[ "$got" = "$NC_EVENTS" ] || die "vs4 ran the handler $got times for $NC_EVENTS events"
	log "vn11 joins through vs2 only"
	nc_start vn11 -bind "127.0.0.1:${X[2]}" -http-addr "127.0.0.1:${X[3]}" -profile lan \
		-http-allow-unauthenticated-writes=true -join "127.0.0.1:$G_s2"
	n11_lists() {
		[ "$(curl -sf "http://127.0.0.1:${X[3]}/v1/event/list?name=deploy" | grep -o '"LTime"' | wc -l)" -ge 20 ]
	}
	wait_for 15 "vn11 lists serf's recent events from vs2's push/pull" n11_lists
	out=$("$NETCOORD" event -http-addr "127.0.0.1:${X[3]}" deploy late)
	log "vn11: $out"
	lt=$(sed -n 's/.*LTime \([0-9]*\).*/\1/p' <<<"$out")
	[ "${lt:-0}" -ge $((EVENTS + NC_EVENTS)) ] || die "vn11 fired with LTime $lt, below the cluster's event clock"
	for n in vs4 vn11; do kill -KILL "$(pid_of $n)" 2>/dev/null || true; done
	if grep -h 'Failed to decode remote state\|Remote state' "$NC_TMP"/vs*.log; then
		die "a serf agent could not decode our push/pull state"
	fi
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
