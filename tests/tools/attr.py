"""ATTR/1 frames for tests: encode a list of (name, value) pairs (str/bytes -> 'S', int ->
'I', list of pairs -> 'G') and decode a payload into the same shape. Independent of the C
codec, so that each checks the other."""
import struct


def encode_payload(pairs):
    out = b""
    for name, value in pairs:
        n = name.encode()
        if isinstance(value, bool):
            raise TypeError("no booleans in ATTR/1")
        if isinstance(value, int):
            body, kind = struct.pack(">q", value), b"I"
        elif isinstance(value, list):
            body, kind = encode_payload(value), b"G"
        else:
            body = value.encode() if isinstance(value, str) else value
            kind = b"S"
        out += kind + bytes([len(n)]) + n + struct.pack(">I", len(body)) + body
    return out


def frame(pairs):
    payload = encode_payload(pairs)
    return struct.pack(">I", len(payload)) + payload


def decode_payload(data):
    pairs, pos = [], 0
    while pos < len(data):
        kind, nlen = data[pos:pos + 1], data[pos + 1]
        name = data[pos + 2:pos + 2 + nlen].decode()
        (vlen,) = struct.unpack(">I", data[pos + 2 + nlen:pos + 6 + nlen])
        value = data[pos + 6 + nlen:pos + 6 + nlen + vlen]
        pos += 6 + nlen + vlen
        if kind == b"I":
            value = struct.unpack(">q", value)[0]
        elif kind == b"G":
            value = decode_payload(value)
        else:
            value = value.decode("utf-8", "replace")
        pairs.append((name, value))
    return pairs


def read_frame(sock):
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError("connection closed")
            data += chunk
        return data
    (length,) = struct.unpack(">I", exactly(4))
    return decode_payload(exactly(length))


def get(pairs, name, default=None):
    for key, value in pairs:
        if key == name:
            return value
    return default


def groups(pairs, name):
    return [value for key, value in pairs if key == name]
