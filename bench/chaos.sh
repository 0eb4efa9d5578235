#!/usr/bin/env bash
# bench/chaos.sh - a chaos bench with real processes (not CI, ~12 minutes;
# -quick ~6): N `netcoord agent`s (default 50) on 127.0.0.1 with wide-area
# latency emulated from rows of tests/data/planetlab200_ms.txt
# (scripts/cluster.sh, TEST FACILITY loop/latency.h), then, in turn:
#
#   warm       WARM s (90; quick 60) for the coordinates to settle
#   loss       10 % of every agent's outgoing datagrams dropped for LOSS s
#              (300; quick 60): rule "loss 0.10" + SIGHUP to every agent
#   partition  two halves (even / odd agents) cut apart for PART s
#              (60; quick 40): rule "partition ROWS | ROWS" + SIGHUP
#   heal       rules emptied + SIGHUP; time until every agent lists every
#              agent alive
#   kill       kill -9 of 10 % (node05, node15, ...), KILLWAIT s (20)
#   restart    the same command lines again; coordinate error every 10 s
#              for RECOVER s (60)
#   freeze     the last agent SIGSTOPped 2 s of every 4 s for FREEZE s
#              (60; quick 40), then 15 s to settle
#
# Throughout, bench/chaos.py load sends RATE (20) GET /v1/nearest per
# second to the agents that are never killed nor frozen. Figures printed at
# the end (bench/chaos.py report): healthy agents falsely declared failed
# (EventMemberFailed lines of every agent's log, phase by phase: only
# cross-partition verdicts during partition/heal and verdicts about killed
# agents during kill/restart are expected), seconds until agreement after
# the heal and after the restart, median relative error of /v1/rtt over
# 300 sampled pairs against the emulated RTT, /v1/nearest requests,
# unanswered and p99 per phase.
#
#   bash bench/chaos.sh [-quick] [path/to/netcoord]
#   N=20 DIR=/tmp/x BASE_PORT=17000 HTTP_PORT=18000 bash bench/chaos.sh -quick
#
# Everything binds to 127.0.0.1; every process started (agents, the load
# client, the freeze loop) is stopped by PID on exit, also on Ctrl-C; every
# wait is bounded.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
QUICK=0
if [ "${1:-}" = -quick ]; then QUICK=1; shift; fi
NETCOORD=${1:-$ROOT/build/cmd/netcoord}
N=${N:-50}
DIR=${DIR:-/tmp/netcoord-chaos}
BASE_PORT=${BASE_PORT:-17000}
HTTP_PORT=${HTTP_PORT:-18000}
RATE=${RATE:-20}
KILLWAIT=${KILLWAIT:-20}
RECOVER=${RECOVER:-60}
AGREE_MAX=${AGREE_MAX:-180}
if [ "$QUICK" = 1 ]; then
	WARM=${WARM:-60}; LOSS=${LOSS:-60}; PART=${PART:-40}; FREEZE=${FREEZE:-40}
else
	WARM=${WARM:-90}; LOSS=${LOSS:-300}; PART=${PART:-60}; FREEZE=${FREEZE:-60}
fi
PY="python3 $ROOT/bench/chaos.py"
CLUSTER=(bash "$ROOT/scripts/cluster.sh")

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { log "chaos.sh: $*" >&2; exit 1; }

[ -x "$NETCOORD" ] || die "no netcoord binary at $NETCOORD (build first)"
command -v python3 >/dev/null || die "python3 is needed"

LOAD_PID=""
FREEZE_PID=""
FROZEN_PID=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[ -n "$FREEZE_PID" ] && kill "$FREEZE_PID" 2>/dev/null && wait "$FREEZE_PID" 2>/dev/null
	[ -n "$FROZEN_PID" ] && kill -CONT "$FROZEN_PID" 2>/dev/null
	[ -n "$LOAD_PID" ] && kill "$LOAD_PID" 2>/dev/null && wait "$LOAD_PID" 2>/dev/null
	"${CLUSTER[@]}" stop --dir "$DIR" || true
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# pid_of NAME: the agent's PID from cluster.pids.
pid_of() { awk -v n="$1" '$1 == n {print $2}' "$DIR/cluster.pids"; }

# Write the rules file and have every running agent re-read it.
rules() {
	printf '%s\n' "$@" >"$DIR/rules.tmp"
	mv "$DIR/rules.tmp" "$DIR/rules.txt"
	local name pid rest
	while read -r name pid rest; do
		kill -HUP "$pid" 2>/dev/null || true
	done <"$DIR/cluster.pids"
}

error_now() { $PY error "$DIR"; }

mkdir -p "$DIR"
: >"$DIR/rules.txt"
rm -f "$DIR/marks.jsonl" "$DIR/load.txt"
log "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); N=$N quick=$QUICK"
"${CLUSTER[@]}" start "$N" --dir "$DIR" --base-port "$BASE_PORT" \
	--http-port "$HTTP_PORT" --netcoord "$NETCOORD" \
	-- -latency-rules "$DIR/rules.txt" >"$DIR/cluster-start.txt" ||
	{ cat "$DIR/cluster-start.txt"; die "cluster did not start"; }
