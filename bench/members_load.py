#!/usr/bin/env python3
"""bench/members_load.py PORT N [--seed S]

Benchmark helper (not a test): makes one agent hold N extra members, each
with a coordinate, so that /v1/nearest ranks a realistic table.

One process plays all N fake members "fake-<i>", every one advertised at
127.0.0.1:PORT (memberlist tells members apart by name, not by address):

  TCP PORT  answers every push/pull (plaintext, uncompressed, PROTOCOL.md
            §3.2) with the N fake members alive, so an agent started with
            `-join 127.0.0.1:PORT` (or pushing/pulling to any fake later)
            learns them all;
  UDP PORT  answers every ping addressed to a fake with an ack (nil
            payload: no coordinate from probes, which keeps the agent's own
            coordinate untouched), so the fakes stay alive however long the
            benchmark runs; everything else (gossip, indirect pings) is
            ignored;
  coordinates: every 5 s it sends each agent that pinged it the N fake
            coordinates as netcoord coordinate-gossip user messages (the
            format in agent/coords.c: a serf join intent with an "NC" field,
            ~20 entries per datagram), age 0.1 s, sender "fake-0" (an
            entry of age 0 is accepted only from the node it describes).

Coordinates are deterministic for --seed: 8 dimensions uniform in
+-0.05 s, error 0.2, adjustment 0, height 0.001 s (so RTT estimates of
10-150 ms). Hand-rolled msgpack in the Go dialect, no Python package
needed. Runs until killed (SIGTERM/SIGINT).
"""
import random
import selectors
import signal
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gomsgpack import fmap, raw, uint  # noqa: E402


def pushpull(names, port):
    body = b"\x06" + fmap([
        ("Join", b"\xc2"),
        ("Nodes", uint(len(names))),
        ("UserStateLen", uint(0)),
    ])
    vsn = raw(bytes([1, 5, 2, 2, 5, 5]))
    addr = raw(bytes([127, 0, 0, 1]))
    parts = [body]
    for name in names:
        parts.append(fmap([
            ("Addr", addr),
            ("Incarnation", uint(1)),
            ("Meta", b"\xc0"),
            ("Name", raw(name)),
            ("Port", uint(port)),
            ("State", uint(0)),
            ("Vsn", vsn),
        ]))
    return b"".join(parts)


def read_uint(b, i):
    t = b[i]
    if t < 0x80:
        return t, i + 1
    if t == 0xCC:
        return b[i + 1], i + 2
    if t == 0xCD:
        return struct.unpack(">H", b[i + 1:i + 3])[0], i + 3
    if t == 0xCE:
        return struct.unpack(">I", b[i + 1:i + 5])[0], i + 5
    if t == 0xCF:
        return struct.unpack(">Q", b[i + 1:i + 9])[0], i + 9
    raise ValueError("not a uint")


def read_str(b, i):
    t = b[i]
    if 0xA0 <= t <= 0xBF:
        n = t & 0x1F
        return b[i + 1:i + 1 + n], i + 1 + n
    if t in (0xD9, 0xC4):
        n = b[i + 1]
        return b[i + 2:i + 2 + n], i + 2 + n
    if t in (0xDA, 0xC5):
        n = struct.unpack(">H", b[i + 1:i + 3])[0]
        return b[i + 3:i + 3 + n], i + 3 + n
    raise ValueError("not a str")


def skip(b, i):
    t = b[i]
    if t < 0x80 or t >= 0xE0 or t in (0xC0, 0xC2, 0xC3):
        return i + 1
    if 0xA0 <= t <= 0xBF or t in (0xD9, 0xDA, 0xC4, 0xC5):
        return read_str(b, i)[1]
    if t in (0xCC, 0xCD, 0xCE, 0xCF, 0xD0, 0xD1, 0xD2, 0xD3):
        return i + 1 + {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8,
                        0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8}[t]
    if t in (0xCA, 0xCB):
        return i + (5 if t == 0xCA else 9)
    if 0x90 <= t <= 0x9F:
        i += 1
        for _ in range(t & 0x0F):
            i = skip(b, i)
        return i
    raise ValueError("unsupported msgpack byte %#x" % t)


