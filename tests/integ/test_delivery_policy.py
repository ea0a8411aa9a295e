"""Delivery policy a sysadmin sets in main.cf, end to end: defer_transports holds mail until
the queue is flushed, soft_bounce keeps everything that would be refused or returned, and the
reply-code parameters change the codes smtpd answers with."""
import os
import smtplib
import unittest

from harness import run
from instance import free_port, poll
from test_smtp import Smtp, services


class DeferTransports(Smtp):
    extra = "defer_transports = virtual\n"

    def test_mail_waits_until_the_queue_is_flushed(self):
        c = self.smtp()
        code, text = c.sendmail("a@example.com", ["info@example.org"], "Subject: t\r\n\r\nx\r\n"), None
        self.assertEqual(code, {})
        self.assertTrue(poll(lambda: "status=deferred (deferred transport)" in self.inst.log(),
                             timeout=15), self.inst.log())
        self.assertRegex(self.inst.log(), r"to=<info@example\.org>, relay=none, delay=[0-9.]+, "
                                          r"delays=[0-9./]+, dsn=4\.3\.2, status=deferred "
                                          r"\(deferred transport\)")
        self.assertEqual(self.delivered(), [])
        deferred = [f for _, _, files in os.walk(os.path.join(self.inst.queue, "deferred"))
                    for f in files]
        self.assertEqual(len(deferred), 1)
        res = run(["postqueue", "-c", self.inst.etc, "-f"])
        self.assertEqual(res.rc, 0, res)
        self.assertTrue(poll(lambda: len(self.delivered()) == 1, timeout=15), self.inst.log())


class SoftBounce(Smtp):
    extra = ("soft_bounce = yes\n"
             "smtpd_recipient_restrictions = check_recipient_access "
             "inline:{ blocked@example.org=REJECT }, permit_mynetworks, "
             "reject_unauth_destination\n"
             "mynetworks = 192.0.2.0/24\n"
             "transport_maps = inline:{ { gone@example.org = error:5.1.1 mailbox is gone } }\n"
             "virtual_mailbox_maps = inline:{ info@example.org=example.org/info/, "
             "gone@example.org=example.org/gone/ }\n")

    def setUp(self):
        super().setUp()
        self.inst.write_master(services(self.port) + "error unix - - y - - error\n")
        self.assertTrue(self.inst.reload())

    def test_nothing_is_refused_or_returned_for_good(self):
        c = self.smtp()
        c.ehlo()
        c.mail("a@example.com")
        self.assertEqual(c.rcpt("nobody@example.org"),
                         (450, b"4.1.1 <nobody@example.org>: Recipient address rejected: "
                               b"User unknown in virtual mailbox table"))
        self.assertEqual(c.rcpt("blocked@example.org"),
                         (454, b"4.7.1 <blocked@example.org>: Recipient address rejected: "
                               b"Access denied"))  # as the reference: 554 becomes 454
        self.assertEqual(c.rcpt("x@elsewhere.example"),
                         (454, b"4.7.1 <x@elsewhere.example>: Relay access denied"))
        self.assertIn("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 450 4.1.1 "
                      "<nobody@example.org>: Recipient address rejected: User unknown in virtual "
                      "mailbox table;", self.inst.log())
        # a delivery that fails for good stays queued, as a temporary failure
        self.assertEqual(c.rcpt("gone@example.org")[0], 250)
        self.assertEqual(c.data(b"Subject: t\r\n\r\nx\r\n")[0], 250)
        self.assertTrue(poll(lambda: "to=<gone@example.org>, relay=none" in self.inst.log(),
                             timeout=15), self.inst.log())
        self.assertRegex(self.inst.log(), r"to=<gone@example\.org>, relay=none, .*dsn=4\.1\.1, "
                                          r"status=deferred \(mailbox is gone\)")
        self.assertNotIn("status=bounced", self.inst.log())


class ReplyCodes(Smtp):
    extra = ("unknown_virtual_mailbox_reject_code = 450\n"
             "smtpd_relay_restrictions = reject_unauth_destination\n"
             "access_map_reject_code = 550\n"
             "relay_domains_reject_code = 550\n"
             "mynetworks = 192.0.2.0/24\n"
             "smtpd_recipient_restrictions = check_recipient_access "
             "inline:{ blocked@example.org=REJECT }, reject_unauth_destination\n")

    def test_the_code_parameters_set_the_replies(self):
        c = self.smtp()
        c.ehlo()
        c.mail("a@example.com")
        self.assertEqual(c.rcpt("nobody@example.org"),
                         (450, b"4.1.1 <nobody@example.org>: Recipient address rejected: "
                               b"User unknown in virtual mailbox table"))
        self.assertEqual(c.rcpt("blocked@example.org"),
                         (550, b"5.7.1 <blocked@example.org>: Recipient address rejected: "
                               b"Access denied"))
        self.assertEqual(c.rcpt("x@elsewhere.example"),
                         (550, b"5.7.1 <x@elsewhere.example>: Relay access denied"))


