#!/usr/bin/env bash
# fleet_query.sh NETCOORD - the query scenario of `netcoord fleet-sim`
# (issue 12 §2, fleet/query.c) at a small N: 300 agents (a formed fleet:
# they know each other from the start, coordinates empty), 30 of them the
# candidates of a nearest query one agent runs at 120 s, again at 180 s, and
# a failover query over 20 groups at 122 s (186 virtual s in all).
#
#   - the first query's candidates all have coordinates younger than 30 s
#     within 1 s (virtual) of the query, and all are fresh at the answer;
#   - the query 60 s later finds them all fresh already (the interest
#     refresh kept them), so it waits for nothing;
#   - failover: every picked member fresh within 1 s; at N = 300 a group
#     has ~15 members, so each group's median uses >= 10 fresh members;
#   - the fetches are their own kind in the traffic table and stay small
#     next to the coordinate gossip budget (< 200 B/s per agent);
#   - the querier's fetches were answered (replies >= 90 % of requests).
set -euo pipefail
NETCOORD=${1:?usage: fleet_query.sh path/to/netcoord}
TMP=$(mktemp -d /tmp/netcoord-fleetq.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
"$NETCOORD" fleet-sim -n 300 -formed -duration 186 -warm 60 -query-tag 30 \
	-query-at 120 -seed 5 -progress 0 -json >"$TMP/q.json"
python3 - "$TMP/q.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
fails = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        fails.append(what)
check(r["QueryTagged"] == 30 and r["QueryPicked"] == 30,
      f"tagged {r['QueryTagged']}, candidates fetched-for {r['QueryPicked']}")
t = r["QueryAllFreshS"]
check(t is not None and t <= 1.0, f"first query: all fresh after {t} s (<= 1)")
check(r["QueryFreshAtAnswer"] == 30,
      f"first query: {r['QueryFreshAtAnswer']} of 30 fresh at the answer")
check(r["Query2FreshBefore"] == 30 and r["Query2AllFreshS"] == 0,
      f"60 s later: {r['Query2FreshBefore']} of 30 fresh before the query")
t = r["FailoverAllFreshS"]
check(t is not None and t <= 1.0, f"failover: all picked fresh after {t} s (<= 1)")
check(r["FailoverFreshMin"] >= 10,
      f"failover: fresh members per group min {r['FailoverFreshMin']} (>= 10)")
fb = r["Traffic"]["fetch"]["BytesOutPerS"]
check(0 < fb < 200, f"fetch traffic {fb:.1f} B/s per agent (0 < x < 200)")
req, rep = r["QueryFetchRequests"], r["QueryFetchReplies"]
check(req > 0 and rep >= 0.9 * req, f"querier: {req} requests, {rep} replies")
sys.exit(1 if fails else 0)
PY