def parse_ping(b):
    """(SeqNo, Node, SourceAddr, SourcePort) of a ping body."""
    t = b[0]
    if not 0x80 <= t <= 0x8F:
        raise ValueError("not a map")
    i = 1
    out = {}
    for _ in range(t & 0x0F):
        k, i = read_str(b, i)
        k = k.decode()
        if k == "SeqNo" or k == "SourcePort":
            out[k], i = read_uint(b, i)
        elif k in ("Node", "SourceAddr", "SourceNode"):
            if b[i] == 0xC0:
                out[k], i = b"", i + 1
            else:
                out[k], i = read_str(b, i)
        else:
            i = skip(b, i)
    return out


def lzw_decompress(data):
    """Go compress/lzw reader, LSB order, 8-bit literals (memberlist's)."""
    clear, eof = 256, 257
    invalid = 0xFFFF
    prefix = [0] * 4096
    suffix = [0] * 4096
    out = bytearray()
    width, hi, overflow, last = 9, eof, 512, invalid
    bits = nbits = 0
    pos = 0
    while True:
        while nbits < width:
            if pos >= len(data):
                return bytes(out)
            bits |= data[pos] << nbits
            pos += 1
            nbits += 8
        code = bits & ((1 << width) - 1)
        bits >>= width
        nbits -= width
        if code < clear:
            out.append(code)
            if last != invalid:
                suffix[hi] = code
                prefix[hi] = last
        elif code == clear:
            width, hi, overflow, last = 9, eof, 512, invalid
            continue
        elif code == eof:
            return bytes(out)
        elif code <= hi:
            c = code
            tail = b""
            if code == hi and last != invalid:
                c = last
            chunk = bytearray()
            while c >= clear:
                chunk.append(suffix[c])
                c = prefix[c]
            chunk.append(c)
            chunk.reverse()
            if code == hi and last != invalid:
                chunk.append(c)
            out += chunk
            if last != invalid:
                suffix[hi] = c
                prefix[hi] = last
        else:
            raise ValueError("lzw: bad code")
        last, hi = code, hi + 1
        if hi >= overflow:
            if width == 12:
                last = invalid
                hi -= 1
            else:
                width += 1
                overflow = 1 << width


def parse_map(b, i=0):
    """A flat msgpack map of str keys -> python values (bytes/ints)."""
    t = b[i]
    if not 0x80 <= t <= 0x8F:
        raise ValueError("not a map")
    i += 1
    out = {}
    for _ in range(t & 0x0F):
        k, i = read_str(b, i)
        v = b[i]
        if v == 0xC0:
            out[k.decode()], i = None, i + 1
        elif 0xA0 <= v <= 0xBF or v in (0xD9, 0xDA, 0xC4, 0xC5):
            out[k.decode()], i = read_str(b, i)
        elif v < 0x80 or v in (0xCC, 0xCD, 0xCE, 0xCF):
            out[k.decode()], i = read_uint(b, i)
        else:
            i = skip(b, i)
    return out


def messages(pkt, depth=0):
    """Yield (type, body) of every message in a datagram."""
    if not pkt or depth > 4:
        return
    t = pkt[0]
    if t == 7 and len(pkt) >= 2:
        n = pkt[1]
        lens = struct.unpack(">%dH" % n, pkt[2:2 + 2 * n])
        off = 2 + 2 * n
        for ln in lens:
            yield from messages(pkt[off:off + ln], depth + 1)
            off += ln
    elif t == 9:
        m = parse_map(pkt[1:])
        if m.get("Algo", 0) == 0 and m.get("Buf"):
            yield from messages(lzw_decompress(m["Buf"]), depth + 1)
    elif t == 12:
        yield from messages(pkt[5:], depth + 1)
    else:
        yield t, pkt[1:]


def ack(seq):
    return b"\x02" + fmap([("Payload", b"\xc0"), ("SeqNo", uint(seq))])


