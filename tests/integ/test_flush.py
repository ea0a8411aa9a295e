"""The flush service: ETRN, postqueue -s and postqueue -i deliver deferred mail before its
retry time, for the sites fast_flush_domains lists (others get "459 ... service
unavailable" and a clear error), and one message at a time by queue ID."""
import os
import smtplib
import socket
import unittest

import test_delivery
from harness import BIN, run
from instance import free_port, poll
from smtpsink import Sink


@unittest.skipUnless(os.getuid() == 0, "the delivery agents need root")
class Flush(test_delivery.Delivery):
    def setUp(self):
        super().setUp()
        self.port = free_port()
        self.inst.write_master(test_delivery.SERVICES +
                               f"127.0.0.1:{self.port} inet n - n - - smtpd\n"
                               "smtp unix - - n - - smtp\n"
                               "flush unix n - n 1000? 0 flush\n")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]
        self.route(closed)

    def route(self, port):
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write(f"transport_maps = inline:{{ site.example=smtp:[127.0.0.1]:{port}, "
                     f"other.example=smtp:[127.0.0.1]:{port} }}\n"
                     "fast_flush_domains = site.example\nalias_maps =\n"
                     "mynetworks = 127.0.0.0/8\n")
        self.assertTrue(self.inst.reload())

    def deferred(self, qid):
        return os.path.exists(os.path.join(self.inst.queue, "deferred", qid[0], qid))

    def test_etrn_and_postqueue(self):
        first = self.submit("s@example.org", ["a@site.example"])
        second = self.submit("s@example.org", ["b@other.example"])
        self.assertTrue(poll(lambda: self.deferred(first) and self.deferred(second),
                             timeout=20), self.inst.log())
        sink = Sink()
        self.addCleanup(sink.close)
        self.route(sink.port)  # the destinations answer now; the retry time is minutes away
        client = smtplib.SMTP("127.0.0.1", self.port, timeout=20)
        client.ehlo("client.example")
        self.assertEqual(client.docmd("ETRN other.example"),
                         (459, b"<other.example>: service unavailable"))
        self.assertEqual(client.docmd("ETRN site.example"), (250, b"Queuing started"))
        client.quit()
        self.assertTrue(poll(lambda: f"{first}: removed" in self.inst.log(), timeout=20),
                        self.inst.log())
        self.assertEqual([r for _, r, _ in sink.messages], [["a@site.example"]])
        self.assertTrue(self.deferred(second))
        env = {"MAIL_CONFIG": self.inst.etc}
        res = run([os.path.join(BIN, "postqueue"), "-s", "other.example"], env=env)
        self.assertNotEqual(res.rc, 0)
        self.assertIn("postqueue: fatal: other.example: not eligible for a fast flush", res.err)
        res = run([os.path.join(BIN, "postqueue"), "-i", "1234ABCDEF"], env=env)
        self.assertIn("1234ABCDEF: no such message in the deferred queue", res.err)
        res = run([os.path.join(BIN, "postqueue"), "-i", second], env=env)
        self.assertEqual(res.rc, 0, res.err)
        self.assertTrue(poll(lambda: f"{second}: removed" in self.inst.log(), timeout=20),
                        self.inst.log())
        self.assertEqual(len(sink.messages), 2)
        self.assertTrue(self.queue_empty())

    def test_etrn_restrictions(self):
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("smtpd_etrn_restrictions = permit_mynetworks, reject\n"
                     "mynetworks = 10.0.0.0/8\n")
        self.assertTrue(self.inst.reload())
        client = smtplib.SMTP("127.0.0.1", self.port, timeout=20)
        client.ehlo("client.example")
        self.assertEqual(client.docmd("ETRN site.example"),
                         (554, b"5.7.1 <site.example>: Etrn command rejected: Access denied"))
        client.quit()
        self.assertIn("NOQUEUE: reject: ETRN from localhost[127.0.0.1]: 554 5.7.1 <site.example>: "
                      "Etrn command rejected: Access denied; proto=ESMTP helo=<client.example>",
                      self.inst.log())

    test_maildir_and_mbox_delivery = None
    test_unknown_user_bounces_and_unreachable_transport_defers = None
    test_crash_left_in_active_is_delivered_after_restart = None
    test_mailbox_size_limit = None
    test_bounce_notice_reaches_the_sender = None
    test_expired_mail_returns_to_sender = None
    test_delay_warning_is_sent_once = None
