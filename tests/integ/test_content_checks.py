"""header_checks, mime_header_checks, nested_header_checks and body_checks in cleanup, end to
end: each action as a client and a sysadmin see it (the SMTP reply, the cleanup log line in the
reference's words, where the mail went), regexp, pcre and hash tables, MIME parts, the size
limit, and a table that changes under a running system."""
import os
import pwd
import smtplib
import subprocess
import unittest

from harness import BIN, run
from instance import Instance, free_port, poll

CHECKS = r"""/^Subject: reject-me$/ REJECT
/^Subject: reject-text$/ REJECT Go away now
/^Subject: warn-me$/ WARN watch this
/^Subject: info-me$/ INFO noted
/^Subject: discard-me$/ DISCARD dropped
/^Subject: hold-me$/ HOLD held for review
/^Subject: redirect-me$/ REDIRECT other@example.org
/^Subject: bcc-me$/ BCC other@example.org
/^Subject: prepend-me$/ PREPEND X-Tag: prepended
/^Subject: replace-me$/ REPLACE Subject: replaced
/^Subject: filter-me$/ FILTER discard:filtered.example
/^Subject: defer-me$/ DEFER not a command
/^X-Drop:/ IGNORE
/^X-Dunno:/ DUNNO
"""
BODY = r"""/^reject-body/ REJECT body says no
/^replace-body/ REPLACE replaced body line
/^late-word/ REJECT seen too late
"""
MIME = r"""/^Content-(Type|Disposition):.*name="?[^"]*\.exe"?/ REJECT executable attachments are not accepted
"""
NESTED = r"""/^Subject: nested-bad/ REJECT nested message refused
"""


def services(port):
    return (f"127.0.0.1:{port} inet n - y - - smtpd\n"
            "cleanup unix n - y - 0 cleanup\n"
            "qmgr unix n - n 300 1 qmgr\n"
            "rewrite unix - - y - - trivial-rewrite\n"
            "virtual unix - n n - - virtual\n"
            "discard unix - - y - - discard\n")


