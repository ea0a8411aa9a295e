"""The smtp client against servers that misbehave: replies one byte at a time and 100 KB
reply lines still deliver; lines of one byte, a reply that never ends and a connection
dropped in the middle of the message defer with a clear reason. Nothing is lost: once the
destination works again, each deferred message arrives exactly once."""
import os
import unittest

import mq1
import test_delivery
from harness import BIN, run
from instance import poll
from smtpsink import Sink

BAD = ["bytewise", "long-lines", "one-byte-lines", "no-final-line", "close-mid-data",
       "greeting-554"]


@unittest.skipUnless(os.getuid() == 0, "the delivery agents need root")
class BadServers(test_delivery.Delivery):
    def setUp(self):
        super().setUp()
        self.sinks = {bad: Sink(misbehave=bad) for bad in BAD}
        for sink in self.sinks.values():
            self.addCleanup(sink.close)
        self.inst.write_master(test_delivery.SERVICES + "smtp unix - - y - - smtp\n"
                               "showq unix n - n - - showq\n")
        self.route({bad: sink.port for bad, sink in self.sinks.items()})

    def route(self, ports):
        table = ", ".join(f"{bad}.example=smtp:[127.0.0.1]:{port}" for bad, port in ports.items())
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write(f"transport_maps = inline:{{ {table} }}\n"
                     "smtp_helo_timeout = 3s\nsmtp_data_done_timeout = 3s\n")
        self.assertTrue(self.inst.reload())

    def test_bad_servers(self):
        ids = {bad: self.submit("info@example.org", [f"user@{bad}.example"],
                                body="A body long enough to be cut in the middle.\n" * 20)
               for bad in BAD}

        def settled(qid):
            log = self.inst.log()
            return f"{qid}: removed" in log or f"{qid}: to=<" in log and "status=deferred" in \
                log.split(f"{qid}: to=<", 1)[1].split("\n", 1)[0]

        self.assertTrue(poll(lambda: all(settled(q) for q in ids.values()), timeout=30),
                        self.inst.log())
        log = self.inst.log()
        lines = {bad: [l for l in log.splitlines() if f"{ids[bad]}: to=<" in l][0] for bad in BAD}
        self.assertIn("status=sent (250 2.0.0 Ok: queued as SINK1)", lines["bytewise"])
        # a 100 KB reply is cut, not a reason to fail
        self.assertIn("status=sent (250 2.0.0 Ok: queued as SINK1 zzz", lines["long-lines"])
        self.assertLess(len(lines["long-lines"]), 5000)
        self.assertIn("status=deferred (host 127.0.0.1[127.0.0.1] refused to talk to me: 2)",
                      lines["one-byte-lines"])
        self.assertIn("status=deferred (conversation with 127.0.0.1[127.0.0.1] timed out while "
                      "receiving the initial server greeting)", lines["no-final-line"])
        self.assertIn("status=deferred (lost connection with 127.0.0.1[127.0.0.1] while sending "
                      "end of data -- message may be sent more than once)",
                      lines["close-mid-data"])
        # a 5xx greeting is skipped (smtp_skip_5xx_greeting = yes): deferred, not bounced
        self.assertIn("status=deferred (host 127.0.0.1[127.0.0.1] refused to talk to me: "
                      "554 5.7.1 sink.example: no mail from you)", lines["greeting-554"])
        self.assertEqual(len(self.sinks["bytewise"].messages), 1)
        self.assertEqual(len(self.sinks["long-lines"].messages), 1)
        # mailq names the reason of each deferred message
        res = run([os.path.join(BIN, "mailq")], env={"MAIL_CONFIG": self.inst.etc})
        for bad in ("one-byte-lines", "no-final-line", "close-mid-data", "greeting-554"):
            self.assertIn(ids[bad], res.out)
        self.assertIn("(lost connection with 127.0.0.1[127.0.0.1] while sending end of data --",
                      res.out)
        # the destinations work again: each deferred message arrives once
        good = Sink()
        self.addCleanup(good.close)
        self.route({bad: good.port for bad in BAD})
        self.assertEqual(run([os.path.join(BIN, "postqueue"), "-f"],
                             env={"MAIL_CONFIG": self.inst.etc}).rc, 0)
        self.assertTrue(poll(lambda: all(f"{q}: removed" in self.inst.log()
                                         for q in ids.values()), timeout=30), self.inst.log())
        self.assertEqual(sorted(r[0] for _, r, _ in good.messages),
                         ["user@close-mid-data.example", "user@greeting-554.example",
                          "user@no-final-line.example", "user@one-byte-lines.example"])
        for bad in ("one-byte-lines", "no-final-line", "close-mid-data", "greeting-554"):
            self.assertEqual(self.sinks[bad].messages, [])
        self.assertTrue(self.queue_empty())

    def test_server_with_our_name_and_long_lines(self):
        mirror = Sink(name="MAIL.example.org")  # answers EHLO with our myhostname
        self.addCleanup(mirror.close)
        refusing = Sink(misbehave="greeting-554")
        self.addCleanup(refusing.close)
        plain = Sink()
        self.addCleanup(plain.close)
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write(f"transport_maps = inline:{{ mirror.example=smtp:[127.0.0.1]:{mirror.port}, "
                     f"plain.example=smtp:[127.0.0.1]:{plain.port}, "
                     f"refusing.example=smtp:[127.0.0.1]:{refusing.port} }}\n"
                     "smtp_skip_5xx_greeting = no\n")
        self.assertTrue(self.inst.reload())
        loop = self.submit("info@example.org", ["a@mirror.example"])
        long = self.submit("info@example.org", ["b@plain.example"], body="x" * 2500 + "\n")
        refused = self.submit("info@example.org", ["c@refusing.example"])
        self.assertTrue(poll(lambda: f"{loop}: to=<" in self.inst.log() and
                             f"{long}: removed" in self.inst.log(), timeout=20),
                        self.inst.log())
        log = self.inst.log()
        self.assertIn("host 127.0.0.1[127.0.0.1] replied to HELO/EHLO with my own hostname "
                      "mail.example.org", log)
        self.assertIn("dsn=5.4.6, status=bounced (mail for 127.0.0.1 loops back to myself)", log)
        self.assertEqual(mirror.messages, [])
        # smtp_skip_5xx_greeting = no: a 5xx greeting bounces
        self.assertTrue(poll(lambda: f"{refused}: to=<" in self.inst.log(), timeout=20))
        self.assertIn(f"{refused}: to=<c@refusing.example>, relay=127.0.0.1[127.0.0.1]:"
                      f"{refusing.port}", self.inst.log())
        self.assertIn("dsn=5.7.1, status=bounced (host 127.0.0.1[127.0.0.1] refused to talk to "
                      "me: 554 5.7.1 sink.example: no mail from you)", self.inst.log())
        # smtp_line_length_limit (998): a longer line goes out broken, CR LF and a space
        [(_, _, data)] = plain.messages
        body = data.split(b"\r\n\r\n", 1)[1]
        self.assertEqual(body, b"x" * 998 + b"\r\n " + b"x" * 998 + b"\r\n " + b"x" * 504 +
                         b"\r\n")

    def test_hostile_reply_text_injects_nothing(self):
        # reply text with an ESC, a raw CR, a bare LF that looks like a command, an empty
        # continuation, a one-byte reply, an encoded line end: each message is deferred or
        # bounced with a reason that holds no control character, in the log, in the queue
        # file's logs, in mailq and in the bounce; no record is added
        replies = {"esc@inj.example": "550 5.1.1 user\x1b[31m unknown\rMAIL FROM:<evil@x>",
                   "lf@inj.example": "550 5.1.1 bad\nRCPT TO:<evil@x>",
                   "cont@inj.example": "550-\r\n550 5.1.1 second",
                   "short@inj.example": "5",
                   "pct@inj.example": "450 4.2.0 a%0Ab"}
        sinks = {}
        for addr, reply in replies.items():
            sinks[addr] = Sink(rcpt_replies={addr: reply})
            self.addCleanup(sinks[addr].close)
        table = ", ".join(f"{addr}=smtp:[127.0.0.1]:{sink.port}" for addr, sink in sinks.items())
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write(f"transport_maps = inline:{{ {table} }}\nsmtp_helo_timeout = 3s\n"
                     "smtp_rcpt_timeout = 3s\n")
        self.assertTrue(self.inst.reload())
        ids = {addr: self.submit("info@example.org", [addr]) for addr in replies}

        def settled(qid):
            return any(f"{qid}: to=<" in line and ("status=deferred" in line or
                                                   "status=bounced" in line)
                       for line in self.inst.log().splitlines())

        self.assertTrue(poll(lambda: all(settled(q) for q in ids.values()), timeout=30),
                        self.inst.log())
        raw = open(self.inst.log_path, "rb").read()
        for byte in (b"\x1b", b"\r", b"\x00"):
            self.assertNotIn(byte, raw)
        self.assertNotIn(b"\nRCPT TO:<evil", raw)
        self.assertIn("user?[31m unknown?MAIL FROM:<evil@x>", self.inst.log())
        res = run([os.path.join(BIN, "mailq")], env={"MAIL_CONFIG": self.inst.etc})
        self.assertNotRegex(res.out, r"[\x00-\x09\x0b-\x1f\x7f]")
        self.assertIn("a%0Ab", res.out)
        # each deferred queue file still holds its one recipient, and nothing else
        for addr, qid in ids.items():
            path = os.path.join(self.inst.queue, "deferred", qid[0], qid)
            if not os.path.exists(path):
                path = os.path.join(self.inst.queue, "deferred", qid)
            if os.path.exists(path):
                q = mq1.read(path)
                self.assertEqual([r["addr"] for r in q["rcpts"]], [addr])
                self.assertEqual(q["sender"], "info@example.org")
        # the bounces that went back to the sender carry the sanitized text only
        self.assertTrue(poll(lambda: len(self.maildir_files("example.org", "info")) >= 1,
                             timeout=20), self.inst.log())
        for name in self.maildir_files("example.org", "info"):
            data = open(name, "rb").read()
            self.assertNotIn(b"\x1b", data)
            self.assertNotIn(b"\rMAIL", data)

    test_maildir_and_mbox_delivery = None
    test_unknown_user_bounces_and_unreachable_transport_defers = None
    test_crash_left_in_active_is_delivered_after_restart = None
    test_mailbox_size_limit = None
    test_bounce_notice_reaches_the_sender = None
    test_expired_mail_returns_to_sender = None
    test_delay_warning_is_sent_once = None
