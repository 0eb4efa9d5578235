#!/usr/bin/env python3
"""cluster_matrix_check.py DIR SIM_MEDRE [--re-factor F] [--min-frac Q]

Checks the answers of a running scripts/cluster.sh cluster (in DIR) against
the RTT matrix it emulates (DIR/sub_ms.txt, agent order). Used by
cluster_matrix.sh; prints one line per check and exits 1 if one fails.

Ground truth for a pair is what the emulation makes a probe see: the mean
of the two directions, (M[i][j] + M[j][i]) / 2.

  rtt       every agent i is asked /v1/rtt?to=<j> for every j != i; the
            median relative error |est - true| / true over those N(N-1)
            ordered pairs must be <= F x SIM_MEDRE (the median RE that
            `netcoord sim` reaches on the same sub-matrix after as many
            rounds as the agents have probed; F defaults to 1.5).
  nearest   every agent's /v1/nearest?n=3: the true nearest peer (any peer
            at the minimum true RTT) is among the three for at least a
            fraction Q of the agents (default 0.75).
  verified  every agent's /v1/nearest?n=1&verify=8 (issue 12 §3): the
            first node is a true nearest peer for at least --verify-min of
            the agents (default 11; 0 skips the check). A true nearest is
            any peer within --verify-tie-ms (0.25) of the minimum true RTT:
            peers at one site (0.2 ms apart in the matrix) cannot be told
            apart by a measurement whose resolution here is that of the
            latency emulation and the loopback (~0.1-0.3 ms); the strict
            count (exact minimum only) is printed too.
  failover  every agent's /v1/failover?group=dc: the first group is the dc
            whose members (other than the asking agent) have the lowest
            true median RTT from it, for at least a fraction Q of the
            agents.
"""
import argparse
import json
import statistics
import sys
import urllib.parse
import urllib.request


def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                timeout=5) as r:
        return json.load(r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("sim_medre", type=float)
    ap.add_argument("--re-factor", type=float, default=1.5)
    ap.add_argument("--min-frac", type=float, default=0.75)
    ap.add_argument("--verify-min", type=int, default=11)
    ap.add_argument("--verify-tie-ms", type=float, default=0.25)
    a = ap.parse_args()

    agents = []
    with open(a.dir + "/cluster.pids") as f:
        for line in f:
            name, pid, gp, hp, row, dc = line.split()
            agents.append({"name": name, "http": int(hp), "dc": dc})
    m = [[float(x) for x in l.split()] for l in open(a.dir + "/sub_ms.txt")
         if l.strip()]
    n = len(agents)
    assert len(m) == n, "sub_ms.txt does not match cluster.pids"

    def truth(i, j):
        x, y = m[i][j], m[j][i]
        if x >= 0 and y >= 0:
            return (x + y) / 2
        return x if x >= 0 else y

    ok = True

    # /v1/rtt over all ordered pairs.
    res = []
    worst = []
    for i, ai in enumerate(agents):
        for j, aj in enumerate(agents):
            if i == j or truth(i, j) <= 0:
                continue
            d = get(ai["http"], "/v1/rtt?to=" + urllib.parse.quote(aj["name"]))
            est = d.get("EstimatedMs")
            if est is None:
                res.append(float("inf"))
                continue
            re_ = abs(est - truth(i, j)) / truth(i, j)
            res.append(re_)
            worst.append((re_, ai["name"], aj["name"], est, truth(i, j)))
    med = statistics.median(res)
    p90 = sorted(res)[int(0.9 * (len(res) - 1))]
    bound = a.re_factor * a.sim_medre
    good = med <= bound
    ok &= good
    print("rtt: median RE %.4f (p90 %.4f) over %d pairs; sim %.4f; bound "
          "%.1fx = %.4f: %s" % (med, p90, len(res), a.sim_medre,
                                a.re_factor, bound, "ok" if good else "FAIL"))
    worst.sort(reverse=True)
    for w in worst[:3]:
        print("  worst: RE %.2f %s->%s est %.1f ms, true %.1f ms" % w)

    # /v1/nearest?n=3.
    hits = 0
    for i, ai in enumerate(agents):
        d = get(ai["http"], "/v1/nearest?n=3")
        got = [x["Name"] for x in d.get("Nodes", [])]
        tmin = min(truth(i, j) for j in range(n) if j != i)
        best = {agents[j]["name"] for j in range(n)
                if j != i and truth(i, j) == tmin}
        hit = bool(best & set(got))
        hits += hit
        if not hit:
            print("  nearest miss: %s true %s (%.1f ms), got %s" %
                  (ai["name"], sorted(best), tmin, got))
    good = hits >= a.min_frac * n
    ok &= good
    print("nearest: true nearest in the top 3 for %d/%d agents (want >= "
          "%.0f%%): %s" % (hits, n, 100 * a.min_frac, "ok" if good else "FAIL"))

    # /v1/nearest?verify=8: measured, re-ranked.
    if a.verify_min > 0:
        hits = strict = 0
        for i, ai in enumerate(agents):
            d = get(ai["http"], "/v1/nearest?n=1&verify=8")
            nodes = d.get("Nodes", [])
            got = nodes[0]["Name"] if nodes else None
            tmin = min(truth(i, j) for j in range(n) if j != i)
            best = {agents[j]["name"] for j in range(n)
                    if j != i and truth(i, j) == tmin}
            near = {agents[j]["name"] for j in range(n)
                    if j != i and truth(i, j) <= tmin + a.verify_tie_ms}
            strict += got in best
            hit = got in near
            hits += hit
            if got not in best:
                gi = [j for j in range(n) if agents[j]["name"] == got]
                print("  verified %s: %s true %s (%.2f ms), got %s "
                      "(true %s ms, measured %s ms)" %
                      ("tie" if hit else "miss", ai["name"], sorted(best),
                       tmin, got,
                       "%.2f" % truth(i, gi[0]) if gi else None,
                       nodes[0].get("MeasuredMs") if nodes else None))
        good = hits >= min(a.verify_min, n)
        ok &= good
        print("verified: verify=8 nearest is a true nearest (within %.2f ms) "
              "for %d/%d agents, the exact minimum for %d (want >= %d): %s" %
              (a.verify_tie_ms, hits, n, strict, min(a.verify_min, n),
               "ok" if good else "FAIL"))

    # /v1/failover?group=dc.
    hits = 0
    for i, ai in enumerate(agents):
        d = get(ai["http"], "/v1/failover?group=dc")
        groups = d.get("Groups", [])
        first = groups[0]["Value"] if groups else None
        med_by_dc = {}
        for dc in {x["dc"] for x in agents}:
            v = [truth(i, j) for j in range(n)
                 if j != i and agents[j]["dc"] == dc]
            if v:
                med_by_dc[dc] = statistics.median(v)
        best = min(med_by_dc.values())
        want = {dc for dc, v in med_by_dc.items() if v == best}
        hit = first in want
        hits += hit
        if not hit:
            print("  failover miss: %s got %s first, true order %s" %
                  (ai["name"], [g["Value"] for g in groups],
                   sorted(med_by_dc, key=med_by_dc.get)))
    good = hits >= a.min_frac * n
    ok &= good
    print("failover: first group is the truly closest dc for %d/%d agents "
          "(want >= %.0f%%): %s" % (hits, n, 100 * a.min_frac,
                                    "ok" if good else "FAIL"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
