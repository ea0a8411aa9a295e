"""The pipeline after smtpd: a message handed to cleanup is picked up by qmgr, resolved by
trivial-rewrite and written by virtual into a Maildir or mbox owned by the mailbox's uid;
unknown mailboxes bounce, unreachable transports defer, and the queue is left clean."""
import os
import time
import pwd
import re
import socket
import unittest

from harness import BIN, run
from attr import frame, get, read_frame
from instance import Instance, poll
from test_cleanup import rcpt, record

SERVICES = ("cleanup unix n - n - 0 cleanup\n"
            "bounce unix - - n - 0 bounce\n"
            "qmgr unix n - n 300 1 qmgr\n"
            "rewrite unix - - n - - trivial-rewrite\n"
            "virtual unix - n n - - virtual\n")


@unittest.skipUnless(os.getuid() == 0, "the virtual agent needs root")
class Delivery(unittest.TestCase):
    def setUp(self):
        self.owner = pwd.getpwnam("nobody")
        self.inst = Instance(SERVICES, "")
        self.addCleanup(self.inst.cleanup)
        self.vmail = os.path.join(self.inst.dir, "vmail")
        os.mkdir(self.vmail)
        os.chown(self.vmail, self.owner.pw_uid, self.owner.pw_gid)
        self.inst.write_main(
            "myhostname = mail.example.org\nmyorigin = example.org\n"
            "mydestination = localhost\n"
            "virtual_mailbox_domains = example.org\n"
            f"virtual_mailbox_base = {self.vmail}\n"
            "virtual_mailbox_maps = inline:{ info@example.org=example.org/info/, "
            "box@example.org=example.org/box, @example.net=example.net/catchall/ }\n"
            "virtual_mailbox_domains = example.org, example.net\n"
            f"virtual_uid_maps = static:{self.owner.pw_uid}\n"
            f"virtual_gid_maps = static:{self.owner.pw_gid}\n"
            "virtual_alias_maps = inline:{ alias@example.org=info@example.org }\n")
        self.inst.start()

    def submit(self, sender, recipients, body="Hello.\n", headers=("Subject: test",), notify=0,
               attrs=()):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(self.inst.unix_path("cleanup", private=False))
        read_frame(s)
        s.sendall(frame([("req", "open"), ("flags", 0)]))
        qid = get(read_frame(s), "queue_id")
        data = record("A", "rewrite_context=local")
        for a in attrs:
            data += record("A", a)
        data += record("S", sender)
        for r in recipients:
            data += rcpt(r, notify=notify)
        data += record("M")
        for h in headers:
            data += record("H", h)
        data += record("B", body) + record(".")
        s.sendall(data)
        self.assertEqual(get(read_frame(s), "status"), 0)
        s.close()
        return qid

    def maildir_files(self, *parts):
        new = os.path.join(self.vmail, *parts, "new")
        return [os.path.join(new, f) for f in os.listdir(new)] if os.path.isdir(new) else []

    def queue_empty(self):
        for sub in ("incoming", "active", "deferred"):
            for _, _, files in os.walk(os.path.join(self.inst.queue, sub)):
                if files:
                    return False
        return True

    def test_maildir_and_mbox_delivery(self):
        qid = self.submit("sender@example.com", ["info@example.org", "alias@example.org",
                                                 "box@example.org", "who@example.net"])
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=15),
                        self.inst.log())
        files = self.maildir_files("example.org", "info")
        self.assertEqual(len(files), 1)  # alias@ expanded to info@: duplicates removed
        st = os.stat(files[0])
        self.assertEqual((st.st_uid, st.st_gid), (self.owner.pw_uid, self.owner.pw_gid))
        text = open(files[0]).read()
        self.assertTrue(text.startswith("Return-Path: <sender@example.com>\n"
                                        "X-Original-To: info@example.org\n"
                                        "Delivered-To: info@example.org\n"), text)
        self.assertIn("\nSubject: test\n", text)
        self.assertIn(f"Message-Id: <", text)
        self.assertTrue(text.endswith("\n\nHello.\n"))
        self.assertEqual(os.listdir(os.path.join(self.vmail, "example.org", "info", "tmp")), [])
        mbox = open(os.path.join(self.vmail, "example.org", "box")).read()
        self.assertTrue(mbox.startswith("From sender@example.com "), mbox)
        self.assertEqual(len(self.maildir_files("example.net", "catchall")), 1)
        log = self.inst.log()
        self.assertIn(f"{qid}: from=<sender@example.com>, size=", log)
        self.assertIn("nrcpt=3 (queue active)", log)
        self.assertRegex(log, qid + r": to=<info@example\.org>, relay=virtual, delay=[0-9.]+, "
                         r"delays=[0-9.]+/0/0/[0-9.]+, dsn=2\.0\.0, status=sent "
                         r"\(delivered to maildir\)")
        self.assertIn("to=<box@example.org>, relay=virtual", log)
        # privilege separation: the agent runs as mail_owner, a root spawner parses nothing,
        # and one kept worker per mailbox identity did the writing (no process per message)
        # (a process master has just forked is root until it drops privileges: look again)
        deadline = time.monotonic() + 10
        while True:
            uids = sorted(int(open(f"/proc/{pid}/status").read().split("Uid:")[1].split()[0])
                          for pid in self.inst.processes("virtual"))
            agents = uids.count(pwd.getpwnam("postfix").pw_uid)
            if uids.count(0) == agents or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertGreaterEqual(agents, 1)
        self.assertEqual(uids.count(0), agents)  # one spawner per agent process
        self.assertTrue(1 <= uids.count(self.owner.pw_uid) <= agents)  # at most one worker each
        self.assertEqual(set(uids), {0, pwd.getpwnam("postfix").pw_uid, self.owner.pw_uid})
        self.assertIn("status=sent (delivered to mailbox)", log)
        self.assertTrue(self.queue_empty())

    def test_mailbox_size_limit(self):
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("virtual_mailbox_limit = 2000\n")
        self.assertTrue(self.inst.reload())
        parent = os.path.join(self.vmail, "example.org")
        os.makedirs(parent, exist_ok=True)
        os.chown(parent, self.owner.pw_uid, self.owner.pw_gid)
        qid = self.submit("s@example.com", ["box@example.org"], body="x" * 3000 + "\n")
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=15))
        self.assertIn("dsn=5.2.2, status=bounced (cannot update mailbox", self.inst.log())
        self.assertIn("file too large", self.inst.log())

    def test_unknown_user_bounces_and_unreachable_transport_defers(self):
        qid = self.submit("s@example.com", ["nobody-here@example.org"])
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=15))
        self.assertIn(f"{qid}: to=<nobody-here@example.org>, relay=virtual", self.inst.log())
        self.assertIn('dsn=5.1.1, status=bounced (unknown user: "nobody-here@example.org")',
                      self.inst.log())
        qid = self.submit("s@example.com", ["far@remote.example"])
        deferred = os.path.join(self.inst.queue, "deferred", qid[0], qid)
        self.assertTrue(poll(lambda: os.path.exists(deferred), timeout=15), self.inst.log())
        self.assertIn(f"{qid}: to=<far@remote.example>, relay=none", self.inst.log())
        self.assertIn("status=deferred (delivery temporarily suspended: connect to "
                      "private/smtp", self.inst.log())
        self.assertGreater(os.stat(deferred).st_mtime, os.stat(self.inst.log_path).st_mtime + 200)

    def test_bounce_notice_reaches_the_sender(self):
        qid = self.submit("info@example.org", ["nobody-here@example.org"],
                          headers=("Subject: lost mail", "Message-Id: <orig@example.org>"))
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log() and
                             len(self.maildir_files("example.org", "info")) == 1, timeout=20),
                        self.inst.log())
        self.assertRegex(self.inst.log(), qid + r": sender non-delivery notification: [0-9A-F]+")
        notice = open(self.maildir_files("example.org", "info")[0]).read()
        self.assertTrue(notice.startswith("Return-Path: <>\n"), notice)
        self.assertIn("From: MAILER-DAEMON@mail.example.org (Mail Delivery System)", notice)
        self.assertIn("Subject: Undelivered Mail Returned to Sender", notice)
        self.assertIn("Content-Type: multipart/report; report-type=delivery-status;", notice)
        self.assertIn("Final-Recipient: rfc822; nobody-here@example.org\nAction: failed\n"
                      "Status: 5.1.1\n", notice)
        self.assertIn("Content-Type: message/rfc822\n\n", notice)
        self.assertIn("Subject: lost mail", notice)  # the original comes back
        self.assertEqual(os.listdir(os.path.join(self.inst.queue, "bounce")), [])
        # a bounce of a bounce goes to the postmaster; its own failure ends there
        qid = self.submit("", ["nobody-either@example.org"])
        self.assertTrue(poll(lambda: "discarding a double bounce" in self.inst.log(),
                             timeout=20), self.inst.log())
        self.assertTrue(poll(self.queue_empty, timeout=10))

    def poke_qmgr(self):
        """Ask qmgr to retry the deferred queue now, as postqueue -f does."""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(self.inst.unix_path("qmgr", private=False))
            s.sendall(b"A")

    def test_delay_warning_is_sent_once(self):
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("delay_warning_time = 1s\nminimal_backoff_time = 1s\n"
                     "maximal_backoff_time = 1s\n")
        self.assertTrue(self.inst.reload())
        qid = self.submit("info@example.org", ["far@remote.example"])

        def warned():
            self.poke_qmgr()
            return f"{qid}: sender delay notification: " in self.inst.log()
        self.assertTrue(poll(warned, timeout=15, interval=0.3), self.inst.log())
        self.assertTrue(poll(lambda: len(self.maildir_files("example.org", "info")) == 1,
                             timeout=15), self.inst.log())
        notice = open(self.maildir_files("example.org", "info")[0]).read()
        self.assertIn("Subject: Delayed Mail (still being retried)\n", notice)
        # the template counts in whole hours ($delay_warning_time_hours), as the reference's
        self.assertIn("could not be delivered for more than 0 hour(s)\n", notice)
        self.assertIn("Final-Recipient: rfc822; far@remote.example\nAction: delayed\n"
                      "Status: 4.3.0\n", notice)
        self.assertIn("Content-Type: text/rfc822-headers\n", notice)
        self.assertNotIn("Hello.", notice)  # the header only, not the body
        # later attempts send no second warning
        attempts = self.inst.log().count(f"{qid}: to=<far@remote.example>")

        def retried_twice():
            self.poke_qmgr()
            return self.inst.log().count(f"{qid}: to=<far@remote.example>") >= attempts + 2
        self.assertTrue(poll(retried_twice, timeout=15, interval=0.3), self.inst.log())
        self.assertEqual(self.inst.log().count(f"{qid}: sender delay notification: "), 1)

    def test_expired_mail_returns_to_sender(self):
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            # long enough for the first attempt to come first, even on a loaded machine
            fp.write("maximal_queue_lifetime = 3s\nminimal_backoff_time = 1s\n"
                     "maximal_backoff_time = 1s\n")
        self.assertTrue(self.inst.reload())
        qid = self.submit("info@example.org", ["far@remote.example"])
        self.assertTrue(poll(lambda: f"{qid}: to=<far@remote.example>" in self.inst.log(),
                             timeout=10), self.inst.log() + self.inst.diagnose())

        def expired():
            self.poke_qmgr()
            return (f"{qid}: from=<info@example.org>, status=expired, returned to sender"
                    in self.inst.log())
        self.assertTrue(poll(expired, timeout=15, interval=0.3), self.inst.log())
        self.assertTrue(poll(lambda: len(self.maildir_files("example.org", "info")) == 1,
                             timeout=15))
        notice = open(self.maildir_files("example.org", "info")[0]).read()
        # the last deferral's status and reason say why it could not be delivered
        self.assertIn("Final-Recipient: rfc822; far@remote.example\nAction: failed\n"
                      "Status: 4.3.0\nDiagnostic-Code: X-Postfix; delivery temporarily "
                      "suspended: connect to private/smtp: No such file or directory\n", notice)
        self.assertTrue(poll(self.queue_empty, timeout=10))

    def test_crash_left_in_active_is_delivered_after_restart(self):
        self.inst.write_master(SERVICES.replace("qmgr unix", "#qmgr unix"))
        self.assertTrue(self.inst.reload())
        qid = self.submit("s@example.com", ["info@example.org"])
        incoming = os.path.join(self.inst.queue, "incoming", qid)
        self.assertTrue(os.path.exists(incoming))  # no qmgr: it waits in incoming/
        os.rename(incoming, os.path.join(self.inst.queue, "active", qid))  # as if mid-delivery
        self.inst.write_master(SERVICES)
        self.assertTrue(self.inst.reload())
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=15),
                        self.inst.log())
        self.assertEqual(len(self.maildir_files("example.org", "info")), 1)
        self.assertTrue(self.queue_empty())


