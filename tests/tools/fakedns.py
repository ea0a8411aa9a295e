"""A DNS server for tests that must see answers a real server would not give: it answers
UDP queries from a table, and for the names in `truncated` sets the TC bit and sends no
records (with no TCP service to retry on). It records every query as (name, type). Written
for these tests only."""
import socket
import struct
import threading

TYPES = {"A": 1, "MX": 15, "AAAA": 28}


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


class FakeDns:
    def __init__(self, address, records, truncated=()):
        """records: {(name, "MX"): [(pref, host)], (name, "A"): ["1.2.3.4"], ...}"""
        self.records = {(n.lower(), t): v for (n, t), v in records.items()}
        self.names = {n for n, _ in self.records}
        self.truncated = {n.lower() for n in truncated}
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, 53))
        self.sock.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def close(self):
        self.running = False
        self.thread.join(5)
        self.sock.close()

    def serve(self):
        while self.running:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                continue
            try:
                self.sock.sendto(self.answer(data), peer)
            except (OSError, ValueError, IndexError, struct.error):
                pass

    def answer(self, query):
        qid, _, qdcount = struct.unpack(">HHH", query[:6])
        pos, labels = 12, []
        while query[pos]:
            labels.append(query[pos + 1:pos + 1 + query[pos]].decode())
            pos += 1 + query[pos]
        qtype, _ = struct.unpack(">HH", query[pos + 1:pos + 5])
        question = query[12:pos + 5]
        name = ".".join(labels).lower()
        tname = {v: k for k, v in TYPES.items()}.get(qtype, str(qtype))
        self.queries.append((name, tname))
        flags, answers = 0x8180, []
        if name in self.truncated:
            flags |= 0x0200  # TC: "ask again over TCP", where nobody listens
        elif name not in self.names:
            flags |= 3  # NXDOMAIN
        else:
            for value in self.records.get((name, tname), []):
                if tname == "MX":
                    rdata = struct.pack(">H", value[0]) + encode_name(value[1])
                elif tname == "A":
                    rdata = socket.inet_pton(socket.AF_INET, value)
                else:
                    rdata = socket.inet_pton(socket.AF_INET6, value)
                answers.append(struct.pack(">HHHIH", 0xC00C, qtype, 1, 60, len(rdata)) + rdata)
        header = struct.pack(">HHHHHH", qid, flags, 1, len(answers), 0, 0)
        return header + question + b"".join(answers)
