"""A reader of MQ1 queue files for tests, written from doc/queue.md without the C
code, so that the two check each other: header fields, envelope records, content."""
import struct
import zlib


def _records(data, pos, end):
    while pos < end:
        kind = chr(data[pos])
        (length,) = struct.unpack(">I", data[pos + 1:pos + 5])
        yield pos, kind, data[pos + 5:pos + 5 + length]
        pos += 5 + length


def _string16(payload, pos):
    (n,) = struct.unpack(">H", payload[pos:pos + 2])
    return payload[pos + 2:pos + 2 + n].decode(), pos + 2 + n


def read(path):
    data = open(path, "rb").read()
    assert data[:4] == b"MQ1\0", "magic"
    (version, sec, usec, flags, content_off, content_len, extract_off, rcpt_total, warn,
     crc) = struct.unpack(">IqIIQQQIqI", data[4:64])
    out = {"version": version, "arrival": sec + usec / 1e6, "content_len": content_len,
           "rcpt_total": rcpt_total, "attrs": {}, "sender": None, "rcpts": [], "headers": [],
           "body": b""}
    for pos, kind, payload in _records(data, 64, content_off):
        if kind == "A":
            name, _, value = payload.decode().partition("=")
            out["attrs"][name] = value
        elif kind == "S":
            out["sender"] = payload.decode()
        elif kind == "R":
            addr, p = _string16(payload, 2)
            orig, p = _string16(payload, p)
            orcpt, p = _string16(payload, p)
            out["rcpts"].append({"status": chr(payload[0]), "notify": payload[1], "addr": addr,
                                 "orig": orig, "orcpt": orcpt, "offset": pos})
    for pos, kind, payload in _records(data, content_off, extract_off):
        if kind == "H":
            out["headers"].append(payload.decode())
        elif kind == "B":
            out["body"] += payload
    end = data[-17:]
    assert end[0:1] == b"E", "E record"
    return out
