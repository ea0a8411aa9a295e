"""anvil and smtpd's per-client limits: connections at once and per time unit, MAIL and RCPT
commands per time unit, from a client outside smtpd_client_event_limit_exceptions
($mynetworks), with the reference's replies and warnings (checked against Postfix 3.7);
an exempt client is never limited; the counts of an smtpd killed with SIGKILL are given back;
anvil logs its peaks ("statistics: ...")."""
import os
import re
import signal
import smtplib
import socket
import time
import unittest

from instance import Instance, free_port, poll

OUTSIDE = "127.0.0.2"  # mynetworks is 127.0.0.1/32


def services(port, port2):
    return (f"127.0.0.1:{port} inet n - n - - smtpd\n"
            f"127.0.0.1:{port2} inet n - n - - smtpd -o smtpd_client_connection_count_limit=0"
            " -o smtpd_client_connection_rate_limit=2\n"
            "cleanup unix n - n - 0 cleanup\n"
            "qmgr unix n - n 300 1 qmgr\n"
            "rewrite unix - - n - - trivial-rewrite\n"
            "discard unix - - n - - discard\n"
            "anvil unix - - n - 1 anvil\n")


def connect(port, source):
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    return s


def greeting(sock):
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(512)
        if not chunk:
            break
        data += chunk
    return data.decode()


