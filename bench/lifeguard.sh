#!/usr/bin/env bash
# lifeguard.sh NETCOORD - Lifeguard's benchmark (Dadgar, Phillips, Currey,
# DSN 2018, §V) in `netcoord fleet-sim`: a share of the members stalls its
# message processing for STALL s out of every 2 x STALL s (random phases),
# swept over stall length and share; for each point SWIM alone, each
# Lifeguard component alone, and all of them, on the same seed. Printed per
# run: false failures at healthy members (count, per member-hour, of which
# declared by a healthy observer), at slow members, and crash -> first /
# last marks it failed (p50 over CRASHES crashes of healthy members).
#
#   bash bench/lifeguard.sh build/cmd/netcoord          # ~6 min on 2 cores
#   N=200 STALLS="6 9" SHARES=0.1 bash bench/lifeguard.sh build/cmd/netcoord
#   MODEL=stop bash bench/lifeguard.sh ...              # SIGSTOP-like stalls
#
# Environment: N (100), DURATION (300 virtual s), STALLS ("3 6 9 12"),
# SHARES ("0.05 0.1 0.2"), MODEL (rx: inbound processing stalled, timers
# running; stop: the whole process stopped), SEED (1), CONFIGS (the
# -lifeguard values), JOBS (2 runs at once). bench/README.md discusses it.
set -euo pipefail
NETCOORD=${1:?usage: lifeguard.sh path/to/netcoord}
N=${N:-100}
DURATION=${DURATION:-300}
STALLS=${STALLS:-"3 6 9 12"}
SHARES=${SHARES:-"0.05 0.1 0.2"}
MODEL=${MODEL:-rx}
SEED=${SEED:-1}
JOBS=${JOBS:-2}
CONFIGS=${CONFIGS:-"swim lha-probe lha-suspicion buddy nack all"}
TMP=$(mktemp -d /tmp/netcoord-lifeguard.XXXXXX)
# Three crashes of healthy members in the stalled window.
crashes=(-event "crash@$((DURATION / 3)):1" -event "crash@$((DURATION / 2)):1"
	-event "crash@$((DURATION * 2 / 3)):1")
start=$(date +%s)
runs=()
for share in $SHARES; do
	for stall in $STALLS; do
		for lg in $CONFIGS; do
			runs+=("$share $stall $lg")
		done
	done
done
run_one() {
	local share=$1 stall=$2 lg=$3
	local period
	period=$(python3 -c "print($stall * 2)")
	exec nice "$NETCOORD" fleet-sim -n "$N" -duration "$DURATION" -seed "$SEED" \
		-slow "$share:$stall:$period:$MODEL" -lifeguard "$lg" \
		"${crashes[@]}" -progress 0 -json \
		>"$TMP/$share-$stall-$lg.json"
}
# At most JOBS runs at once, each started in the background (run_one execs
# into netcoord) and waited for by PID; the trap stops those still running.
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT
for r in "${runs[@]}"; do
	read -r share stall lg <<<"$r"
	run_one "$share" "$stall" "$lg" &
	pids+=($!)
	if [ "${#pids[@]}" -ge "$JOBS" ]; then
		wait "${pids[0]}"
		pids=("${pids[@]:1}")
	fi
done
for p in "${pids[@]}"; do wait "$p"; done
pids=()
wall=$(($(date +%s) - start))
python3 - "$TMP" "$N" "$DURATION" "$MODEL" "$wall" "$SHARES" "$STALLS" \
	"$CONFIGS" <<'PY'
import json, sys
tmp, n, dur, model, wall = sys.argv[1:6]
shares, stalls, configs = (a.split() for a in sys.argv[6:9])
print(f"Lifeguard benchmark: N = {n}, {dur} virtual s, stall model {model}, "
      f"period = 2 x stall, 3 crashes of healthy members")
print("false failures are events (one per observer); /mh = per healthy "
      "(slow) member-hour over the stalled window")
hdr = (f"{'share':>5} {'stall':>5} {'lifeguard':<14} {'FP healthy':>10} "
       f"{'/mh':>7} {'by hlthy':>8} {'FP slow':>8} {'/mh':>7} "
       f"{'first p50':>9} {'last p50':>8} {'incompl':>7}")
print(hdr)
print("-" * len(hdr))
def f(v, fmt):
    return "-" if v is None else format(v, fmt)
for share in shares:
    for stall in stalls:
        base = None
        for lg in configs:
            d = json.load(open(f"{tmp}/{share}-{stall}-{lg}.json"))
            print(f"{share:>5} {stall:>5} {lg:<14} "
                  f"{d['HealthyFailures']:>10.0f} "
                  f"{f(d['HealthyFpPerMemberHour'], '7.3f')} "
                  f"{d['HealthyFailuresByHealthy']:>8.0f} "
                  f"{d['SlowFailures']:>8.0f} "
                  f"{f(d['SlowFpPerMemberHour'], '7.2f')} "
                  f"{f(d['FirstFailedP50S'], '9.1f')} "
                  f"{f(d['LastFailedP50S'], '8.1f')} "
                  f"{d['CrashesIncomplete']:>7.0f}")
        print()
print(f"wall {wall} s")
PY