eval "$($PY roles "$DIR")"
log "kill: $KILL; frozen: $FROZEN; sides: ${SIDE_A// /,} | ${SIDE_B// /,}"

t=$($PY agree "$DIR" 60) || die "agents do not agree after start: $t"
log "all $N agents list each other alive after $t"
$PY mark "$DIR" warm
$PY load "$DIR" "$RATE" &
LOAD_PID=$!
log "warm: ${WARM} s"
sleep "$WARM"
ERR_BEFORE=$(error_now)
log "coordinate error before (median, pairs, unanswered): $ERR_BEFORE"

$PY mark "$DIR" loss
rules "loss 0.10"
log "loss 10 % for ${LOSS} s"
sleep "$LOSS"
rules ""
$PY mark "$DIR" loss-settle
sleep 10
ERR_LOSS=$(error_now)
log "coordinate error after the loss: $ERR_LOSS"

$PY mark "$DIR" partition
rules "partition $ROWS_A | $ROWS_B"
log "partition for ${PART} s"
sleep "$PART"
n0=$(curl -sf --max-time 2 "http://127.0.0.1:$HTTP_PORT/v1/members" |
	python3 -c 'import json,sys; print(sum(1 for m in json.load(sys.stdin) if m["Status"] == "alive"))' || echo "?")
log "end of partition: node00 sees $n0 of $N alive"
rules ""
$PY mark "$DIR" heal
HEAL=$($PY agree "$DIR" "$AGREE_MAX") || true
log "heal: every agent lists every agent alive after $HEAL"
ERR_HEAL=$(error_now)
log "coordinate error after the heal: $ERR_HEAL"

$PY mark "$DIR" kill
declare -A CMDLINE
for name in $KILL; do
	pid=$(pid_of "$name")
	CMDLINE[$name]=$(tr '\0' '\n' <"/proc/$pid/cmdline" | base64 -w0)
	kill -KILL "$pid"
done
log "kill -9: $KILL; ${KILLWAIT} s"
sleep "$KILLWAIT"
for name in $KILL; do
	mapfile -t args < <(base64 -d <<<"${CMDLINE[$name]}")
	setsid "${args[@]}" </dev/null >>"$DIR/$name.log" 2>&1 &
	newpid=$!
	awk -v n="$name" -v p="$newpid" '$1 == n {$2 = p} {print}' \
		"$DIR/cluster.pids" >"$DIR/cluster.pids.tmp"
	mv "$DIR/cluster.pids.tmp" "$DIR/cluster.pids"
done
$PY mark "$DIR" restart
log "restarted $KILL"
RESTART_AGREE=$($PY agree "$DIR" "$AGREE_MAX") || true
log "after the restart every agent lists every agent alive after $RESTART_AGREE"
RECOVERED="not within ${RECOVER} s"
start=$(date +%s)
before=${ERR_BEFORE%% *}
while :; do
	el=$(( $(date +%s) - start ))
	e=$(error_now)
	log "  restart+${el} s: coordinate error $e"
	if [ "$RECOVERED" = "not within ${RECOVER} s" ] &&
		awk -v a="${e%% *}" -v b="$before" 'BEGIN{exit !(a <= 1.1 * b)}'; then
		RECOVERED="$el s"
	fi
	ERR_RESTART=$e
	[ "$el" -ge "$RECOVER" ] && break
	sleep 10
done

$PY mark "$DIR" freeze
FROZEN_PID=$(pid_of "$FROZEN")
log "freeze $FROZEN (pid $FROZEN_PID) 2 s of every 4 s for ${FREEZE} s"
(
	end=$(( $(date +%s) + FREEZE ))
	while [ "$(date +%s)" -lt "$end" ]; do
		kill -STOP "$FROZEN_PID"; sleep 2
		kill -CONT "$FROZEN_PID"; sleep 2
	done
) &
FREEZE_PID=$!
wait "$FREEZE_PID" || true
FREEZE_PID=""
kill -CONT "$FROZEN_PID" 2>/dev/null || true
$PY mark "$DIR" settle
sleep 15
$PY mark "$DIR" end
kill "$LOAD_PID" 2>/dev/null || true
wait "$LOAD_PID" 2>/dev/null || true
LOAD_PID=""
ERR_END=$(error_now)

echo
echo "== chaos bench: N=$N, quick=$QUICK, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
$PY report "$DIR"
# memberlist's push/pull interval grows with the cluster (pushPullScale:
# 30 s up to 32 members, x (ceil(log2(N) - 5) + 1) beyond; gossip/
# swim_stream.c), and the heal target is one such interval.
PP=$(python3 -c "import math; n=$N; print(30 if n <= 32 else int(30 * (math.ceil(math.log2(n) - 5) + 1)))")
echo "agreement after the heal (target: one push/pull interval, $PP s at N=$N): $HEAL"
echo "agreement after the restart: $RESTART_AGREE"
echo "coordinate error, median relative (median, pairs, unanswered):"
echo "  before $ERR_BEFORE | after loss $ERR_LOSS | after heal $ERR_HEAL"
echo "  restart+${RECOVER} s $ERR_RESTART | end $ERR_END"
echo "  back within 10 % of before after the restart: $RECOVERED"