@unittest.skipUnless(os.getuid() == 0, "needs root")
class Anvil(unittest.TestCase):
    def setUp(self):
        self.port, self.port2 = free_port(), free_port()
        self.inst = Instance(services(self.port, self.port2))
        self.addCleanup(self.inst.cleanup)
        self.inst.write_main("myhostname = mx.example.org\nmydestination = localhost\n"
                             "alias_maps =\nmynetworks = 127.0.0.1/32\n"
                             "default_transport = discard\nsmtpd_timeout = 10s\n"
                             "relay_domains = remote.example\nrelay_transport = discard\n"
                             "smtpd_relay_restrictions = reject_unauth_destination\n"
                             "smtpd_client_connection_count_limit = 2\n"
                             "smtpd_client_message_rate_limit = 2\n"
                             "smtpd_client_recipient_rate_limit = 3\n"
                             "anvil_status_update_time = 2s\n")
        self.assertTrue(self.inst.start())
        self.socks = []
        self.addCleanup(lambda: [s.close() for s in self.socks])

    def open(self, port, source):
        s = connect(port, source)
        self.socks.append(s)
        return greeting(s)

    def test_connection_count(self):
        service = f"127.0.0.1:{self.port}"
        self.assertTrue(self.open(self.port, OUTSIDE).startswith("220 "))
        self.assertTrue(self.open(self.port, OUTSIDE).startswith("220 "))
        self.assertEqual(self.open(self.port, OUTSIDE),
                         "421 4.7.0 mx.example.org Error: too many connections from 127.0.0.2\r\n")
        self.assertTrue(poll(lambda: "Connection concurrency limit exceeded" in self.inst.log()))
        self.assertRegex(self.inst.log(),
                         r"warning: Connection concurrency limit exceeded: 3 from "
                         rf"\S+\[127\.0\.0\.2\] for service {re.escape(service)}\n")
        refused = r"disconnect from \S+\[127\.0\.0\.2\] commands=0/0\n"  # logged after the reply
        self.assertTrue(poll(lambda: re.search(refused, self.inst.log())), self.inst.log())
        # a client of mynetworks is neither counted nor limited
        for _ in range(3):
            self.assertTrue(self.open(self.port, "127.0.0.1").startswith("220 "))
        # the counts of an smtpd killed outright go back: its anvil connection closes
        pids = {int(p) for p in re.findall(r"smtpd\[(\d+)\]: connect from \S+\[127\.0\.0\.2\]",
                                            self.inst.log())}
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for s in self.socks:
            s.close()
        self.socks.clear()
        self.assertTrue(poll(lambda: self.fresh_greeting(), timeout=10))
        # anvil's peaks, every anvil_status_update_time
        self.assertTrue(poll(lambda: "statistics: max connection count" in self.inst.log(),
                             timeout=10), self.inst.log())
        self.assertRegex(self.inst.log(), r"anvil\[\d+\]: statistics: max connection count 3 for "
                                          rf"\({re.escape(service)}:127\.0\.0\.2\) at ")
        self.assertRegex(self.inst.log(), r"anvil\[\d+\]: statistics: max connection rate \d+/60s "
                                          rf"for \({re.escape(service)}:127\.0\.0\.2\) at ")
        self.assertRegex(self.inst.log(), r"anvil\[\d+\]: statistics: max cache size \d+ at ")

    def fresh_greeting(self):
        s = connect(self.port, OUTSIDE)
        try:
            return greeting(s).startswith("220 ")
        finally:
            s.close()

    def test_lost_connection_after_connect(self):
        s = connect(self.port, OUTSIDE)
        greeting(s)
        s.close()
        self.assertTrue(poll(lambda: "lost connection after CONNECT" in self.inst.log()),
                        self.inst.log())
        self.assertRegex(self.inst.log(),
                         r"lost connection after CONNECT from \S+\[127\.0\.0\.2\]\n")

    def test_connection_rate(self):
        service = f"127.0.0.1:{self.port2}"
        for _ in range(2):
            s = connect(self.port2, OUTSIDE)
            self.assertTrue(greeting(s).startswith("220 "))
            s.close()
        s = connect(self.port2, OUTSIDE)
        self.assertEqual(greeting(s),
                         "421 4.7.0 mx.example.org Error: too many connections from 127.0.0.2\r\n")
        s.close()
        self.assertTrue(poll(lambda: "Connection rate limit exceeded" in self.inst.log()))
        self.assertRegex(self.inst.log(), r"warning: Connection rate limit exceeded: 3 from "
                                          rf"\S+\[127\.0\.0\.2\] for service {re.escape(service)}\n")

    def test_message_and_recipient_rates(self):
        c = smtplib.SMTP(source_address=(OUTSIDE, 0), timeout=10)
        c.connect("127.0.0.1", self.port)
        c.ehlo("client.example")
        self.assertEqual(c.docmd("MAIL FROM:<a@example.org>")[0], 250)
        for n in range(3):
            self.assertEqual(c.docmd(f"RCPT TO:<r{n}@remote.example>")[0], 250)
        self.assertEqual(c.docmd("RCPT TO:<r3@remote.example>"),
                         (450, b"4.7.1 Error: too many recipients from 127.0.0.2"))
        self.assertEqual(c.docmd("RSET")[0], 250)
        self.assertEqual(c.docmd("MAIL FROM:<a@example.org>")[0], 250)
        self.assertEqual(c.docmd("RSET")[0], 250)
        self.assertEqual(c.docmd("MAIL FROM:<a@example.org>"),
                         (450, b"4.7.1 Error: too much mail from 127.0.0.2"))
        c.quit()
        log = self.inst.log()
        self.assertRegex(log, r"warning: Recipient address rate limit exceeded: 4 from "
                              r"\S+\[127\.0\.0\.2\] for service ")
        self.assertRegex(log, r"warning: Message delivery request rate limit exceeded: 3 from "
                              r"\S+\[127\.0\.0\.2\] for service ")
        # from an exempt client the same is no problem
        c = smtplib.SMTP(source_address=("127.0.0.1", 0), timeout=10)
        c.connect("127.0.0.1", self.port)
        c.ehlo("client.example")
        for _ in range(4):
            self.assertEqual(c.docmd("MAIL FROM:<a@example.org>")[0], 250)
            self.assertEqual(c.docmd("RSET")[0], 250)
        c.quit()


if __name__ == "__main__":
    unittest.main()
