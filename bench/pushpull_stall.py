#!/usr/bin/env python3
"""bench/pushpull_stall.py HOST:PORT N [--gap-ms G] [--after S]

Benchmark helper (not a test; issue 9 row 2): how long one big plaintext
TCP push/pull holds an agent's loop. It sends the agent at HOST:PORT (its
gossip port) one push/pull listing N members "flood-<i>" (the shape of
bench/members_load.py's), while pinging the agent over UDP every G ms
(default 5) from another socket; each ack's delay is a direct measure of
how long the loop was busy. Prints the push/pull size, the longest and
median ack delay over S seconds (default 30) after the push/pull was sent,
and the pings never answered. Plaintext only (no -encrypt on the agent).
"""
import os
import select
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gomsgpack import fmap, raw, uint  # noqa: E402
from members_load import messages, parse_map, pushpull  # noqa: E402


def ping(seq):
    return b"\x00" + fmap([("SeqNo", uint(seq)), ("Node", raw(b""))])


def ack_seq(pkt):
    """SeqNo of the ack in a datagram (compound/compress/CRC opened)."""
    try:
        for t, body in messages(pkt):
            if t == 2:
                return parse_map(body).get("SeqNo")
    except (ValueError, IndexError, struct.error):
        pass
    return None


def main():
    args = sys.argv[1:]
    gap, after = 0.005, 30.0
    if "--gap-ms" in args:
        i = args.index("--gap-ms")
        gap = float(args[i + 1]) / 1000
        del args[i:i + 2]
    if "--after" in args:
        i = args.index("--after")
        after = float(args[i + 1])
        del args[i:i + 2]
    host, port = args[0].rsplit(":", 1)
    port, n = int(port), int(args[1])
    msg = pushpull([b"flood-%d" % i for i in range(n)], port)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    sent, delays = {}, []
    done = threading.Event()

    def push():
        s = socket.create_connection((host, port))
        s.sendall(msg)
        s.settimeout(after)
        try:
            while s.recv(65536):
                pass
        except OSError:
            pass
        s.close()

    seq = 1
    t0 = time.monotonic()
    th = threading.Thread(target=push, daemon=True)
    started = False
    while time.monotonic() - t0 < after:
        if not started and time.monotonic() - t0 > 0.5:
            th.start()
            started = True
        sent[seq] = time.monotonic()
        udp.sendto(ping(seq), (host, port))
        seq += 1
        end = time.monotonic() + gap
        while True:
            left = end - time.monotonic()
            r, _, _ = select.select([udp], [], [], max(left, 0))
            if not r:
                if left <= 0:
                    break
                continue
            pkt, _ = udp.recvfrom(65536)
            s = ack_seq(pkt)
            if s in sent:
                delays.append(time.monotonic() - sent.pop(s))
    done.set()
    delays.sort()
    print("push/pull: %d members, %d bytes" % (n, len(msg)))
    if delays:
        print("acks: %d, median %.1f ms, max %.1f ms" % (
            len(delays), delays[len(delays) // 2] * 1000,
            delays[-1] * 1000))
    print("unanswered pings: %d" % len(sent))


if __name__ == "__main__":
    main()