class AutomaticBcc(Smtp):
    extra = ("virtual_mailbox_maps = inline:{ info@example.org=example.org/info/, "
             "archive@example.org=example.org/archive/, sent@example.org=example.org/sent/, "
             "incoming@example.org=example.org/incoming/ }\n"
             "always_bcc = archive@example.org\n"
             "sender_bcc_maps = inline:{ a@example.com=sent@example.org }\n"
             "recipient_bcc_maps = inline:{ info@example.org=incoming@example.org }\n")

    def box(self, name):
        new = os.path.join(self.vmail, "example.org", name, "new")
        return os.listdir(new) if os.path.isdir(new) else []

    def test_each_copy_is_delivered_once(self):
        c = self.smtp()
        self.assertEqual(c.sendmail("a@example.com", ["info@example.org"],
                                    "Subject: t\r\n\r\nx\r\n"), {})
        self.assertTrue(poll(lambda: all(len(self.box(b)) == 1 for b in
                                         ("info", "archive", "sent", "incoming")), timeout=15),
                        self.inst.log())
        self.assertRegex(self.inst.log(), r"nrcpt=4 \(queue active\)")
        # another sender: no sender copy, the others again
        self.assertEqual(c.sendmail("b@example.com", ["info@example.org"],
                                    "Subject: u\r\n\r\ny\r\n"), {})
        self.assertTrue(poll(lambda: len(self.box("info")) == 2 and len(self.box("archive")) == 2,
                             timeout=15), self.inst.log())
        self.assertEqual(len(self.box("sent")), 1)
        self.assertEqual(len(self.box("incoming")), 2)


class OverrideOptions(Smtp):
    """A second smtpd with receive_override_options, as the re-injection port of a content
    filter has it: no recipient checks, no address mappings, no header or body checks."""
    extra = "header_checks = pcre:{ {/^Subject: reject-me/ REJECT} }\n"

    def setUp(self):
        super().setUp()
        self.port2 = free_port()
        self.inst.write_master(services(self.port) +
                               f"127.0.0.1:{self.port2} inet n - y - - smtpd -o "
                               "receive_override_options=no_unknown_recipient_checks,"
                               "no_header_body_checks,no_address_mappings\n")
        self.assertTrue(self.inst.reload())

    def conversation(self, port):
        c = smtplib.SMTP("127.0.0.1", port, local_hostname="client.example", timeout=20)
        self.addCleanup(c.close)
        c.ehlo()
        c.mail("a@example.com")
        unknown = c.rcpt("nobody@example.org")[0]
        c.rset()
        c.mail("a@example.com")
        c.rcpt("alias@example.org")
        data = c.data(b"Subject: reject-me\r\n\r\nx\r\n")
        c.quit()
        return unknown, data

    def test_the_override_port_skips_checks_and_mappings(self):
        unknown, data = self.conversation(self.port)
        self.assertEqual((unknown, data), (550, (550, b"5.7.1 message content rejected")))
        unknown, data = self.conversation(self.port2)
        self.assertEqual((unknown, data[0]), (250, 250))
        qid = data[1].decode().split()[-1]
        # no virtual alias expansion: the address is delivered (or not) as it is
        self.assertTrue(poll(lambda: f"{qid}: to=<alias@example.org>, relay=virtual" in
                             self.inst.log(), timeout=15), self.inst.log())


class NoOriginalRecipient(Smtp):
    extra = "enable_original_recipient = no\n"

    def test_the_alias_is_not_remembered(self):
        c = self.smtp()
        self.assertEqual(c.sendmail("a@example.com", ["alias@example.org"],
                                    "Subject: t\r\n\r\nx\r\n"), {})
        self.assertTrue(poll(lambda: "to=<info@example.org>, relay=virtual" in self.inst.log(),
                             timeout=15), self.inst.log())
        self.assertNotIn("orig_to=", self.inst.log())
