#!/usr/bin/env python3
"""bench/fake_seed.py PORT N [FIRST_FAKE_PORT]

A fake memberlist seed for the memory benchmark: it listens for TCP on
127.0.0.1:PORT, and answers every push/pull (plaintext, uncompressed) with a
push/pull listing N alive members "fake-<i>" at 127.0.0.1:FIRST_FAKE_PORT+i
(PROTOCOL.md §3.2). An agent that joins it then holds N+1 members in its
table (the fakes never answer probes, so over time they turn suspect and
dead, which is the heaviest state to hold). It does not read the request
beyond what arrives within 0.2 s: the agent's own state is irrelevant here.

Hand-rolled msgpack in the Go dialect (fixmap, raw strings fixstr/0xda,
minimal unsigned ints), so no Python package is needed.
"""
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gomsgpack import fmap, raw, uint  # noqa: E402


def pushpull(n, first_port, join):
    body = b"\x06" + fmap([
        ("Join", b"\xc3" if join else b"\xc2"),
        ("Nodes", uint(n)),
        ("UserStateLen", uint(0)),
    ])
    vsn = bytes([1, 5, 2, 2, 5, 5])
    for i in range(n):
        body += fmap([
            ("Addr", raw(bytes([127, 0, 0, 1]))),
            ("Incarnation", uint(1)),
            ("Meta", b"\xc0"),
            ("Name", raw("fake-%d" % i)),
            ("Port", uint(first_port + i)),
            ("State", uint(0)),
            ("Vsn", raw(vsn)),
        ])
    return body


def serve(conn, n, first_port):
    try:
        conn.settimeout(0.2)
        req = b""
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                req += chunk
        except socket.timeout:
            pass
        # Join flag: the request's header map starts right after 0x06; the
        # first key is "Join" (fixstr 4) followed by c2/c3.
        join = b"Join\xc3" in req[:32]
        conn.sendall(pushpull(n, first_port, join))
    finally:
        conn.close()


def main():
    port = int(sys.argv[1])
    n = int(sys.argv[2])
    first = int(sys.argv[3]) if len(sys.argv) > 3 else 40000
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    # Also hold the UDP port so nothing else takes it.
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", port))
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, n, first), daemon=True).start()


if __name__ == "__main__":
    main()