@unittest.skipUnless(os.getuid() == 0, "privileged agents and chroot need root")
class ContentChecks(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.inst = Instance(services(self.port))
        self.addCleanup(self.inst.cleanup)
        owner = pwd.getpwnam("nobody")
        self.vmail = os.path.join(self.inst.dir, "vmail")
        os.mkdir(self.vmail)
        os.chown(self.vmail, owner.pw_uid, owner.pw_gid)
        self.tables = {}
        for name, text in (("header_checks", CHECKS), ("body_checks", BODY),
                           ("mime_checks", MIME), ("nested_checks", NESTED)):
            self.tables[name] = os.path.join(self.inst.etc, name)
            with open(self.tables[name], "w") as fp:
                fp.write(text)
        # a hash table too: the whole header line is the key (lower-cased)
        with open(os.path.join(self.inst.etc, "exact"), "w") as fp:
            fp.write("x-flag:block   REJECT matched in a hash table\n")
        res = run(["postmap", os.path.join(self.inst.etc, "exact")])
        self.assertEqual(res.rc, 0, res)
        self.inst.write_main(
            "myhostname = mail.example.org\nmyorigin = example.org\n"
            "mydestination = localhost\nalias_maps =\n"
            "virtual_mailbox_domains = example.org\n"
            f"virtual_mailbox_base = {self.vmail}\n"
            "virtual_mailbox_maps = inline:{ info@example.org=example.org/info/, "
            "other@example.org=example.org/other/ }\n"
            f"virtual_uid_maps = static:{owner.pw_uid}\n"
            f"virtual_gid_maps = static:{owner.pw_gid}\n"
            f"header_checks = regexp:{self.tables['header_checks']}, "
            f"hash:{self.inst.etc}/exact\n"
            f"mime_header_checks = pcre:{self.tables['mime_checks']}\n"
            f"nested_header_checks = regexp:{self.tables['nested_checks']}\n"
            f"body_checks = pcre:{self.tables['body_checks']}\n"
            "body_checks_size_limit = 2000\n")
        self.inst.start()

    def delivered(self, box="info"):
        new = os.path.join(self.vmail, "example.org", box, "new")
        return [open(os.path.join(new, f)).read() for f in sorted(os.listdir(new))] \
            if os.path.isdir(new) else []

    def send(self, subject, body="body\r\n", headers="", rcpt="info@example.org"):
        c = smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.example", timeout=20)
        self.addCleanup(c.close)
        c.ehlo()
        c.mail("a@example.com")
        c.rcpt(rcpt)
        code, text = c.data(f"Subject: {subject}\r\n{headers}\r\n{body}".encode())
        c.quit()
        return code, text.decode()

    def logged(self, action, line, why, kind="header", to="info@example.org"):
        text = (f": {action}: {kind} {line} from localhost[127.0.0.1]; from=<a@example.com> "
                f"to=<{to}> proto=ESMTP helo=<client.example>")
        if why:
            text += f": {why}"
        self.assertTrue(poll(lambda: text + "\n" in self.inst.log()), self.inst.log())

    def queue_empty(self):
        return not any(files for d in ("incoming", "active", "deferred")
                       for _, _, files in os.walk(os.path.join(self.inst.queue, d)))

    def test_reject_with_and_without_text(self):
        self.assertEqual(self.send("reject-me"), (550, "5.7.1 message content rejected"))
        self.logged("reject", "Subject: reject-me", "5.7.1 message content rejected")
        self.assertEqual(self.send("reject-text"), (550, "5.7.1 Go away now"))
        self.assertEqual(self.send("flagged", headers="X-Flag:block\r\n"),
                         (550, "5.7.1 matched in a hash table"))
        self.assertEqual(self.send("fine", body="reject-body here\r\n"),
                         (550, "5.7.1 body says no"))
        self.logged("reject", "reject-body here", "5.7.1 body says no", kind="body")
        self.assertTrue(poll(self.queue_empty))
        self.assertEqual(self.delivered(), [])

    def test_logging_actions_and_header_edits(self):
        for subject in ("warn-me", "info-me", "prepend-me", "replace-me", "defer-me"):
            self.assertEqual(self.send(subject, headers="X-Drop: yes\r\nX-Dunno: kept\r\n")[0],
                             250)
        self.assertTrue(poll(lambda: len(self.delivered()) == 5, timeout=20), self.inst.log())
        self.logged("warning", "Subject: warn-me", "watch this")
        self.logged("info", "Subject: info-me", "noted")
        self.logged("prepend", "Subject: prepend-me", "X-Tag: prepended")
        self.logged("replace", "Subject: replace-me", "Subject: replaced")
        self.assertIn("warning: unknown command in header_checks map: DEFER not a command",
                      self.inst.log())
        texts = self.delivered()
        self.assertTrue(all("X-Drop:" not in t and "X-Dunno: kept\n" in t for t in texts))
        self.assertTrue(any("\nX-Tag: prepended\nSubject: prepend-me\n" in t for t in texts))
        self.assertTrue(any("\nSubject: replaced\n" in t for t in texts))
        self.assertFalse(any("Subject: replace-me" in t for t in texts))

    def test_discard_and_hold(self):
        code, text = self.send("discard-me")
        self.assertEqual(code, 250)
        self.logged("discard", "Subject: discard-me", "dropped")
        code, text = self.send("hold-me")
        self.assertEqual(code, 250)
        qid = text.split()[-1]
        self.logged("hold", "Subject: hold-me", "held for review")
        held = os.path.join(self.inst.queue, "hold", qid)
        self.assertTrue(poll(lambda: os.path.exists(held)))
        self.assertTrue(self.queue_empty())
        self.assertEqual(self.delivered(), [])
        # released by the sysadmin (and the queue flushed): delivered
        res = run(["postsuper", "-c", self.inst.etc, "-H", qid])
        self.assertEqual(res.rc, 0, res)
        res = run(["postqueue", "-c", self.inst.etc, "-f"])
        self.assertEqual(res.rc, 0, res)
        self.assertTrue(poll(lambda: len(self.delivered()) == 1, timeout=20), self.inst.log())
        self.assertIn("Subject: hold-me", self.delivered()[0])

    def test_redirect_bcc_and_filter(self):
        self.assertEqual(self.send("redirect-me")[0], 250)
        self.logged("redirect", "Subject: redirect-me", "other@example.org")
        self.assertTrue(poll(lambda: len(self.delivered("other")) == 1, timeout=20),
                        self.inst.log())
        self.assertRegex(self.inst.log(), r"to=<other@example\.org>, orig_to=<info@example\.org>, "
                                          r"relay=virtual")
        self.assertEqual(self.send("bcc-me")[0], 250)
        self.logged("bcc", "Subject: bcc-me", "other@example.org")
        self.assertTrue(poll(lambda: len(self.delivered("other")) == 2 and
                             len(self.delivered()) == 1, timeout=20), self.inst.log())
        code, text = self.send("filter-me")
        self.assertEqual(code, 250)
        qid = text.split()[-1]
        self.logged("filter", "Subject: filter-me", "discard:filtered.example")
        self.assertTrue(poll(lambda: f"{qid}: to=<info@example.org>, relay=none" in
                             self.inst.log(), timeout=20), self.inst.log())
        self.assertIn("status=sent (filtered.example)", self.inst.log())
        self.assertEqual(len(self.delivered()), 1)  # only the BCC test's copy

    def test_mime_parts_nested_messages_and_the_size_limit(self):
        attachment = ("MIME-Version: 1.0\r\n"
                      'Content-Type: multipart/mixed; boundary="b1"\r\n')
        body = ("--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
                "--b1\r\nContent-Type: application/octet-stream; name=\"run.exe\"\r\n\r\n"
                "AAAA\r\n--b1--\r\n")
        self.assertEqual(self.send("with attachment", body=body, headers=attachment),
                         (550, "5.7.1 executable attachments are not accepted"))
        self.logged("reject", 'Content-Type: application/octet-stream; name="run.exe"',
                    "5.7.1 executable attachments are not accepted")
        nested = ("--b1\r\nContent-Type: message/rfc822\r\n\r\n"
                  "Subject: nested-bad one\r\nFrom: x@example.net\r\n\r\ninner\r\n--b1--\r\n")
        self.assertEqual(self.send("forward", body=nested, headers=attachment),
                         (550, "5.7.1 nested message refused"))
        # the primary Subject is not a nested header: not refused
        self.assertEqual(self.send("nested-bad top")[0], 250)
        # body lines inside a part are body lines; past the size limit they are not looked at
        inside = "--b1\r\nContent-Type: text/plain\r\n\r\nreject-body in a part\r\n--b1--\r\n"
        self.assertEqual(self.send("part", body=inside, headers=attachment),
                         (550, "5.7.1 body says no"))
        late = "filler line\r\n" * 200 + "late-word\r\n"
        self.assertEqual(self.send("long", body=late)[0], 250)
        self.assertTrue(poll(lambda: len(self.delivered()) == 2, timeout=20), self.inst.log())

    def test_bcc_headers_are_dropped(self):
        self.assertEqual(self.send("plain", headers="Bcc: secret@example.net\r\n"
                                   "Resent-Bcc: other@example.net\r\nX-Keep: 1\r\n")[0], 250)
        self.assertTrue(poll(lambda: len(self.delivered()) == 1, timeout=20))
        text = self.delivered()[0]
        self.assertNotIn("secret@example.net", text)
        self.assertNotIn("Resent-Bcc", text)
        self.assertIn("\nX-Keep: 1\n", text)

    def test_a_changed_table_is_read_again(self):
        self.assertEqual(self.send("new-rule")[0], 250)
        with open(self.tables["header_checks"], "a") as fp:
            fp.write("/^Subject: new-rule$/ REJECT added later\n")
        self.assertTrue(poll(lambda: self.send("new-rule") == (550, "5.7.1 added later"),
                             timeout=20, interval=0.5), self.inst.log())


@unittest.skipUnless(os.getuid() == 0, "privileged agents and chroot need root")
class ContentFilter(unittest.TestCase):
    """content_filter, as an after-queue filter is set up: the port-25 smtpd (and pickup,
    through main.cf) hand every message to the filter's transport; the filter sends it back
    to a second smtpd with "-o content_filter=", from where it is delivered."""

    def setUp(self):
        from smtpsink import Sink
        self.port, self.back = free_port(), free_port()
        self.filter = Sink(port=free_port())
        self.addCleanup(self.filter.close)
        self.inst = Instance(services(self.port) +
                             f"127.0.0.1:{self.back} inet n - y - - smtpd\n"
                             "  -o content_filter=\n"
                             "scan unix - - y - - smtp\n"
                             "pickup unix n - y 60 1 pickup\n")
        self.addCleanup(self.inst.cleanup)
        owner = pwd.getpwnam("nobody")
        self.vmail = os.path.join(self.inst.dir, "vmail")
        os.mkdir(self.vmail)
        os.chown(self.vmail, owner.pw_uid, owner.pw_gid)
        self.inst.write_main(
            "myhostname = mail.example.org\nmyorigin = example.org\n"
            "mydestination = localhost\nalias_maps =\nmynetworks = 127.0.0.0/8\n"
            "virtual_mailbox_domains = example.org\n"
            f"virtual_mailbox_base = {self.vmail}\n"
            "virtual_mailbox_maps = inline:{ info@example.org=example.org/info/ }\n"
            f"virtual_uid_maps = static:{owner.pw_uid}\n"
            f"virtual_gid_maps = static:{owner.pw_gid}\n"
            f"content_filter = scan:[127.0.0.1]:{self.filter.port}\n")
        self.inst.start()

    def delivered(self):
        new = os.path.join(self.vmail, "example.org", "info", "new")
        return [open(os.path.join(new, f)).read() for f in sorted(os.listdir(new))] \
            if os.path.isdir(new) else []

    def test_mail_goes_through_the_filter_and_back(self):
        c = smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.example", timeout=20)
        self.assertEqual(c.sendmail("a@example.com", ["info@example.org"],
                                    b"Subject: via-smtp\r\n\r\nbody\r\n"), {})
        c.quit()
        res = run(["sendmail", "-C", self.inst.etc, "-f", "b@example.com", "info@example.org"],
                  stdin="Subject: via-sendmail\n\nbody\n")
        self.assertEqual(res.rc, 0, res)
        self.assertTrue(poll(lambda: len(self.filter.messages) == 2, timeout=20),
                        self.inst.log())
        self.assertEqual(self.delivered(), [])  # nothing passed the filter by
        self.assertRegex(self.inst.log(), r"to=<info@example\.org>, relay=127\.0\.0\.1\["
                                          f"127\\.0\\.0\\.1\\]:{self.filter.port}, .*status=sent")
        # the filter gives each message back on the port without content_filter
        for sender, rcpts, data in self.filter.messages:
            back = smtplib.SMTP("127.0.0.1", self.back, local_hostname="filter", timeout=20)
            self.assertEqual(back.sendmail(sender, rcpts, data), {})
            back.quit()
        self.assertTrue(poll(lambda: len(self.delivered()) == 2, timeout=20), self.inst.log())
        subjects = sorted(m.split("Subject: ")[1].split("\n")[0] for m in self.delivered())
        self.assertEqual(subjects, ["via-sendmail", "via-smtp"])
        self.assertEqual(len(self.filter.messages), 2)  # not filtered a second time


@unittest.skipUnless(os.getuid() == 0, "privileged agents and chroot need root")
class Characters(ContentChecks):
    """message_reject_characters and message_strip_characters, with their C escapes."""

    def setUp(self):
        super().setUp()
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("message_reject_characters = ~\\0\nmessage_strip_characters = ^\\t\n")
        self.assertTrue(self.inst.reload())

    def test_characters_rejected_and_stripped(self):
        self.assertEqual(self.send("a~b"), (550, "5.7.1 disallowed character"))
        self.assertEqual(self.send("nul", body="hel\0lo\r\n"), (550, "5.7.1 disallowed character"))
        self.assertEqual(self.send("strip^me", body="he^l\tlo\r\n")[0], 250)
        self.assertTrue(poll(lambda: len(self.delivered()) == 1, timeout=15), self.inst.log())
        self.assertIn("Subject: stripme\n", self.delivered()[0])
        self.assertTrue(self.delivered()[0].endswith("\nhello\n"), self.delivered()[0])
        log = self.inst.log()
        self.assertRegex(log, r": reject: content Subject: a~b from localhost\[127\.0\.0\.1\]; "
                              r"from=<a@example\.com> to=<info@example\.org> proto=ESMTP "
                              r"helo=<client\.example>: 5\.7\.1 disallowed character")
        self.assertRegex(log, r": reject: content hel from localhost\[127\.0\.0\.1\]; ")

    for name in [n for n in dir(ContentChecks) if n.startswith("test_")]:
        locals()[name] = None
    del name
