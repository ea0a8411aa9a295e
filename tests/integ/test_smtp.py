"""Mail in, end to end: an SMTP client on loopback talks to smtpd (chrooted, as
mail_owner), the message goes through cleanup, qmgr, trivial-rewrite and virtual into a
Maildir. Replies are checked code for code against the reference's texts."""
import os
import pwd
import smtplib
import socket
import time
import unittest

from instance import Instance, free_port, poll


def services(port):
    return (f"127.0.0.1:{port} inet n - y - - smtpd\n"
            "cleanup unix n - y - 0 cleanup\n"
            "qmgr unix n - n 300 1 qmgr\n"
            "rewrite unix - - y - - trivial-rewrite\n"
            "virtual unix - n n - - virtual\n")


@unittest.skipUnless(os.getuid() == 0, "privileged agents and chroot need root")
class Smtp(unittest.TestCase):
    extra = ""

    def setUp(self):
        self.port = free_port()
        self.inst = Instance(services(self.port))
        self.addCleanup(self.inst.cleanup)
        self.owner = pwd.getpwnam("nobody")
        self.vmail = os.path.join(self.inst.dir, "vmail")
        os.mkdir(self.vmail)
        os.chown(self.vmail, self.owner.pw_uid, self.owner.pw_gid)
        self.inst.write_main(
            "myhostname = mail.example.org\nmyorigin = example.org\n"
            "mydestination = localhost\nalias_maps =\n"
            "mynetworks = 127.0.0.0/8\n"
            "virtual_mailbox_domains = example.org\n"
            f"virtual_mailbox_base = {self.vmail}\n"
            "virtual_mailbox_maps = inline:{ info@example.org=example.org/info/ }\n"
            "virtual_alias_maps = inline:{ alias@example.org=info@example.org }\n"
            f"virtual_uid_maps = static:{self.owner.pw_uid}\n"
            f"virtual_gid_maps = static:{self.owner.pw_gid}\n" + self.extra)
        self.inst.start()

    def smtp(self):
        client = smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.example",
                              timeout=20)
        self.addCleanup(client.close)
        return client

    def delivered(self):
        new = os.path.join(self.vmail, "example.org", "info", "new")
        return [open(os.path.join(new, f)).read() for f in os.listdir(new)] \
            if os.path.isdir(new) else []

    def raw(self, data, wait_for=b"\r\n", timeout=10):
        """EHLO, then data sent at once (pipelined, as EHLO allows); the replies to data."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        self.addCleanup(s.close)
        out = b""
        while not out.endswith(b"\r\n"):
            out += s.recv(1024)
        self.assertTrue(out.startswith(b"220 mail.example.org ESMTP Postern"), out)
        s.sendall(b"EHLO client.example\r\n")
        out = b""
        while not out.endswith(b"CHUNKING\r\n"):
            out += s.recv(4096)
        s.sendall(data)
        out = b""
        deadline = time.monotonic() + timeout
        while not out.endswith(wait_for) and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out.decode()


class Delivery(Smtp):
    def test_message_reaches_the_maildir(self):
        c = self.smtp()
        code, text = c.ehlo()
        self.assertEqual(code, 250)
        self.assertEqual(text.decode().split("\n"),
                         ["mail.example.org", "PIPELINING", "SIZE 10240000", "VRFY", "ETRN",
                          "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"])
        self.assertEqual(c.mail("sender@example.com"), (250, b"2.1.0 Ok"))
        self.assertEqual(c.rcpt("alias@example.org"), (250, b"2.1.5 Ok"))
        code, text = c.data(b"Subject: hello\r\n\r\nFirst line.\r\n.dot line\r\n")
        self.assertEqual(code, 250)
        self.assertRegex(text.decode(), r"^2\.0\.0 Ok: queued as [0-9A-F]+$")
        qid = text.decode().split()[-1]
        self.assertEqual(c.quit()[0], 221)
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=15),
                        self.inst.log())
        [msg] = self.delivered()
        # X-Original-To: the recipient as it arrived, before virtual alias expansion
        self.assertTrue(msg.startswith("Return-Path: <sender@example.com>\n"
                                       "X-Original-To: alias@example.org\n"
                                       "Delivered-To: info@example.org\n"
                                       "Received: from client.example (localhost [127.0.0.1])\n"
                                       "\tby mail.example.org (Postern) with ESMTP id " + qid +
                                       "\n\tfor <alias@example.org>; "), msg)
        self.assertIn("\nSubject: hello\n", msg)
        self.assertTrue(msg.endswith("\n\nFirst line.\n.dot line\n"), msg)
        log = self.inst.log()
        self.assertIn("postfix/smtpd[", log)
        self.assertIn("connect from localhost[127.0.0.1]", log)
        self.assertIn(f"{qid}: client=localhost[127.0.0.1]", log)
        self.assertIn(f"{qid}: to=<info@example.org>, orig_to=<alias@example.org>, "
                      "relay=virtual", log)
        self.assertIn("disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 "
                      "commands=5", log)

    def test_bdat(self):
        body = b"Subject: chunks\r\n\r\nPart one.\r\nPart two.\r\n"
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.addCleanup(s.close)
        s.recv(1024)
        s.sendall(b"EHLO client.example\r\n")
        while not s.recv(4096).endswith(b"CHUNKING\r\n"):
            pass
        s.sendall(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<info@example.org>\r\n")
        replies = b""
        while replies.count(b"\r\n") < 2:
            replies += s.recv(4096)
        s.sendall(b"BDAT 20\r\n" + body[:20])
        self.assertEqual(s.recv(4096), b"250 2.0.0 Ok: 20 bytes\r\n")
        s.sendall(b"BDAT %d LAST\r\n" % (len(body) - 20) + body[20:])
        reply = s.recv(4096).decode()
        self.assertRegex(reply, r"^250 2\.0\.0 Ok: queued as [0-9A-F]+\r\n$")
        self.assertTrue(poll(lambda: len(self.delivered()) == 1, timeout=15))
        self.assertTrue(self.delivered()[0].endswith("\n\nPart one.\nPart two.\n"))


    def test_bdat_arithmetic_and_mixing(self):
        # the reference's replies: a count that is not plain digits, or does not fit, is a
        # 521 and the end (the chunk cannot be found); DATA or RCPT in the middle of a BDAT
        # message are refused, NOOP is not; a chunk larger than the size limit is read,
        # dropped, and the message refused at its end
        for count in (b"18446744073709551616", b"+5", b"-5", b"abc", b"5 LAST junk"):
            out = self.raw(b"BDAT " + count + b"\r\n", wait_for=b"\r\n")
            self.assertEqual(out, "521 5.5.4 Syntax: BDAT count [LAST]\r\n", count)
        out = self.raw(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<info@example.org>\r\n"
                       b"BDAT 5\r\n12345NOOP\r\nDATA\r\nRCPT TO:<info@example.org>\r\n"
                       b"BDAT 3 LAST\r\nabcQUIT\r\n", wait_for=b"221 2.0.0 Bye\r\n")
        self.assertEqual(out.splitlines()[2:6], ["250 2.0.0 Ok: 5 bytes", "250 2.0.0 Ok",
                                                 "503 5.5.1 Error: DATA after BDAT",
                                                 "503 5.5.1 Error: RCPT after BDAT"])
        self.assertRegex(out.splitlines()[6], r"^250 2\.0\.0 Ok: queued as ")
        big = 10240000 * 2 + 100
        s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        self.addCleanup(s.close)
        s.recv(1024)
        s.sendall(b"EHLO c.example\r\n")
        reply = b""
        while not reply.endswith(b"CHUNKING\r\n"):
            reply += s.recv(4096)
        s.sendall(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<info@example.org>\r\n"
                  b"BDAT %d LAST\r\n" % big)
        s.sendall(b"x" * big)
        reply = b""
        while not reply.endswith(b"\r\n") or b"552" not in reply:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
        self.assertIn(b"552 5.3.4 Error: message file too big\r\n", reply)


class Relocated(Smtp):
    extra = "relocated_maps = inline:{ moved@example.org=new@example.net }\n"

    def test_rcpt_to_a_relocated_user_is_refused_with_the_new_address(self):
        c = self.smtp()
        c.ehlo()
        c.mail("a@example.com")
        self.assertEqual(c.rcpt("moved@example.org"),
                         (550, b"5.1.6 <moved@example.org>: Recipient address rejected: "
                               b"User has moved to new@example.net"))
        self.assertEqual(c.rcpt("info@example.org")[0], 250)


class QueueSpace(Smtp):
    # more than any test machine has free: every MAIL is refused for want of space
    extra = "queue_minfree = 1000000000000000\n"

    def test_mail_is_refused_when_the_queue_has_no_room(self):
        c = self.smtp()
        c.ehlo()
        self.assertEqual(c.mail("a@example.com"), (452, b"4.3.1 Insufficient system storage"))
        self.assertIn("NOQUEUE: reject: MAIL from localhost[127.0.0.1]: 452 4.3.1 Insufficient "
                      "system storage; from=<a@example.com> proto=ESMTP helo=<client.example>",
                      self.inst.log())
        self.assertIn("warning: not enough free space in mail queue: ", self.inst.log())
        c.quit()
        # room again (postconf -e, reload): the next MAIL is accepted
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("queue_minfree = 0\n")
        self.assertTrue(self.inst.reload())
        c = self.smtp()
        c.ehlo()
        self.assertEqual(c.mail("a@example.com")[0], 250)


class HeaderLimit(Smtp):
    extra = "header_size_limit = 1000\n"

    def test_a_long_header_is_cut_and_the_message_kept(self):
        long = "X-Long: " + " ".join("word%03d" % i for i in range(300))
        c = self.smtp()
        c.sendmail("a@example.com", ["info@example.org"],
                   f"Subject: t\r\n{long}\r\nX-After: kept\r\n\r\nbody\r\n")
        self.assertTrue(poll(lambda: self.delivered(), timeout=15), self.inst.log())
        text = self.delivered()[0]
        # the first header_size_limit bytes of the header stay, the headers after it too
        self.assertIn("\n" + long[:1000] + "\nX-After: kept\n", text)
        self.assertIn("header X-Long longer than header_size_limit (1000 bytes): truncated",
                      self.inst.log())


class Replies(Smtp):
    extra = "message_size_limit = 4000\nsmtpd_recipient_limit = 2\n"

    def test_sequence_and_syntax_errors(self):
        out = self.raw(b"DATA\r\nRCPT TO:<info@example.org>\r\n"
                       b"MAIL FROM:<a@example.com>\r\nMAIL FROM:<b@example.com>\r\n"
                       b"FOO\r\nMAIL FROM:bad\r\nRCPT TO:<>\r\nRCPT TO:nobracket\r\n"
                       b"DATA\r\nVRFY x\r\nNOOP\r\nRSET\r\nQUIT\r\n", wait_for=b"221 2.0.0 Bye\r\n")
        lines = [l for l in out.split("\r\n") if l and not l.startswith("250-")]
        self.assertEqual(lines, [
            "503 5.5.1 Error: need RCPT command",
            "503 5.5.1 Error: need MAIL command",
            "250 2.1.0 Ok",
            "503 5.5.1 Error: nested MAIL command",
            "500 5.5.2 Error: command not recognized",
            "503 5.5.1 Error: nested MAIL command",
            "501 5.1.3 Bad recipient address syntax",
            "501 5.5.4 Syntax: RCPT TO:<address>",
            "554 5.5.1 Error: no valid recipients",
            "252 2.0.0 x",
            "250 2.0.0 Ok",
            "250 2.0.0 Ok",
            "221 2.0.0 Bye"])

    def test_random_esmtp_parameters(self):
        # MAIL and RCPT parameters made of random pieces: every one gets a reply of the
        # expected kinds, and the session stays usable (smtpd never drops on bad bytes)
        import random
        rnd = random.Random(7)
        pieces = ["SIZE=", "BODY=", "RET=", "ENVID=", "NOTIFY=", "ORCPT=", "AUTH=", "SMTPUTF8",
                  "8BITMIME", "FULL", "HDRS", "NEVER", "SUCCESS", ",", ";", "+", "+4", "+41",
                  "rfc822", "x", "=", "123", "\x7f", " ", "  "]
        for session in range(12):
            c = self.smtp()
            c.ehlo("client.example")
            for _ in range(8):
                params = "".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 6)))
                code, _ = c.docmd(f"MAIL FROM:<s@example.com> {params}")
                self.assertIn(code, (250, 501, 552, 555), params)
                if code == 250:
                    params = "".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 6)))
                    code, _ = c.docmd(f"RCPT TO:<info@example.org> {params}")
                    self.assertIn(code, (250, 501, 555), params)
                    self.assertEqual(c.docmd("RSET")[0], 250)
            self.assertEqual(c.noop()[0], 250)
            c.quit()
        self.assertEqual(self.inst.sanitizer_reports(), [])

    def test_recipient_checks(self):
        c = self.smtp()
        c.ehlo()
        c.mail("a@example.com")
        self.assertEqual(c.rcpt("nobody@example.org"),
                         (550, b"5.1.1 <nobody@example.org>: Recipient address rejected: "
                               b"User unknown in virtual mailbox table"))
        self.assertEqual(c.rcpt("info@example.org")[0], 250)
        self.assertEqual(c.rcpt("alias@example.org")[0], 250)
        self.assertEqual(c.rcpt("info@example.org"), (452, b"4.5.3 Error: too many recipients"))
        self.assertIn("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 550 5.1.1 "
                      "<nobody@example.org>: Recipient address rejected: User unknown in virtual "
                      "mailbox table; from=<a@example.com> to=<nobody@example.org> proto=ESMTP "
                      "helo=<client.example>", self.inst.log())
        c.rset()
        self.assertEqual(c.mail("a@example.com", ["SIZE=5000"]),
                         (552, b"5.3.4 Message size exceeds fixed limit"))
        c.mail("a@example.com")
        c.rcpt("info@example.org")
        self.assertEqual(c.data(b"Subject: big\r\n\r\n" + b"x" * 5000 + b"\r\n"),
                         (552, b"5.3.4 Error: message file too big"))
        c.mail("a@example.com")
        self.assertEqual(c.rcpt("nobody@example.org")[0], 550)
        self.assertEqual(c.docmd("DATA"), (554, b"5.5.1 Error: no valid recipients"))

    def test_relay_is_denied_outside_mynetworks(self):
        self.inst.write_main(open(os.path.join(self.inst.etc, "main.cf")).read()
                             .replace("mynetworks = 127.0.0.0/8", "mynetworks = 192.0.2.0/24"))
        c = self.smtp()
        c.ehlo()
        c.mail("a@example.com")
        self.assertEqual(c.rcpt("someone@remote.example"),
                         (454, b"4.7.1 <someone@remote.example>: Relay access denied"))
        self.assertEqual(c.rcpt("info@example.org")[0], 250)

    def test_smuggling_and_pipelining(self):
        # <LF>.<LF> does not end DATA: the "smuggled" command stays message text
        out = self.raw(b"MAIL FROM:<a@example.com>\r\n"
                       b"RCPT TO:<info@example.org>\r\nDATA\r\n", wait_for=b"354 End data with "
                       b"<CR><LF>.<CR><LF>\r\n")
        self.assertIn("354 End data", out)
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.addCleanup(s.close)
        s.recv(1024)
        s.sendall(b"HELO client.example\r\nMAIL FROM:<a@example.com>\r\n")
        reply = b""
        while b"554" not in reply:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
        self.assertIn(b"554 5.5.0 Error: SMTP protocol synchronization", reply)
        c = self.smtp()
        c.ehlo()
        c.mail("a@example.com")
        c.rcpt("info@example.org")
        code, text = c.data(b"Subject: s\r\n\r\nbefore\n.\nMAIL FROM:<evil@example.com>\r\n")
        self.assertEqual(code, 250)
        self.assertTrue(poll(lambda: len(self.delivered()) == 1, timeout=15))
        self.assertIn("before\n.\nMAIL FROM:<evil@example.com>\n", self.delivered()[0])


class DiscardedKeywords(Smtp):
    extra = "smtpd_discard_ehlo_keywords = dsn, chunking, etrn\n"

    def test_ehlo_hides_discarded_keywords(self):
        code, text = self.smtp().ehlo()
        self.assertEqual(code, 250)
        self.assertEqual(text.decode().split("\n"),
                         ["mail.example.org", "PIPELINING", "SIZE 10240000", "VRFY",
                          "ENHANCEDSTATUSCODES", "8BITMIME", "SMTPUTF8"])


class Transcripts(Smtp):
    extra = ("notify_classes = resource, software, protocol\n"
             "error_notice_recipient = info@example.org\n")

    def test_protocol_errors_reach_the_postmaster(self):
        self.raw(b"FOO bar\r\nMAIL FROM:bad\r\nQUIT\r\n", wait_for=b"221 2.0.0 Bye\r\n")
        self.assertTrue(poll(lambda: len(self.delivered()) == 1, timeout=15), self.inst.log())
        [notice] = self.delivered()
        self.assertIn("Subject: Postern SMTP server: errors from localhost[127.0.0.1]\n", notice)
        self.assertIn("Return-Path: <double-bounce@example.org>", notice)
        self.assertIn("Transcript of session follows.\n\n"
                      " Out: 220 mail.example.org ESMTP Postern\n"
                      " In:  EHLO client.example\n", notice)
        self.assertIn(" In:  FOO bar\n Out: 500 5.5.2 Error: command not recognized\n"
                      " In:  MAIL FROM:bad\n Out: 501 5.5.4 Syntax: MAIL FROM:<address>\n"
                      " In:  QUIT\n Out: 221 2.0.0 Bye\n", notice)
        # a session without errors of those classes tells nobody
        c = self.smtp()
        c.ehlo()
        c.quit()
        # (the notice goes to cleanup before the disconnect line is logged)
        self.assertTrue(poll(lambda: self.inst.log().count("disconnect from") == 2, timeout=10))
        self.assertEqual(self.inst.log().count("message-id="), 1, self.inst.log())


class TableChanges(Smtp):
    def test_postmap_reaches_running_smtpd(self):
        from harness import run
        table = os.path.join(self.inst.etc, "vmailbox")
        with open(table, "w") as fp:
            fp.write("info@example.org example.org/info/\n")
        self.assertEqual(run(["postmap", table]).rc, 0)
        main_cf = os.path.join(self.inst.etc, "main.cf")
        text = open(main_cf).read().replace(
            "virtual_mailbox_maps = inline:{ info@example.org=example.org/info/ }",
            f"virtual_mailbox_maps = hash:{table}")
        self.inst.write_main(text[text.index("myhostname"):])
        self.assertTrue(self.inst.reload())
        c = self.smtp()
        c.ehlo()
        c.mail("a@example.com")
        self.assertEqual(c.rcpt("new@example.org")[0], 550)
        c.quit()
        with open(table, "a") as fp:
            fp.write("new@example.org example.org/new/\n")
        self.assertEqual(run(["postmap", table]).rc, 0)
        # no reload: the smtpd that used the old table retires after its session
        def accepted():
            try:
                c = self.smtp()
                c.ehlo()
                c.mail("a@example.com")
                code = c.rcpt("new@example.org")[0]
                c.quit()
            except (OSError, smtplib.SMTPException):
                return False
            return code == 250
        self.assertTrue(poll(accepted, timeout=10), self.inst.log() + self.inst.diagnose())


class Swaks(Smtp):
    def test_swaks_delivers(self):
        import shutil
        import subprocess
        if shutil.which("swaks") is None:
            self.skipTest("swaks is not installed")
        res = subprocess.run(["swaks", "--server", f"127.0.0.1:{self.port}", "--from",
                              "s@example.com", "--to", "info@example.org", "--helo",
                              "client.example", "--header", "Subject: via-swaks",
                              "--pipeline"], capture_output=True, text=True, timeout=60)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertRegex(res.stdout, r"<-  250 2\.0\.0 Ok: queued as [0-9A-F]+")
        self.assertTrue(poll(lambda: any("Subject: via-swaks" in m for m in self.delivered()),
                             timeout=15))