@unittest.skipUnless(os.getuid() == 0, "the virtual agent needs root")
class ErrorAndDiscard(Delivery):
    def setUp(self):
        super().setUp()
        self.inst.write_master(SERVICES + "error unix - - n - - error\n"
                               "retry unix - - n - - error\n"
                               "discard unix - - n - - discard\n"
                               "showq unix n - n - - showq\n")
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("virtual_alias_domains = alias.example\n"
                     "transport_maps = inline:{ drop.example=discard:silently, "
                     "{ later.example = retry:4.7.0 not now } }\n"
                     "relocated_maps = inline:{ moved@example.org=new@example.net }\n")
        self.assertTrue(self.inst.reload())

    def test_relocated_recipient_bounces_with_the_new_address(self):
        qid = self.submit("s@example.com", ["moved@example.org", "info@example.org"])
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=15),
                        self.inst.log())
        self.assertRegex(self.inst.log(), qid + r": to=<moved@example\.org>, relay=none, "
                         r".*dsn=5\.1\.6, status=bounced \(User has moved to new@example\.net\)")
        self.assertEqual(len(self.maildir_files("example.org", "info")), 1)

    def test_error_discard_and_retry(self):
        qid = self.submit("s@example.com", ["who@alias.example", "x@drop.example",
                                             "y@later.example"])
        # three agents work in parallel: wait for all three results
        self.assertTrue(poll(lambda: all(f"{qid}: to=<{r}>" in self.inst.log() for r in
                                         ("who@alias.example", "x@drop.example",
                                          "y@later.example")),
                             timeout=15), self.inst.log())
        log = self.inst.log()
        self.assertIn(f"{qid}: to=<who@alias.example>, relay=none", log)
        self.assertIn("dsn=5.1.1, status=bounced (User unknown in virtual alias table)", log)
        self.assertIn(f"{qid}: to=<x@drop.example>, relay=none", log)
        self.assertIn("dsn=2.0.0, status=sent (silently)", log)
        self.assertIn("dsn=4.7.0, status=deferred (not now)", log)
        deferred = os.path.join(self.inst.queue, "deferred", qid[0], qid)
        self.assertTrue(poll(lambda: os.path.exists(deferred), timeout=5))
        import mq1
        q = mq1.read(deferred)
        self.assertEqual([(r["addr"], r["status"]) for r in q["rcpts"]],
                         [("who@alias.example", "D"), ("x@drop.example", "D"),
                          ("y@later.example", "T")])
        # mailq shows the reason, right-aligned at column 78
        res = run([os.path.join(BIN, "mailq")], env={"MAIL_CONFIG": self.inst.etc})
        [block] = [b for b in res.out.split("\n\n") if qid in b]
        self.assertEqual(block.split("\n")[-2:],
                         [" " * 69 + "(not now)", " " * 41 + "y@later.example"], res.out)

    test_maildir_and_mbox_delivery = None
    test_unknown_user_bounces_and_unreachable_transport_defers = None
    test_crash_left_in_active_is_delivered_after_restart = None
    test_mailbox_size_limit = None
    test_bounce_notice_reaches_the_sender = None
    test_expired_mail_returns_to_sender = None
    test_delay_warning_is_sent_once = None

    def test_destination_rate_delay(self):
        # a destination rate delay: one delivery at a time, a second apart (discard has no
        # per-transport parameters of its own, as in the reference: the default applies)
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("default_destination_rate_delay = 1s\n")
        self.assertTrue(self.inst.reload())
        ids = [self.submit("s@example.com", [f"r{n}@drop.example"]) for n in range(3)]
        self.assertTrue(poll(lambda: all(f"{q}: removed" in self.inst.log() for q in ids),
                             timeout=20), self.inst.log())
        # the messages arrived together: their delay= (arrival to delivery) shows the spacing
        # (log lines have whole seconds only)
        delays = sorted(float(re.search(r" delay=([\d.]+),", line).group(1))
                        for line in self.inst.log().splitlines()
                        if "relay=none" in line and "@drop.example" in line)
        self.assertEqual(len(delays), 3)
        self.assertGreaterEqual(delays[2] - delays[0], 1.8, self.inst.log())

    def test_transport_rate_delay(self):
        # three destinations of one transport: a transport rate delay spaces them all
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("default_transport_rate_delay = 1s\n"
                     "transport_maps = inline:{ a.example=discard:a, b.example=discard:b, "
                     "c.example=discard:c }\n")
        self.assertTrue(self.inst.reload())
        ids = [self.submit("s@example.com", [f"r@{d}.example"]) for d in "abc"]
        self.assertTrue(poll(lambda: all(f"{q}: removed" in self.inst.log() for q in ids),
                             timeout=20), self.inst.log())
        delays = sorted(float(re.search(r" delay=([\d.]+),", line).group(1))
                        for line in self.inst.log().splitlines()
                        if "relay=none" in line and "status=sent (" in line)
        self.assertEqual(len(delays), 3)
        self.assertGreaterEqual(delays[2] - delays[0], 1.8, self.inst.log())


