#!/usr/bin/env python3
"""bench/chaos.py - the measuring half of bench/chaos.sh (not CI).

chaos.sh starts and stops processes; this script only talks HTTP to the
agents on 127.0.0.1 and reads the files in the cluster directory D
(scripts/cluster.sh's cluster.pids / cluster.env, the agents' logs).

  chaos.py roles D            shell assignments: KILL, FROZEN, SIDE_A/B,
                              ROWS_A/B (deterministic from cluster.pids)
  chaos.py agree D TIMEOUT    wait until every running agent lists every
                              agent alive; prints the seconds it took
                              (or "timeout") and when 99 % of the
                              (agent, member) views first were alive;
                              polls each agent every ~1 s
  chaos.py error D [PAIRS]    median relative error of /v1/rtt estimates
                              over PAIRS (default 300) sampled pairs
                              against the emulated RTT (M[a][b]+M[b][a])/2
  chaos.py mark D PHASE       append "PHASE, now, every log's size" to
                              D/marks.jsonl (phase boundaries)
  chaos.py load D [RATE]      GET /v1/nearest on the load targets (agents
                              never killed nor frozen), RATE per s
                              (default 20), one line per request in
                              D/load.txt, until SIGTERM
  chaos.py report D           the figures: false failures per phase,
                              /v1/nearest answered / p99 per phase

Roles: agents are node00..; every 10th from node05 (10 %) is killed and
restarted, the last one not killed is frozen, sides of the partition
alternate (even index / odd index). Load targets are the others.

Verdicts (report): an EventMemberFailed line in agent O's log about X,
reported by R, is expected during partition/heal when O and X were on
different sides, and during kill/restart when X was killed. During
partition/heal a verdict with O and X on the same side but R on the other
side is a stale verdict from across the cut that O accepted (memberlist
accepts a dead message about a third node from anyone): counted apart,
as "relayed". Anything else is a healthy agent falsely declared failed.
"""
import http.client
import json
import os
import random
import re
import signal
import statistics
import sys
import time


def agents(d):
    out = []
    with open(os.path.join(d, "cluster.pids")) as f:
        for line in f:
            p = line.split()
            if len(p) >= 6:
                out.append({"name": p[0], "pid": int(p[1]),
                            "gport": int(p[2]), "hport": int(p[3]),
                            "row": int(p[4]), "dc": p[5]})
    return out


def roles(d):
    a = agents(d)
    n = len(a)
    kill = [x for i, x in enumerate(a) if i % 10 == 5]
    spare = [x for x in a if x not in kill]
    frozen = spare[-1] if len(spare) > 1 else None
    side_a = [x for i, x in enumerate(a) if i % 2 == 0]
    side_b = [x for i, x in enumerate(a) if i % 2 == 1]
    busy = {x["name"] for x in kill} | ({frozen["name"]} if frozen else set())
    targets = [x for x in a if x["name"] not in busy]
    return a, kill, frozen, side_a, side_b, targets


