#!/usr/bin/env bash
# fleet_sim.sh NETCOORD - `netcoord fleet-sim` at a small N, asserting the
# bounds that must hold at any size (issue 12): 200 agents, 1 % datagram
# loss, 3 crashes, 2 joins, 2 agents stalled 3 s, 180 virtual s.
#
#   - the fleet converges (every agent sees every other) within 60 s;
#   - every join reaches every agent, within 10 s;
#   - every crash is marked failed by every survivor, the first within
#     memberlist's bound (probe interval + the longest suspicion timeout,
#     1 + 6 x 4 x log10(N) s) and the last within 5 s of that bound;
#   - no member that did not crash is declared failed (0 false failures);
#   - every agent sends and receives at most 10 KiB/s, all kinds together;
#   - coordinates: median relative error under 0.25 on the model;
#   - a formed fleet (-formed: 300 agents that know each other at start,
#     the way capacity runs at 3,000 and 10,000 start) is converged when
#     its agents have started (5 ms apart: 1.5 s), and holds the same
#     bounds through 2 crashes and a join, with 0 false failures;
#   - the same seed gives the same report (virtual time is deterministic;
#     wall time and RSS excepted), and a different seed a different one
#     (checked on a smaller fleet: 60 agents, 90 s, with the same events).
set -euo pipefail
NETCOORD=${1:?usage: fleet_sim.sh path/to/netcoord}
TMP=$(mktemp -d /tmp/netcoord-fleet.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
args=(fleet-sim -n 200 -duration 180 -warm 60 -loss 0.01 -event crash@90:3
	-event join@100:2 -event pause@120:2:3 -progress 0 -json)
small=(fleet-sim -n 60 -duration 90 -warm 30 -loss 0.01 -event crash@40:2
	-event join@45:1 -event pause@50:1:3 -progress 0 -json)
"$NETCOORD" "${args[@]}" -seed 7 >"$TMP/a.json"
"$NETCOORD" fleet-sim -n 300 -formed -duration 120 -warm 40 -loss 0.01 \
	-event crash@50:2 -event join@60:1 -progress 0 -json -seed 3 >"$TMP/f.json"
"$NETCOORD" "${small[@]}" -seed 7 >"$TMP/b.json"
"$NETCOORD" "${small[@]}" -seed 7 >"$TMP/b2.json"
"$NETCOORD" "${small[@]}" -seed 8 >"$TMP/c.json"
python3 - "$TMP" <<'PY'
import json, math, sys
d = sys.argv[1]
a, b, b2, c, f = (json.load(open(f"{d}/{x}.json"))
                  for x in ("a", "b", "b2", "c", "f"))
fails = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        fails.append(what)
n = a["N"]
bound = 1 + 6 * 4 * max(1, math.log10(n))
check(a["ConvergeS"] is not None and a["ConvergeS"] <= 60,
      f"converged in {a['ConvergeS']} s (<= 60)")
check(a["Joins"] == 2 and a["JoinsIncomplete"] == 0 and a["JoinMaxS"] <= 10,
      f"joins {a['Joins']}, incomplete {a['JoinsIncomplete']}, max {a['JoinMaxS']} s")
check(a["Crashes"] == 3 and a["CrashesIncomplete"] == 0,
      f"crashes {a['Crashes']}, incomplete {a['CrashesIncomplete']}")
check(a["FirstFailedP99S"] is not None and a["FirstFailedP99S"] <= bound,
      f"first marks failed p99 {a['FirstFailedP99S']} s (<= {bound:.1f})")
check(a["LastFailedP99S"] is not None and a["LastFailedP99S"] <= bound + 5,
      f"last marks failed p99 {a['LastFailedP99S']} s (<= {bound + 5:.1f})")
check(a["FalseFailures"] == 0, f"false failures {a['FalseFailures']}")
check(a["MaxBytesOutPerS"] <= 10240 and a["MaxBytesInPerS"] <= 10240,
      f"busiest agent {a['MaxBytesOutPerS']:.0f} B/s out, {a['MaxBytesInPerS']:.0f} in (<= 10240)")
check(a["CoordMedianRelErr"] is not None and a["CoordMedianRelErr"] < 0.25,
      f"coordinate median relative error {a['CoordMedianRelErr']}")
fb = 1 + 6 * 4 * math.log10(f["N"])
check(f["Formed"] and f["ConvergeS"] is not None and f["ConvergeS"] <= 2,
      f"formed: converged at {f['ConvergeS']} s (<= 2)")
check(f["Crashes"] == 2 and f["CrashesIncomplete"] == 0 and
      f["FirstFailedP99S"] <= fb and f["LastFailedP99S"] <= fb + 5,
      f"formed: crashes seen by all, first p99 {f['FirstFailedP99S']} s, "
      f"last p99 {f['LastFailedP99S']} s (<= {fb:.1f} / {fb + 5:.1f})")
check(f["Joins"] == 1 and f["JoinsIncomplete"] == 0 and f["JoinMaxS"] <= 10,
      f"formed: join reaches everyone in {f['JoinMaxS']} s")
check(f["FalseFailures"] == 0, f"formed: false failures {f['FalseFailures']}")
check(f["MaxBytesOutPerS"] <= 10240 and f["MaxBytesInPerS"] <= 10240,
      f"formed: busiest agent {f['MaxBytesOutPerS']:.0f} / {f['MaxBytesInPerS']:.0f} B/s")
strip = lambda r: {k: v for k, v in r.items() if k not in ("WallS", "CpuS", "PeakRssKiB")}
check(strip(b) == strip(b2), "same seed, same report")
check(strip(b) != strip(c), "another seed, another run")
sys.exit(1 if fails else 0)
PY
