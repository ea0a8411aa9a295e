"""Local submission: sendmail hands the message to postdrop, which writes maildrop/; pickup
feeds it to cleanup with the submitting user's identity in a Received line; -t takes the
recipients from the header and drops Bcc."""
import os
import socket
import subprocess
import unittest

import mq1
import test_delivery
from harness import program
from instance import poll


@unittest.skipUnless(os.getuid() == 0, "the delivery agents need root")
class Sendmail(test_delivery.Delivery):
    def setUp(self):
        super().setUp()
        self.inst.write_master(test_delivery.SERVICES + "pickup unix n - n 60 1 pickup\n")
        self.assertTrue(self.inst.reload())

    def sendmail(self, args, text):
        env = dict(os.environ, MAIL_CONFIG=self.inst.etc, **self.inst.sanitizer_env())
        return subprocess.run([program("sendmail")] + args, input=text, text=True,
                              capture_output=True, env=env, timeout=30)

    def test_sendmail_to_maildir(self):
        res = self.sendmail(["-f", "s@example.com", "info@example.org"],
                            "Subject: from sendmail\n\nline one\n.\nnot read\n")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertTrue(poll(lambda: len(self.maildir_files("example.org", "info")) == 1,
                             timeout=15), self.inst.log())
        text = open(self.maildir_files("example.org", "info")[0]).read()
        self.assertIn("Received: by mail.example.org (Postern, from userid 0)", text)
        self.assertIn("Subject: from sendmail\n", text)
        self.assertTrue(text.endswith("\n\nline one\n"), text)  # a lone "." ended the input
        self.assertRegex(self.inst.log(), r"postfix/pickup\[\d+\]: [0-9A-F]+: uid=0 "
                                          r"from=<s@example\.com>")
        self.assertEqual(os.listdir(os.path.join(self.inst.queue, "maildrop")), [])

    def test_an_address_with_control_characters_is_refused(self):
        # a line feed in -f would forge log lines and mbox From lines, CR LF would be an SMTP
        # command in the outbound session: nothing of it is queued
        forged = "x\nDec  6 00:00:00 mail postfix/smtpd[1]: forged@example.com"
        res = self.sendmail(["-f", forged, "info@example.org"], "Subject: s\n\nbody\n")
        self.assertEqual(res.returncode, 65, res)
        self.assertIn("sendmail: error: bad address syntax: control characters in an address\n",
                      res.stderr)
        res = self.sendmail(["-f", "s@example.com", "info\r@example.org"], "Subject: s\n\nb\n")
        self.assertEqual(res.returncode, 65, res)
        self.assertEqual(os.listdir(os.path.join(self.inst.queue, "maildrop")), [])
        self.assertNotIn("forged", self.inst.log())

    def postdrop(self, data):
        env = dict(os.environ, MAIL_CONFIG=self.inst.etc, **self.inst.sanitizer_env())
        return subprocess.run([program("postdrop")], input=data, capture_output=True, env=env,
                              timeout=30)

    def test_postdrop_reads_sizes_and_pickup_drops_what_cleanup_never_takes(self):
        maildrop = os.path.join(self.inst.queue, "maildrop")
        good = mq1.write("s@example.com", ["info@example.org"], ["Subject: dropped"], b"body\n")
        # the header's content length is a claim: a false one is refused, nothing is left
        for lie in (1, 10**9):
            res = self.postdrop(mq1.write("s@example.com", ["info@example.org"],
                                          ["Subject: lie"], b"body\n", content_len=lie))
            self.assertNotEqual(res.returncode, 0)
            self.assertIn(b"content bytes", res.stderr)
        self.assertEqual(os.listdir(maildrop), [])
        self.assertEqual(self.postdrop(good).returncode, 0)
        self.assertTrue(poll(lambda: len(self.maildir_files("example.org", "info")) == 1,
                             timeout=15), self.inst.log())
        # a file in maildrop/ that cleanup refuses as malformed (written there by someone who
        # went around postdrop) is removed with a warning, not retried every minute
        bad = mq1.write("s\n@example.com", ["info@example.org"], ["Subject: bad"], b"b\n")
        path = os.path.join(maildrop, "BADF11E")
        with open(path, "wb") as fp:
            fp.write(bad)
        os.chmod(path, 0o744)
        wake = socket.socket(socket.AF_UNIX)
        wake.connect(self.inst.unix_path("pickup", private=False))
        wake.sendall(b"W")
        wake.close()
        self.assertTrue(poll(lambda: not os.path.exists(path), timeout=20), self.inst.log())
        self.assertIn("maildrop/BADF11E: message from uid 0 refused as malformed: removed",
                      self.inst.log())
        self.assertEqual(len(self.maildir_files("example.org", "info")), 1)

    def test_extract_recipients_and_drop_bcc(self):
        res = self.sendmail(["-t", "-i"], "From: me@example.com\nTo: info@example.org\n"
                                          "Bcc: Box <box@example.org>\nSubject: t\n\n.\nbody\n")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertTrue(poll(lambda: len(self.maildir_files("example.org", "info")) == 1 and
                             os.path.exists(os.path.join(self.vmail, "example.org", "box")),
                             timeout=15), self.inst.log())
        text = open(self.maildir_files("example.org", "info")[0]).read()
        self.assertNotIn("Bcc:", text)
        self.assertTrue(text.endswith("\n\n.\nbody\n"))  # -i: the dot is text
        self.assertIn("Return-Path: <root@example.org>", text)  # the invoking user
        res = self.sendmail([], "Subject: nobody\n\nx\n")
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("No recipient addresses found", res.stderr)

    def test_refused_local_mail_goes_back_to_its_sender(self):
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("header_checks = inline:{ { Subject: forbidden = REJECT local content "
                     "refused } }\n")
        self.assertTrue(self.inst.reload())
        os.makedirs(os.path.join(self.vmail, "example.org"), exist_ok=True)
        os.chown(os.path.join(self.vmail, "example.org"), self.owner.pw_uid, self.owner.pw_gid)
        res = self.sendmail(["-f", "box@example.org", "info@example.org"],
                            "Subject: forbidden\n\nx\n")
        self.assertEqual(res.returncode, 0, res.stderr)
        mbox = os.path.join(self.vmail, "example.org", "box")
        self.assertTrue(poll(lambda: os.path.exists(mbox) and "local content refused" in
                             open(mbox).read(), timeout=15), self.inst.log())
        notice = open(mbox).read()
        self.assertIn("From MAILER-DAEMON ", notice)
        self.assertIn("Subject: Undelivered Mail Returned to Sender\n", notice)
        self.assertIn("Your message could not be accepted: 5.7.1 local content refused\n", notice)
        self.assertIn("\nSubject: forbidden\n", notice)
        self.assertEqual(os.listdir(os.path.join(self.inst.queue, "maildrop")), [])
        self.assertEqual(self.maildir_files("example.org", "info"), [])
        self.assertRegex(self.inst.log(), r"postfix/cleanup\[\d+\]: [0-9A-F]+: reject: header "
                                          r"Subject: forbidden from local; "
                                          r"from=<box@example\.org> to=<info@example\.org>")

    def test_full_name_in_the_added_from(self):
        res = self.sendmail(["-F", "Jane Q. Doe", "-f", "jane@example.com", "info@example.org"],
                            "Subject: no From here\n\nx\n")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertTrue(poll(lambda: len(self.maildir_files("example.org", "info")) == 1,
                             timeout=15), self.inst.log())
        text = open(self.maildir_files("example.org", "info")[0]).read()
        self.assertIn('\nFrom: "Jane Q. Doe" <jane@example.com>\n', text)

    def test_config_file_option(self):
        # -C with main.cf itself, as some programs call it, and no MAIL_CONFIG
        env = dict(os.environ, **self.inst.sanitizer_env())
        env.pop("MAIL_CONFIG", None)
        res = subprocess.run([program("sendmail"), "-C", os.path.join(self.inst.etc, "main.cf"),
                              "-f", "s@example.com", "info@example.org"],
                             input="Subject: -C\n\nx\n", text=True, capture_output=True,
                             env=env, timeout=30)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertTrue(poll(lambda: len(self.maildir_files("example.org", "info")) == 1,
                             timeout=15), self.inst.log())

    def test_verify_and_verbose_reports(self):
        # -bv: nothing is delivered; the sender gets a report of what would happen
        res = self.sendmail(["-bv", "-f", "info@example.org", "box@example.org",
                             "nobody-here@example.org"], "")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertTrue(poll(lambda: len(self.maildir_files("example.org", "info")) == 1,
                             timeout=15), self.inst.log())
        report = open(self.maildir_files("example.org", "info")[0]).read()
        self.assertIn("Subject: Mail Delivery Status Report\n", report)
        self.assertIn("Final-Recipient: rfc822; box@example.org\nAction: deliverable\n"
                      "Status: 2.0.0\nDiagnostic-Code: X-Postfix; delivers to mailbox\n", report)
        self.assertIn("Final-Recipient: rfc822; nobody-here@example.org\n"
                      "Action: undeliverable\nStatus: 5.1.1\n", report)
        self.assertFalse(os.path.exists(os.path.join(self.vmail, "example.org", "box")))
        self.assertIn("status=deliverable (delivers to mailbox)", self.inst.log())
        self.assertIn("status=undeliverable (unknown user: \"nobody-here@example.org\")",
                      self.inst.log())
        self.assertTrue(poll(self.queue_empty, timeout=10), self.inst.log())
        self.assertNotIn("non-delivery notification", self.inst.log())
        # -v: delivered, and reported
        res = self.sendmail(["-v", "-f", "info@example.org", "box@example.org"],
                            "Subject: v\n\nbody\n")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertTrue(poll(lambda: len(self.maildir_files("example.org", "info")) == 2,
                             timeout=15), self.inst.log())
        self.assertTrue(os.path.exists(os.path.join(self.vmail, "example.org", "box")))
        reports = [open(f).read() for f in self.maildir_files("example.org", "info")]
        self.assertTrue(any("Action: delivered\nStatus: 2.0.0\n" in r for r in reports),
                        reports)

    test_maildir_and_mbox_delivery = None
    test_unknown_user_bounces_and_unreachable_transport_defers = None
    test_crash_left_in_active_is_delivered_after_restart = None
    test_mailbox_size_limit = None
    test_bounce_notice_reaches_the_sender = None
    test_expired_mail_returns_to_sender = None
    test_delay_warning_is_sent_once = None
