"""A DNS server for tests that must see answers a real server would not give: it answers
UDP queries from a table, and for the names in `truncated` sets the TC bit and sends no
records (with no TCP service to retry on). It stands in for a validating resolver too: for
the names in `secure` it sets the AD bit when the query asked for validation (AD or the
EDNS0 DO bit), and for those in `servfail` it answers SERVFAIL. It records every query as
(name, type), and in `asked` whether it asked for validation. Written for these tests
only."""
import socket
import struct
import threading

TYPES = {"A": 1, "NS": 2, "MX": 15, "TXT": 16, "AAAA": 28, "TLSA": 52}


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


class FakeDns:
    def __init__(self, address, records, truncated=(), secure=(), servfail=(), silent=()):
        """records: {(name, "MX"): [(pref, host)], (name, "A"): ["1.2.3.4"],
        (name, "TLSA"): [(usage, selector, mtype, "hex")], (name, "TXT"): ["text"], ...};
        the names in `silent` get no answer at all."""
        self.records = {(n.lower(), t): v for (n, t), v in records.items()}
        self.names = {n for n, _ in self.records}
        self.truncated = {n.lower() for n in truncated}
        self.secure = {n.lower() for n in secure}
        self.servfail = {n.lower() for n in servfail}
        self.silent = {n.lower() for n in silent}
        self.queries = []
        self.asked = {}  # (name, type) -> the query asked for validation
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
                reply = self.answer(data)
                if reply:
                    self.sock.sendto(reply, peer)
            except (OSError, ValueError, IndexError, struct.error):
                pass

    def answer(self, query):
        qid, qflags, qdcount, _, _, arcount = struct.unpack(">HHHHHH", query[:12])
        pos, labels = 12, []
        while query[pos]:
            labels.append(query[pos + 1:pos + 1 + query[pos]].decode())
            pos += 1 + query[pos]
        qtype, _ = struct.unpack(">HH", query[pos + 1:pos + 5])
        question = query[12:pos + 5]
        name = ".".join(labels).lower()
        tname = {v: k for k, v in TYPES.items()}.get(qtype, str(qtype))
        self.queries.append((name, tname))
        do = False
        if arcount and query[pos + 5] == 0 and query[pos + 6:pos + 8] == b"\0\x29":  # OPT
            do = bool(query[pos + 12] & 0x80)
        asked = bool(qflags & 0x20) or do
        self.asked[(name, tname)] = asked
        if name in self.silent:
            return None
        flags, answers = 0x8180, []
        if asked and name in self.secure:
            flags |= 0x0020  # AD: "validated"
        if name in self.servfail:
            flags |= 2  # SERVFAIL
        elif name in self.truncated:
            flags |= 0x0200  # TC: "ask again over TCP", where nobody listens
        elif name not in self.names:
            flags |= 3  # NXDOMAIN
        else:
            for value in self.records.get((name, tname), []):
                if tname == "MX":
                    rdata = struct.pack(">H", value[0]) + encode_name(value[1])
                elif tname == "NS":
                    rdata = encode_name(value)
                elif tname == "A":
                    rdata = socket.inet_pton(socket.AF_INET, value)
                elif tname == "TLSA":
                    rdata = bytes(value[:3]) + bytes.fromhex(value[3])
                elif tname == "TXT":
                    rdata = bytes([len(value.encode())]) + value.encode()
                else:
                    rdata = socket.inet_pton(socket.AF_INET6, value)
                answers.append(struct.pack(">HHHIH", 0xC00C, qtype, 1, 60, len(rdata)) + rdata)
        header = struct.pack(">HHHHHH", qid, flags, 1, len(answers), 0, 0)
        return header + question + b"".join(answers)
