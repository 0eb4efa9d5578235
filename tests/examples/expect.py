#!/usr/bin/env python3
"""expect.py - what examples/nearest_service and examples/dr_failover.sh
should answer, computed independently from an agent's own data.

  expect.py nearest HOST:PORT SERVICE [PORT_TAG]  -> "ADDR:PORT" or "NONE"
  expect.py failover HOST:PORT GROUP_KEY          -> "VALUE MEDIAN_MS" or "NONE"

Only /v1/agent/self, /v1/members and /v1/rtt (one estimate per pair) are
read: the ranking, filtering and medians are redone here, not taken from
/v1/nearest or /v1/failover, the endpoints the examples use. Like the API,
the asking node is left out and only "alive" members count. If the best
answer is not clearly ahead of the next (within 20%), the cluster's
geometry cannot decide it: exit 3 so the test reports that, not a
mismatch.
"""
import json
import statistics
import sys
import urllib.parse
import urllib.request

# The agent is on loopback: never through a proxy from the environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
MARGIN = 1.2


def get(addr, path):
    with OPENER.open("http://%s%s" % (addr, path), timeout=5) as r:
        return json.load(r)


def est_ms(addr, node):
    q = urllib.parse.quote(node, safe="")
    return get(addr, "/v1/rtt?to=" + q).get("EstimatedMs")


def clear_winner(ranked):
    """ranked: [(ms, answer)] sorted; the first, or exit 3 on a near tie."""
    if len(ranked) > 1 and ranked[0][0] * MARGIN > ranked[1][0]:
        sys.stderr.write("expect.py: no clear answer: %r\n" % ranked[:2])
        sys.exit(3)
    return ranked[0][1]


def nearest(addr, service, port_tag="port"):
    me = get(addr, "/v1/agent/self")["Name"]
    ranked = []
    for m in get(addr, "/v1/members"):
        tags = m.get("Tags") or {}
        if m["Name"] == me or m["Status"] != "alive":
            continue
        if tags.get("service") != service:
            continue
        ms = est_ms(addr, m["Name"])
        if ms is None:
            continue
        port = tags.get(port_tag)
        if not (port and port.isdigit() and len(port) <= 5):
            port = str(m["Port"])
        host = m["Addr"] if ":" not in m["Addr"] else "[%s]" % m["Addr"]
        ranked.append((ms, "%s:%s" % (host, port)))
    if not ranked:
        return "NONE"
    return clear_winner(sorted(ranked))


def failover(addr, key):
    me = get(addr, "/v1/agent/self")
    local = (me.get("Tags") or {}).get(key)
    groups = {}
    for m in get(addr, "/v1/members"):
        value = (m.get("Tags") or {}).get(key)
        if m["Name"] == me["Name"] or m["Status"] != "alive":
            continue
        if value is None or value == "" or value == local:
            continue
        ms = est_ms(addr, m["Name"])
        if ms is not None:
            groups.setdefault(value, []).append(ms)
    ranked = sorted((statistics.median(v), k) for k, v in groups.items())
    if not ranked:
        return "NONE"
    value = clear_winner([(ms, k) for ms, k in ranked])
    return "%s %.3f" % (value, dict((k, ms) for ms, k in ranked)[value])


def main(argv):
    if len(argv) >= 4 and argv[1] == "nearest":
        print(nearest(*argv[2:6]))
    elif len(argv) == 4 and argv[1] == "failover":
        print(failover(argv[2], argv[3]))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
