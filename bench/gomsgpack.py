"""bench/gomsgpack.py - the few msgpack encoders the bench's fake peers need,
in Go's dialect as memberlist emits it (PROTOCOL.md §2.1): raw strings
(fixstr / raw16) for strings and []byte, minimal unsigned integers, maps
keyed by Go field names."""
import struct


def raw(b):
    if isinstance(b, str):
        b = b.encode()
    n = len(b)
    if n < 32:
        return bytes([0xA0 | n]) + b
    return b"\xda" + struct.pack(">H", n) + b


def uint(v):
    if v < 128:
        return bytes([v])
    if v < 256:
        return b"\xcc" + bytes([v])
    if v < 65536:
        return b"\xcd" + struct.pack(">H", v)
    return b"\xce" + struct.pack(">I", v)


def fmap(pairs):
    out = bytes([0x80 | len(pairs)])
    for k, v in pairs:
        out += raw(k) + v
    return out
