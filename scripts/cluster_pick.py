#!/usr/bin/env python3
"""scripts/cluster_pick.py MATRIX N [--max-rtt MS] [--groups K]

Chooses N rows of an RTT matrix (ms, `netcoord sim` format) for a local demo
cluster with latency emulation (scripts/cluster.sh), and a region label for
each, deterministically (no randomness: same matrix and N, same answer).

Prints one line per chosen node, in cluster order: "ROW GROUP" with GROUP
in dc1..dcK.

Method (boring on purpose):
  1. d(i, j) = mean of the two directions (one if the other is missing,
     "unknown" if both are).
  2. K regions over the whole matrix by k-medoids (PAM-style alternation,
     at most 50 passes). Initial medoids: the row with the smallest median
     RTT, then repeatedly the row farthest from every medoid chosen so far
     (ignoring rows whose median is above the 95th percentile of medians:
     badly connected hosts make poor medoids). Ties break on the lower row.
  3. Regions are numbered dc1..dcK by size (largest first, then lowest
     medoid row), and the cluster takes ceil(N/K)-ish rows from each region
     in turn (round robin, dc1 first): within a region, members sorted by
     distance to its medoid, taking every other one (ranks 0, 2, 4, ... then
     1, 3, ...) so the region is spread rather than a single point.
  4. A row is skipped if its RTT to any row already chosen is unknown or
     above --max-rtt (default 400 ms): the agents' LAN probe timeout is
     500 ms, and a probe slower than that counts as failed, not as a
     sample.
"""
import math
import sys


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            rows.append([float(x) for x in line.split()])
    n = len(rows)
    if n == 0 or any(len(r) != n for r in rows):
        sys.exit("cluster_pick: %s: not a square matrix" % path)
    return rows


def sym(m):
    n = len(m)
    d = [[None] * n for _ in range(n)]
    for i in range(n):
        for j in range(n):
            a, b = m[i][j], m[j][i]
            if i == j:
                d[i][j] = 0.0
            elif a >= 0 and b >= 0:
                d[i][j] = (a + b) / 2
            elif a >= 0:
                d[i][j] = a
            elif b >= 0:
                d[i][j] = b
    return d


def median(v):
    v = sorted(v)
    if not v:
        return math.inf
    k = len(v) // 2
    return v[k] if len(v) % 2 else (v[k - 1] + v[k]) / 2


def dist(d, i, j):
    x = d[i][j]
    return math.inf if x is None else x


def kmedoids(d, k):
    n = len(d)
    meds = [median([x for j, x in enumerate(d[i]) if j != i and x is not None])
            for i in range(n)]
    cut = sorted(meds)[min(n - 1, int(0.95 * n))]
    ok = [i for i in range(n) if meds[i] <= cut]
    medoids = [min(ok, key=lambda i: (meds[i], i))]
    while len(medoids) < k:
        best = max((i for i in ok if i not in medoids),
                   key=lambda i: (min(dist(d, i, m) for m in medoids), -i))
        medoids.append(best)
    assign = []
    for _ in range(50):
        assign = [min(range(k), key=lambda c: (dist(d, i, medoids[c]), c))
                  for i in range(n)]
        changed = False
        for c in range(k):
            members = [i for i in range(n) if assign[i] == c]
            if not members:
                continue
            new = min(members, key=lambda i: (sum(min(dist(d, i, j), 5000)
                                                  for j in members), i))
            if new != medoids[c]:
                medoids[c] = new
                changed = True
        if not changed:
            break
    return medoids, assign


def main(argv):
    args = []
    max_rtt, k = 400.0, None
    i = 1
    while i < len(argv):
        if argv[i] == "--max-rtt":
            max_rtt = float(argv[i + 1])
            i += 2
        elif argv[i] == "--groups":
            k = int(argv[i + 1])
            i += 2
        else:
            args.append(argv[i])
            i += 1
    if len(args) != 2:
        sys.exit(__doc__)
    m = load(args[0])
    n_want = int(args[1])
    n = len(m)
    if n_want < 1 or n_want > n:
        sys.exit("cluster_pick: N must be 1..%d" % n)
    if k is None:
        k = 4 if n_want >= 8 else max(1, n_want // 2)
    k = min(k, n)
    d = sym(m)
    medoids, assign = kmedoids(d, k)
    groups = []
    for c in range(k):
        members = [i for i in range(n) if assign[i] == c]
        members.sort(key=lambda i: (dist(d, i, medoids[c]), i))
        order = members[0::2] + members[1::2]
        groups.append((len(members), medoids[c], order))
    groups.sort(key=lambda g: (-g[0], g[1]))
    chosen = []
    cursor = [0] * k
    while len(chosen) < n_want:
        progressed = False
        for g in range(k):
            if len(chosen) == n_want:
                break
            order = groups[g][2]
            while cursor[g] < len(order):
                r = order[cursor[g]]
                cursor[g] += 1
                if all(dist(d, r, c) <= max_rtt for c, _ in chosen):
                    chosen.append((r, g))
                    progressed = True
                    break
        if not progressed:
            sys.exit("cluster_pick: only %d rows fit under %.0f ms"
                     % (len(chosen), max_rtt))
    for r, g in chosen:
        print(r, "dc%d" % (g + 1))


if __name__ == "__main__":
    main(sys.argv)
