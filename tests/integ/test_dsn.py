"""Delivery status notifications as RFC 3461 asks: smtpd takes RET, ENVID, BODY, NOTIFY and
ORCPT (and refuses malformed ones), the smtp client passes them on to a server that offers
DSN; NOTIFY=NEVER silences a bounce, NOTIFY=SUCCESS brings a "Successful Mail Delivery
Report" (delivered here, relayed to a server without DSN), RET=HDRS returns the header
only; notify_classes = bounce sends the postmaster a copy; bounce_template_file changes the
text; sendmail -N, -R and -V do what the ESMTP parameters do."""
import os
import smtplib
import subprocess
import unittest

import test_delivery
from harness import program
from instance import free_port, poll
from smtpsink import Sink


@unittest.skipUnless(os.getuid() == 0, "the delivery agents need root")
class Dsn(test_delivery.Delivery):
    def setUp(self):
        super().setUp()
        self.port = free_port()
        self.dsn_sink = Sink(extensions=["8BITMIME", "DSN"],
                             rcpt_replies={"never@dsn.example": "550 5.1.1 no such user",
                                           "fail@dsn.example": "550 5.1.1 no such user"})
        self.plain_sink = Sink()
        for sink in (self.dsn_sink, self.plain_sink):
            self.addCleanup(sink.close)
        self.inst.write_master(test_delivery.SERVICES +
                               f"127.0.0.1:{self.port} inet n - y - - smtpd\n"
                               "smtp unix - - n - - smtp\n"
                               "pickup unix n - n 60 1 pickup\n")
        template = os.path.join(self.inst.etc, "bounce.cf")
        with open(template, "w") as fp:
            fp.write("# local wording\n"
                     "failure_template = <<EOF\n"
                     "Charset: us-ascii\n"
                     "From: MAILER-DAEMON (Mail Delivery System)\n"
                     "Subject: Undeliverable: returned by $myhostname\n"
                     "Postmaster-Subject: Postmaster Copy: Undelivered Mail\n"
                     "\n"
                     "Sorry: $myhostname could not deliver your mail (lifetime "
                     "${maximal_queue_lifetime_days} days).\n"
                     "EOF\n")
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("transport_maps = inline:{ "
                     f"dsn.example=smtp:[127.0.0.1]:{self.dsn_sink.port}, "
                     f"plain.example=smtp:[127.0.0.1]:{self.plain_sink.port} }}\n"
                     "mynetworks = 127.0.0.0/8\nalias_maps =\n"
                     "notify_classes = resource, software, bounce\n"
                     "bounce_notice_recipient = box@example.org\n"
                     f"bounce_template_file = {template}\n")
        self.assertTrue(self.inst.reload())

    def notices(self):
        files = self.maildir_files("example.net", "catchall")
        return sorted(open(f).read() for f in files)

    def test_parameters_pass_and_notices_follow_notify(self):
        client = smtplib.SMTP("127.0.0.1", self.port, timeout=20)
        client.ehlo("client.example")
        # malformed parameters get the reference's replies
        self.assertEqual(client.docmd("MAIL FROM:<a@example.net> RET=SOME")[0], 501)
        self.assertEqual(client.docmd("MAIL FROM:<a@example.net> SIZE=12x"),
                         (501, b"5.5.4 Bad message size syntax"))
        code, text = client.docmd("MAIL FROM:<a@example.net> FOO=bar")
        self.assertEqual((code, text), (555, b"5.5.4 Unsupported option: FOO"))
        self.assertEqual(client.docmd("MAIL FROM:<sender@example.net> RET=HDRS "
                                      "ENVID=QQ+2B123 BODY=8BITMIME")[0], 250)
        self.assertEqual(client.docmd("RCPT TO:<x@dsn.example> NOTIFY=NEVER,SUCCESS")[0], 501)
        self.assertEqual(client.docmd("RCPT TO:<x@dsn.example> ORCPT=rfc822")[0], 501)
        for rcpt in ("RCPT TO:<info@example.org> NOTIFY=SUCCESS ORCPT=rfc822;Info+40example.org",
                     "RCPT TO:<far@dsn.example> NOTIFY=SUCCESS,FAILURE",
                     "RCPT TO:<never@dsn.example> NOTIFY=NEVER",
                     "RCPT TO:<fail@dsn.example> NOTIFY=FAILURE",
                     "RCPT TO:<far@plain.example> NOTIFY=SUCCESS"):
            self.assertEqual(client.docmd(rcpt)[0], 250, rcpt)
        self.assertEqual(client.docmd("DATA")[0], 354)
        client.send(b"Subject: dsn\r\n\r\ncaf\xc3\xa9\r\n.\r\n")
        self.assertEqual(client.getreply()[0], 250)
        client.quit()
        # one failure notice (NOTIFY=NEVER asked for none) and one success notice
        self.assertTrue(poll(lambda: len(self.notices()) == 2, timeout=30), self.inst.log())
        self.assertTrue(poll(lambda: "sender delivery status notification" in self.inst.log(),
                             timeout=10), self.inst.log())
        failure, success = sorted(self.notices(), key=lambda n: "Successful" in n)
        # the server that offers DSN got every parameter
        cmds = self.dsn_sink.commands
        mail = [c for c in cmds if c.startswith("MAIL")][0]
        self.assertRegex(mail, r"^MAIL FROM:<sender@example.net> SIZE=\d+ BODY=8BITMIME "
                               r"RET=HDRS ENVID=QQ\+2B123$")
        self.assertIn("RCPT TO:<far@dsn.example> NOTIFY=SUCCESS,FAILURE "
                      "ORCPT=rfc822;far@dsn.example", cmds)
        self.assertIn("RCPT TO:<never@dsn.example> NOTIFY=NEVER ORCPT=rfc822;never@dsn.example",
                      cmds)
        # 8-bit content: as it is to the 8BITMIME server, quoted-printable to the other
        [(_, _, raw)] = self.dsn_sink.messages
        self.assertIn(b"\r\n\r\ncaf\xc3\xa9\r\n", raw)
        [(_, _, seven)] = self.plain_sink.messages
        self.assertIn(b"Content-Transfer-Encoding: quoted-printable\r\n", seven)
        self.assertTrue(seven.endswith(b"\r\n\r\ncaf=C3=A9\r\n"), seven)
        self.assertFalse(any(b >= 0x80 for b in seven))
        plain = [c for c in self.plain_sink.commands if c.startswith(("MAIL", "RCPT"))]
        self.assertEqual(plain[1], "RCPT TO:<far@plain.example>")
        self.assertNotIn("ENVID", plain[0])
        # the failure notice: the template's words, RET=HDRS, the remote MTA's reply
        self.assertIn("Subject: Undeliverable: returned by mail.example.org\n", failure)
        self.assertIn("Sorry: mail.example.org could not deliver your mail (lifetime 5 days).",
                      failure)
        self.assertIn("Original-Envelope-Id: QQ+123\n", failure)
        self.assertIn("Final-Recipient: rfc822; fail@dsn.example\nAction: failed\n"
                      "Status: 5.1.1\nRemote-MTA: dns; 127.0.0.1\n"
                      "Diagnostic-Code: smtp; 550 5.1.1 no such user\n", failure)
        self.assertNotIn("never@dsn.example", failure)
        self.assertIn("Content-Type: text/rfc822-headers", failure)
        self.assertNotIn("caf", failure)
        # the success notice: delivered here, relayed to the server without DSN, nothing
        # about the recipient the DSN server now answers for
        self.assertIn("Subject: Successful Mail Delivery Report\n", success)
        self.assertIn("Final-Recipient: rfc822; info@example.org\n"
                      "Original-Recipient: rfc822;Info@example.org\nAction: delivered\n",
                      success)
        self.assertIn("Final-Recipient: rfc822; far@plain.example\nAction: relayed\n", success)
        self.assertNotIn("far@dsn.example", success)
        # notify_classes = bounce: the postmaster's copy, headers only
        mbox = os.path.join(self.vmail, "example.org", "box")
        self.assertTrue(poll(lambda: os.path.exists(mbox) and
                             "Postmaster Copy: Undelivered Mail" in open(mbox).read(),
                             timeout=15), self.inst.log())
        self.assertTrue(poll(self.queue_empty, timeout=15), self.inst.log())

    def test_sendmail_dsn_options(self):
        env = dict(os.environ, MAIL_CONFIG=self.inst.etc, **self.inst.sanitizer_env())
        res = subprocess.run([program("sendmail"), "-f", "sender@example.net", "-N", "success",
                              "-R", "hdrs", "-V", "env-1", "far@dsn.example"],
                             input="Subject: s\n\nbody\n", text=True, capture_output=True,
                             env=env, timeout=30)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertTrue(poll(lambda: any(c.startswith("RCPT") for c in self.dsn_sink.commands),
                             timeout=20), self.inst.log())
        mail = [c for c in self.dsn_sink.commands if c.startswith("MAIL")][0]
        self.assertTrue(mail.endswith(" RET=HDRS ENVID=env-1"), mail)
        self.assertIn("RCPT TO:<far@dsn.example> NOTIFY=SUCCESS ORCPT=rfc822;far@dsn.example",
                      self.dsn_sink.commands)
        bad = subprocess.run([program("sendmail"), "-N", "sometimes", "x@dsn.example"],
                             input="", text=True, capture_output=True, env=env, timeout=30)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("bad -N option value: sometimes", bad.stderr)

    test_maildir_and_mbox_delivery = None
    test_unknown_user_bounces_and_unreachable_transport_defers = None
    test_crash_left_in_active_is_delivered_after_restart = None
    test_mailbox_size_limit = None
    test_bounce_notice_reaches_the_sender = None
    test_expired_mail_returns_to_sender = None
    test_delay_warning_is_sent_once = None
