"""The lmtp client: virtual_transport = lmtp:unix:private/dovecot-lmtp (the path relative to
the queue directory, as the chrooted client sees it) and lmtp:inet:host:port. LMTP answers
the end of the data once per recipient, so one message can be delivered to one recipient,
bounced for another and deferred for a third."""
import os
import unittest

import test_delivery
from instance import poll
from smtpsink import Sink


@unittest.skipUnless(os.getuid() == 0, "the delivery agents need root")
class Lmtp(test_delivery.Delivery):
    def setUp(self):
        super().setUp()
        self.inst.write_master(test_delivery.SERVICES + "lmtp unix - - y - - lmtp\n")
        self.assertTrue(self.inst.reload())

    def test_unix_socket_with_a_reply_per_recipient(self):
        path = os.path.join(self.inst.queue, "private", "dovecot-lmtp")
        sink = Sink(lmtp=True, unix_path=path, data_replies={
            "gone@example.org": "550 5.1.1 <gone@example.org> User doesn't exist",
            "full@example.org": "452 4.2.2 <full@example.org> Mailbox is full"})
        self.addCleanup(sink.close)
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("virtual_transport = lmtp:unix:private/dovecot-lmtp\n"
                     "virtual_mailbox_maps = static:x\n")
        self.assertTrue(self.inst.reload())
        qid = self.submit("sender@example.com", ["info@example.org", "gone@example.org",
                                                 "full@example.org"])

        def decided():
            return self.inst.log().count(f"{qid}: to=<") >= 3

        self.assertTrue(poll(decided, timeout=20), self.inst.log())
        log = self.inst.log()
        relay = "relay=mail.example.org[private/dovecot-lmtp]"
        self.assertIn(f"{qid}: to=<info@example.org>, {relay}", log)
        self.assertIn("dsn=2.0.0, status=sent (250 2.0.0 <info@example.org> delivered)", log)
        self.assertIn("dsn=5.1.1, status=bounced (host mail.example.org[private/dovecot-lmtp] "
                      "said: 550 5.1.1 <gone@example.org> User doesn't exist (in reply to end "
                      "of DATA command))", log)
        self.assertIn("dsn=4.2.2, status=deferred (host mail.example.org[private/dovecot-lmtp] "
                      "said: 452 4.2.2 <full@example.org> Mailbox is full (in reply to end of "
                      "DATA command))", log)
        [(mail, rcpts, data)] = sink.messages
        self.assertEqual((mail, rcpts), ("sender@example.com", ["info@example.org"]))
        self.assertTrue(sink.helos[0] == "mail.example.org", sink.helos)
        self.assertTrue(sink.commands[0].startswith("LHLO "), sink.commands)

    def test_inet_next_hop(self):
        sink = Sink(lmtp=True)
        self.addCleanup(sink.close)
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("transport_maps = inline:{ lmtp.example=lmtp:inet:127.0.0.1:"
                     f"{sink.port} }}\n")
        self.assertTrue(self.inst.reload())
        qid = self.submit("sender@example.com", ["a@lmtp.example", "b@lmtp.example"])
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=20),
                        self.inst.log())
        self.assertIn(f"{qid}: to=<a@lmtp.example>, relay=127.0.0.1[127.0.0.1]:{sink.port}",
                      self.inst.log())
        self.assertEqual([r for _, r, _ in sink.messages], [["a@lmtp.example", "b@lmtp.example"]])

    test_maildir_and_mbox_delivery = None
    test_unknown_user_bounces_and_unreachable_transport_defers = None
    test_crash_left_in_active_is_delivered_after_restart = None
    test_mailbox_size_limit = None
    test_bounce_notice_reaches_the_sender = None
    test_expired_mail_returns_to_sender = None
    test_delay_warning_is_sent_once = None
