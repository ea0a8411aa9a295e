"""trivial-rewrite as a running service: the hello, rewrite and resolve requests on one kept
connection, several clients in one process, and a malformed request that only drops its own
client."""
import socket
import struct
import unittest

from attr import frame, get, groups, read_frame
from instance import Instance


class RewriteService(unittest.TestCase):
    def setUp(self):
        self.inst = Instance("rewrite unix - - n - - trivial-rewrite\n",
                             "myhostname = mail.example.org\nmyorigin = example.org\n"
                             "mydestination = localhost, $myhostname\n"
                             "virtual_mailbox_domains = example.org\n"
                             "relay_domains = example.net\n")
        self.addCleanup(self.inst.cleanup)
        self.inst.start()

    def connect(self):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(self.inst.unix_path("rewrite"))
        hello = read_frame(s)
        self.assertEqual(get(hello, "proto"), "rewrite")
        self.assertEqual(get(hello, "ver"), 1)
        return s

    def test_rewrite_and_resolve(self):
        s = self.connect()
        s.sendall(frame([("req", "rewrite"), ("rule", "local"), ("addr", "bob")]))
        reply = read_frame(s)
        self.assertEqual((get(reply, "status"), get(reply, "addr")), (0, "bob@example.org"))
        s.sendall(frame([("req", "resolve"), ("sender", ""),
                         ("rcpt", [("addr", "info@example.org")]),
                         ("rcpt", [("addr", "root@localhost")]),
                         ("rcpt", [("addr", "x@sub.example.net")]),
                         ("rcpt", [("addr", "y@elsewhere.example")])]))
        reply = read_frame(s)
        results = [(get(g, "transport"), get(g, "nexthop"), get(g, "recipient"))
                   for g in groups(reply, "result")]
        self.assertEqual(results, [("virtual", "example.org", "info@example.org"),
                                   ("local", "mail.example.org", "root@localhost"),
                                   ("relay", "sub.example.net", "x@sub.example.net"),
                                   ("smtp", "elsewhere.example", "y@elsewhere.example")])
        s.sendall(frame([("req", "nonsense")]))
        reply = read_frame(s)
        self.assertEqual((get(reply, "status"), get(reply, "reason")), (-1, "unknown request"))
        s.close()

    def test_bad_client_is_dropped_alone(self):
        good = self.connect()
        bad = self.connect()
        bad.sendall(struct.pack(">I", 7) + b"X\x01a\x00\x00\x00\x00")  # unknown type
        self.assertEqual(bad.recv(10), b"")  # dropped
        bad.close()
        bad = self.connect()
        bad.sendall(struct.pack(">I", 0xFFFFFFF0))  # absurd length
        self.assertEqual(bad.recv(10), b"")
        bad.close()
        good.sendall(frame([("req", "rewrite"), ("rule", "local"), ("addr", "a")]))
        self.assertEqual(get(read_frame(good), "addr"), "a@example.org")
        good.close()
        self.assertIn("malformed request", self.inst.log())
        self.assertNotIn("exit status", self.inst.log())  # no process died of it
