#!/usr/bin/env bash
# agent_snapshot.sh NETCOORD - serf's -snapshot and -rejoin with real agents.
#
# Story: s1 runs; s2 starts with -snapshot and -join s1. Once s2's
# snapshot names s1, s2 is killed (-9) and restarted with only -snapshot
# (no -join): it restores its coordinate and rejoins s1 by itself (serf
# rejoins after a crash), and /v1/rtt to s1 answers at once. s2 then
# leaves gracefully (SIGTERM): the snapshot records the leave. Restarted
# with -snapshot -rejoin it rejoins anyway; after a second graceful leave,
# restarted without -rejoin it stays alone (serf's RejoinAfterLeave).
# A corrupt and a truncated snapshot each give one warning naming the file
# and the problem, and a fresh start that joins through -join; the file is
# good again after the agent's exit.
set -euo pipefail
NETCOORD=${1:?usage: agent_snapshot.sh path/to/netcoord}
. "$(dirname "$0")/lib.sh"
nc_setup

mapfile -t P < <(nc_ports 4)
G1=${P[0]} G2=${P[1]} H1=${P[2]} H2=${P[3]}
SNAP=$NC_TMP/s2.snapshot
common=(-profile local -log-level info)

start_s2() { # start_s2 LOGNAME ARGS...
	local logname=$1; shift
	nc_start s2 -bind "127.0.0.1:$G2" -http-addr "127.0.0.1:$H2" "${common[@]}" "$@"
	S2_LOG=$logname
}
sees() { status_is nc_members "$1" "$2" alive; }
snap_names_s1() { grep -q '"name":"s1","addr"' "$SNAP" 2>/dev/null; }
stop_s2() { # stop_s2 SIGNAL : and keep its log under the run's name
	kill "-$1" "$(pid_of s2)"
	wait_exit "$(pid_of s2)" 15
	[ "$WAIT_RC" != timeout ] || die "s2 did not stop on SIG$1"
	cp "$NC_TMP/s2.log" "$NC_TMP/s2-$S2_LOG.log"
}
rtt_ok() {
	curl -sf --max-time 2 "http://127.0.0.1:$H2/v1/rtt?to=s1" |
		python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["EstimatedMs"] is not None else 1)'
}

nc_start s1 -bind "127.0.0.1:$G1" -http-addr "127.0.0.1:$H1" "${common[@]}"
start_s2 first -snapshot "$SNAP" -join "127.0.0.1:$G1"
wait_for 10 "s1 and s2 see each other" sees "$H2" s1
wait_for 25 "s2's snapshot names s1" snap_names_s1
[ "$(stat -c %a "$SNAP")" = 600 ] || die "snapshot mode $(stat -c %a "$SNAP"), want 600"

log "kill -9 s2; restart it with -snapshot only (no -join)"
stop_s2 KILL
start_s2 crash -snapshot "$SNAP"
wait_for 10 "restarted s2 rejoined s1 from its snapshot" sees "$H2" s1
wait_for 3 "restarted s2 answers /v1/rtt to s1" rtt_ok
grep -q 'Restored snapshot' "$NC_TMP/s2.log" || die "s2 did not restore its snapshot"
grep -q 'Re-joined to previously known node' "$NC_TMP/s2.log" || die "no re-join line"

log "graceful leave of s2; restart with -snapshot -rejoin"
stop_s2 TERM
grep -q '"left":true' "$SNAP" || die "the snapshot does not record the leave"
start_s2 rejoin -snapshot "$SNAP" -rejoin
wait_for 10 "s2 with -rejoin rejoined after its leave" sees "$H2" s1
grep -q 'Ignoring previous leave in snapshot' "$NC_TMP/s2.log" || die "no 'Ignoring previous leave' line"

log "graceful leave of s2; restart with -snapshot, without -rejoin"
stop_s2 TERM
start_s2 norejoin -snapshot "$SNAP"
wait_for 5 "s2 is up" curl -sf --max-time 1 "http://127.0.0.1:$H2/v1/health" -o /dev/null
never_within 5 "s2 without -rejoin rejoined after a leave" sees "$H2" s1
grep -q 'records a graceful leave: not rejoining' "$NC_TMP/s2.log" || die "no 'not rejoining' line"
stop_s2 KILL

bad_start() { # bad_start NAME PROBLEM : one warning naming the file and PROBLEM
	local name=$1 problem=$2 n
	start_s2 "$name" -snapshot "$SNAP" -join "127.0.0.1:$G1"
	wait_for 10 "s2 with a $name snapshot started fresh and joined" sees "$H2" s1
	n=$(grep -c 'Ignoring snapshot' "$NC_TMP/s2.log" || true)
	[ "$n" = 1 ] || die "$n warnings about the $name snapshot, want 1"
	grep 'Ignoring snapshot' "$NC_TMP/s2.log" | grep -qF "$SNAP: $problem" ||
		die "the warning does not name the file and '$problem': $(grep 'Ignoring snapshot' "$NC_TMP/s2.log")"
	log "ok: $(grep -o 'Ignoring snapshot.*' "$NC_TMP/s2.log")"
	grep -q 'Restored snapshot' "$NC_TMP/s2.log" && die "a $name snapshot was restored"
	stop_s2 TERM
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["netcoord_snapshot"] == 1 and d["end"] else 1)' "$SNAP" ||
		die "the snapshot written at exit does not load"
}

cp "$SNAP" "$NC_TMP/good.snapshot"
printf '{"netcoord_snapshot":1,"node":"s2",\x01garbage}\n' >"$SNAP"
bad_start corrupt corrupt
head -c $(( $(stat -c %s "$NC_TMP/good.snapshot") / 2 )) "$NC_TMP/good.snapshot" >"$SNAP"
bad_start truncated truncated
log "PASS agent_snapshot"
