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


def _crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _record(kind, payload=b""):
    return kind.encode() + struct.pack(">I", len(payload)) + payload


def write(sender, rcpts, headers, body, attrs=(), content_len=None, arrival=1700000000):
    """An MQ1 file as a client (sendmail) would give postdrop: bytes; content_len, when
    given, is declared in the header instead of the true length."""
    def s16(text):
        raw = text.encode()
        return struct.pack(">H", len(raw)) + raw
    env = b"".join(_record("A", a.encode()) for a in attrs)
    env += _record("S", sender.encode())
    for r in rcpts:
        env += _record("R", b"T\0" + s16(r) + s16("") + s16(""))
    content = _record("M")
    true_len = 1 + len(body)
    for h in headers:
        content += _record("H", h.encode())
        true_len += len(h) + 1
    if body:
        content += _record("B", body)
    content_off = 64 + len(env)
    extract_off = content_off + len(content)
    tail = _record("X")
    size = extract_off + len(tail) + 17
    end = _record("E", struct.pack(">QI", size - 17, _crc32c(content)))
    head = b"MQ1\0" + struct.pack(">IqIIQQQIq", 1, arrival, 0, 0, content_off,
                                  true_len if content_len is None else content_len,
                                  extract_off, len(rcpts), 0)
    head += struct.pack(">I", _crc32c(head))
    return head + env + content + tail + end