def get_json(port, path, timeout=2.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            return None
        return json.loads(body)
    finally:
        c.close()


def cmd_roles(d):
    a, kill, frozen, side_a, side_b, _ = roles(d)
    def names(v):
        return " ".join(x["name"] for x in v)
    print('KILL="%s"' % names(kill))
    print('FROZEN="%s"' % (frozen["name"] if frozen else ""))
    print('SIDE_A="%s"' % names(side_a))
    print('SIDE_B="%s"' % names(side_b))
    print('ROWS_A="%s"' % ",".join(str(x["row"]) for x in side_a))
    print('ROWS_B="%s"' % ",".join(str(x["row"]) for x in side_b))


def alive_names(port):
    try:
        ms = get_json(port, "/v1/members")
    except (OSError, ValueError, http.client.HTTPException):
        return None
    if ms is None:
        return None
    return {m.get("Name") for m in ms if m.get("Status") == "alive"}


def cmd_agree(d, timeout):
    a = agents(d)
    want = {x["name"] for x in a}
    t0 = time.monotonic()
    t99 = None
    while True:
        ok = views = 0
        for x in a:
            got = alive_names(x["hport"])
            if got is not None and want <= got:
                ok += 1
            views += len(want & got) if got is not None else 0
        el = time.monotonic() - t0
        if t99 is None and views >= 0.99 * len(a) * len(want):
            t99 = el
        if ok == len(a):
            print("%.1f s (99 %% of views at %.1f s)" % (el, t99))
            return 0
        if el >= timeout:
            print("timeout (%d of %d agents agree)" % (ok, len(a)))
            return 1
        time.sleep(max(0.0, 1.0 - (time.monotonic() - t0 - el)))


def load_matrix(path):
    m = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                m.append([float(v) for v in line.split()])
    return m


def cluster_env(d):
    env = {}
    with open(os.path.join(d, "cluster.env")) as f:
        for line in f:
            if "=" in line:
                k, v = line.strip().split("=", 1)
                env[k] = v
    return env


def truth_ms(m, i, j):
    a, b = m[i][j], m[j][i]
    if a >= 0 and b >= 0:
        return (a + b) / 2
    if a >= 0:
        return a
    if b >= 0:
        return b
    return None


def cmd_error(d, pairs):
    a = agents(d)
    m = load_matrix(cluster_env(d)["MATRIX"])
    rng = random.Random(12345)  # the same pairs every time
    errs = []
    failed = 0
    for _ in range(pairs):
        x, y = rng.sample(a, 2)
        t = truth_ms(m, x["row"], y["row"])
        if t is None or t <= 0:
            continue
        try:
            r = get_json(x["hport"], "/v1/rtt?to=%s" % y["name"])
        except (OSError, ValueError, http.client.HTTPException):
            r = None
        if r is None or r.get("EstimatedMs") is None:
            failed += 1
            continue
        errs.append(abs(r["EstimatedMs"] - t) / t)
    if not errs:
        print("nan 0 %d" % failed)
        return 1
    # median, pairs measured, pairs without an answer
    print("%.4f %d %d" % (statistics.median(errs), len(errs), failed))
    return 0


def log_sizes(d):
    out = {}
    for x in agents(d):
        p = os.path.join(d, x["name"] + ".log")
        try:
            out[x["name"]] = os.path.getsize(p)
        except OSError:
            out[x["name"]] = 0
    return out


def cmd_mark(d, phase):
    rec = {"phase": phase, "t": time.time(), "sizes": log_sizes(d)}
    with open(os.path.join(d, "marks.jsonl"), "a") as f:
        f.write(json.dumps(rec) + "\n")
    return 0


def cmd_load(d, rate):
    _, _, _, _, _, targets = roles(d)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    rng = random.Random(7)
    period = 1.0 / rate
    nxt = time.monotonic()
    with open(os.path.join(d, "load.txt"), "w", buffering=1) as out:
        while not stop:
            x = rng.choice(targets)
            t = time.time()
            t0 = time.monotonic()
            ok = 0
            try:
                c = http.client.HTTPConnection("127.0.0.1", x["hport"],
                                               timeout=2.0)
                c.request("GET", "/v1/nearest?n=5")
                r = c.getresponse()
                body = r.read()
                ok = 1 if r.status == 200 and body[:1] in (b"{", b"[") else 0
                c.close()
            except (OSError, http.client.HTTPException):
                ok = 0
            ms = (time.monotonic() - t0) * 1000.0
            out.write("%.3f %.3f %d %s\n" % (t, ms, ok, x["name"]))
            nxt += period
            delay = nxt - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                nxt = time.monotonic()
    return 0


FAILED = re.compile(r"EventMemberFailed: (\S+) \S+ \(reported by (\S+)\)")


def p99(v):
    if not v:
        return float("nan")
    s = sorted(v)
    return s[min(len(s) - 1, int(0.99 * len(s)))]


def cmd_report(d):
    a, kill, frozen, side_a, side_b, _ = roles(d)
    side = {x["name"]: 0 for x in side_a}
    side.update({x["name"]: 1 for x in side_b})
    killed = {x["name"] for x in kill}
    marks = []
    with open(os.path.join(d, "marks.jsonl")) as f:
        for line in f:
            marks.append(json.loads(line))
    false_names = {}
    rows = []
    for k in range(len(marks) - 1):
        ph, nx = marks[k], marks[k + 1]
        name = ph["phase"]
        expected = wrong = relayed = 0
        for x in a:
            lo = ph["sizes"].get(x["name"], 0)
            hi = nx["sizes"].get(x["name"], 0)
            try:
                with open(os.path.join(d, x["name"] + ".log"), "rb") as f:
                    f.seek(lo)
                    text = f.read(max(0, hi - lo)).decode("utf-8", "replace")
            except OSError:
                continue
            for mm in FAILED.finditer(text):
                who, by = mm.group(1), mm.group(2)
                ok = False
                if name in ("partition", "heal"):
                    ok = side.get(who) is not None and \
                        side.get(who) != side.get(x["name"])
                    if not ok and side.get(by) is not None and \
                            side.get(by) != side.get(who):
                        relayed += 1
                        continue
                if name in ("kill", "restart"):
                    ok = who in killed
                if ok:
                    expected += 1
                else:
                    wrong += 1
                    false_names.setdefault(who, []).append(
                        "%s (seen by %s)" % (name, x["name"]))
        rows.append([name, ph["t"], nx["t"], expected, relayed, wrong])
    load = []
    try:
        with open(os.path.join(d, "load.txt")) as f:
            for line in f:
                p = line.split()
                if len(p) >= 3:
                    load.append((float(p[0]), float(p[1]), int(p[2])))
    except OSError:
        pass
    print("%-12s %6s %9s %8s %9s %9s %11s %7s" % (
        "phase", "secs", "failed ok", "relayed", "failed !!", "requests",
        "unanswered", "p99 ms"))
    for name, t0, t1, exp, rel, wrong in rows:
        seg = [r for r in load if t0 <= r[0] < t1]
        lat = [r[1] for r in seg if r[2]]
        print("%-12s %6.0f %9d %8d %9d %9d %11d %7.2f" % (
            name, t1 - t0, exp, rel, wrong, len(seg),
            sum(1 for r in seg if not r[2]), p99(lat)))
    lat = [r[1] for r in load if r[2]]
    print("load total: %d requests, %d unanswered, p50 %.2f ms, "
          "p99 %.2f ms, max %.2f ms" % (
              len(load), sum(1 for r in load if not r[2]),
              statistics.median(lat) if lat else float("nan"), p99(lat),
              max(lat) if lat else float("nan")))
    print("healthy agents falsely declared failed: %d%s" % (
        len(false_names),
        "" if not false_names else " (" + "; ".join(
            "%s: %s" % (k, ", ".join(v[:3])) for k, v in
            sorted(false_names.items())) + ")"))
    return 0


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    cmd, d = argv[1], argv[2]
    if cmd == "roles":
        cmd_roles(d)
        return 0
    if cmd == "agree":
        return cmd_agree(d, float(argv[3]) if len(argv) > 3 else 120)
    if cmd == "error":
        return cmd_error(d, int(argv[3]) if len(argv) > 3 else 300)
    if cmd == "mark":
        return cmd_mark(d, argv[3])
    if cmd == "load":
        return cmd_load(d, float(argv[3]) if len(argv) > 3 else 20)
    if cmd == "report":
        return cmd_report(d)
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
