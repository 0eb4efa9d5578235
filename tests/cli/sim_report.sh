#!/usr/bin/env bash
# sim_report.sh NETCOORD MATRIX - `netcoord sim`'s extra reports (issue 12):
# the true-RTT buckets (four, covering every pair with a known RTT; the
# served < 1 ms median below the estimate's: the node's own measurements
# are combined in) and -verify (one line per K; top1 never below the
# estimate's, and better at K = 8; bad -verify values refused).
set -euo pipefail
NETCOORD=${1:?usage: sim_report.sh path/to/netcoord MATRIX}
M=${2:?matrix}
OUT=$("$NETCOORD" sim -matrix "$M" -rounds 300 -report 300 -seed 1 -verify 2,8)
echo "$OUT"
python3 - "$OUT" "$M" <<'PY'
import sys
out, mpath = sys.argv[1], sys.argv[2]
rows = [l.split() for l in out.splitlines()]
main = [r for r in rows if r and r[0].isdigit()]
assert len(main) == 1, "want one report row"
top1 = float(main[0][3])
b = {r[1]: r for r in rows if r and r[0] == "buckets"}
assert set(b) == {"estimate", "served"}, b.keys()
def parse(r):
    # name med (n=K) ...
    t = r[2:]
    return {t[i]: (float(t[i + 1]), int(t[i + 2][3:-1])) for i in range(0, len(t), 3)}
est, srv = parse(b["estimate"]), parse(b["served"])
assert list(est) == ["<1ms", "1-10ms", "10-50ms", ">=50ms"], list(est)
m = [[float(x) for x in l.split()] for l in open(mpath) if l.strip()]
n = len(m)
pairs = sum(1 for i in range(n) for j in range(n) if i != j and m[i][j] > 0)
assert sum(v[1] for v in est.values()) == pairs, "buckets do not cover every pair"
small = sum(1 for i in range(n) for j in range(n) if i != j and 0 < m[i][j] < 1)
assert est["<1ms"][1] == small, (est["<1ms"], small)
assert srv["<1ms"][0] < est["<1ms"][0], "served < 1 ms not better: %s %s" % (srv, est)
v = {int(r[1]): float(r[2]) for r in rows if r and r[0] == "verify" and r[1].isdigit()}
assert set(v) == {2, 8}, v
assert v[2] >= top1 and v[8] > top1 and v[8] >= v[2], (top1, v)
print("ok: buckets cover %d pairs, <1ms %.2f -> %.2f; top1 %.2f, K=2 %.2f, K=8 %.2f"
      % (pairs, est["<1ms"][0], srv["<1ms"][0], top1, v[2], v[8]))
PY
for bad in 0 33 2,2 x; do
	if "$NETCOORD" sim -matrix "$M" -rounds 1 -verify "$bad" >/dev/null 2>&1; then
		echo "FAIL: -verify $bad accepted"; exit 1
	fi
done
echo PASS
