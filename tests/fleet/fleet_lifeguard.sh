#!/usr/bin/env bash
# fleet_lifeguard.sh NETCOORD - Lifeguard's benchmark at a small size
# (bench/lifeguard.sh is the sweep): 60 agents, 10 % of them stalling their
# message processing 9 s of every 18 s, 240 virtual s, one crash; the same
# seed with classic SWIM and with Lifeguard. Asserted (properties, not
# figures): SWIM does produce false failures at healthy members here (so
# the comparison means something), Lifeguard produces fewer, both detect
# the crash, and the slow members are counted apart from the healthy ones.
set -euo pipefail
NETCOORD=${1:?usage: fleet_lifeguard.sh path/to/netcoord}
TMP=$(mktemp -d /tmp/netcoord-fleet-lg.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
args=(fleet-sim -n 60 -duration 240 -warm 40 -seed 3 -slow 0.1:9:18
	-event crash@120:1 -progress 0 -json)
timeout 120 "$NETCOORD" "${args[@]}" -lifeguard swim >"$TMP/swim.json"
timeout 120 "$NETCOORD" "${args[@]}" -lifeguard all >"$TMP/all.json"
python3 - "$TMP" <<'PY'
import json, sys
d = sys.argv[1]
s, a = (json.load(open(f"{d}/{x}.json")) for x in ("swim", "all"))
fails = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        fails.append(what)
check(s["Lifeguard"] == "swim" and a["Lifeguard"] == "all",
      f"runs labelled {s['Lifeguard']} / {a['Lifeguard']}")
check(s["Slow"] == 6 and a["Slow"] == 6, f"slow members {s['Slow']} (6 of 60)")
check(s["HealthyFailures"] > 0,
      f"SWIM: {s['HealthyFailures']} false failures at healthy members (> 0)")
check(a["HealthyFailures"] < s["HealthyFailures"],
      f"Lifeguard: {a['HealthyFailures']} false failures at healthy members "
      f"(< SWIM's {s['HealthyFailures']})")
check(s["HealthyFailures"] + s["SlowFailures"] == s["FalseFailures"],
      "healthy + slow = all false failures")
for name, r in (("swim", s), ("all", a)):
    check(r["Crashes"] == 1 and r["CrashesIncomplete"] == 0,
          f"{name}: the crash marked failed by everyone "
          f"(first {r['FirstFailedP50S']} s)")
sys.exit(1 if fails else 0)
PY