def coord_entry(name, vec, error, adj, height):
    nb = name.encode()
    return (bytes([len(nb)]) + nb + struct.pack(">HBB", 1, 0, len(vec)) +
            struct.pack(">%df" % len(vec), *vec) +
            struct.pack(">fff", error, adj, height))


def coord_msgs(coords, sender, room=1300):
    """Coordinate-gossip user messages (type byte 8 included)."""
    msgs = []
    entries = []
    size = 0

    def flush():
        payload = bytes([1, len(entries)]) + b"".join(entries)
        body = (b"\x01\x83" + raw("LTime") + b"\x00" + raw("Node") +
                b"\xda" + struct.pack(">H", len(sender)) + sender.encode() +
                raw("NC") + b"\xda" + struct.pack(">H", len(payload)) +
                payload)
        msgs.append(b"\x08" + body)

    for e in coords:
        if entries and (size + len(e) > room or len(entries) == 255):
            flush()
            entries, size = [], 0
        entries.append(e)
        size += len(e)
    if entries:
        flush()
    return msgs


def main():
    import argparse
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("port", type=int)
    ap.add_argument("n", type=int)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    port, n, seed = a.port, a.n, a.seed
    names = ["fake-%d" % i for i in range(n)]
    rnd = random.Random(seed)
    coords = [coord_entry(nm, [rnd.uniform(-0.05, 0.05) for _ in range(8)],
                          0.2, 0.0, 0.001) for nm in names]
    msgs = coord_msgs(coords, names[0])
    pp = pushpull(names, port)

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    udp.bind(("127.0.0.1", port))
    udp.setblocking(False)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", port))
    tcp.listen(64)
    tcp.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(udp, selectors.EVENT_READ, "udp")
    sel.register(tcp, selectors.EVENT_READ, "tcp")
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))

    agents = {}  # (ip, port) -> time of the next coordinate push
    stats = {"pings": 0, "acks": 0, "pushpulls": 0, "coord_msgs": 0}
    last_report = time.monotonic()
    print("members_load: %d fake members on 127.0.0.1:%d (%d coordinate "
          "messages per push)" % (n, port, len(msgs)), flush=True)
    while not stop:
        for key, _ in sel.select(timeout=0.2):
            if key.data == "tcp":
                try:
                    conn, _ = tcp.accept()
                except OSError:
                    continue
                conn.settimeout(0.3)
                try:
                    try:
                        while conn.recv(65536):
                            pass
                    except socket.timeout:
                        pass
                    conn.sendall(pp)
                    stats["pushpulls"] += 1
                except OSError:
                    pass
                conn.close()
                continue
            while True:
                try:
                    data, src = udp.recvfrom(65536)
                except BlockingIOError:
                    break
                try:
                    pings = [parse_ping(body) for t, body in
                             messages(data) if t == 0]
                except (ValueError, IndexError, struct.error):
                    stats["bad"] = stats.get("bad", 0) + 1
                    continue
                if not pings:
                    continue
                p = pings[0]
                stats["pings"] += 1
                node = p.get("Node", b"").decode(errors="replace")
                if node and not node.startswith("fake-"):
                    continue
                to = src
                if p.get("SourceAddr") and p.get("SourcePort"):
                    a = p["SourceAddr"]
                    if len(a) == 4:
                        to = (socket.inet_ntoa(a), p["SourcePort"])
                try:
                    udp.sendto(ack(p.get("SeqNo", 0)), to)
                    stats["acks"] += 1
                except OSError:
                    pass
                agents.setdefault(to, 0.0)
        now = time.monotonic()
        for to, due in list(agents.items()):
            if now >= due:
                for m in msgs:
                    try:
                        udp.sendto(m, to)
                        stats["coord_msgs"] += 1
                    except OSError:
                        pass
                    time.sleep(0.0002)  # ~5,000 datagrams/s: no burst loss
                agents[to] = now + 5.0
        if now - last_report >= 10:
            print("members_load: %s" % stats, flush=True)
            last_report = now


if __name__ == "__main__":
    main()