@unittest.skipUnless(os.getuid() == 0, "the virtual agent needs root")
class LongIdsAndLimits(Delivery):
    def setUp(self):
        super().setUp()
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("enable_long_queue_ids = yes\nvirtual_destination_recipient_limit = 1\n")
        self.assertTrue(self.inst.reload())
        # one recipient per delivery makes each its own destination: the two run at once,
        # and the mbox (whose directory virtual does not create) must not wait for the
        # Maildir to create it
        os.mkdir(os.path.join(self.vmail, "example.org"))
        os.chown(os.path.join(self.vmail, "example.org"), self.owner.pw_uid, self.owner.pw_gid)

    def test_long_queue_ids_and_one_recipient_per_delivery(self):
        qid = self.submit("s@example.com", ["info@example.org", "box@example.org"])
        self.assertRegex(qid, r"^[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{6,}z[0-9A-Za-z]+$")
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=15),
                        self.inst.log())
        [msg] = self.maildir_files("example.org", "info")
        self.assertIn(f"Message-Id: <{qid}@mail.example.org>", open(msg).read())
        # one recipient per request: two deliveries, each with its own "last" request
        self.assertEqual(self.inst.log().count(f"{qid}: to=<"), 2)

    test_maildir_and_mbox_delivery = None
    test_unknown_user_bounces_and_unreachable_transport_defers = None
    test_crash_left_in_active_is_delivered_after_restart = None
    test_mailbox_size_limit = None
    test_bounce_notice_reaches_the_sender = None
    test_expired_mail_returns_to_sender = None
    test_delay_warning_is_sent_once = None
