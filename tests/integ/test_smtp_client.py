"""The smtp client: mail for a remote domain goes to the relayhost ([127.0.0.1]:port, no MX
lookup) with the message intact; per-recipient refusals bounce with the server's words; a
closed port defers with "connect to ... Connection refused", which mailq shows."""
import os
import socket
import unittest

import test_delivery
from harness import BIN, run
from instance import poll
from smtpsink import Sink


@unittest.skipUnless(os.getuid() == 0, "the delivery agents need root")
class SmtpClient(test_delivery.Delivery):
    def setUp(self):
        super().setUp()
        # the sink answers only a pipelined client (RFC 2920), as it advertises PIPELINING
        self.sink = Sink(rcpt_replies={"refused@remote.example": "550 5.1.1 no such user here"},
                         require_pipelining=True)
        self.addCleanup(self.sink.close)
        self.inst.write_master(test_delivery.SERVICES + "smtp unix - - y - - smtp\n"
                               "showq unix n - n - - showq\n")
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write(f"relayhost = [127.0.0.1]:{self.sink.port}\n")
        self.assertTrue(self.inst.reload())

    def test_relay_to_the_relayhost(self):
        qid = self.submit("info@example.org", ["far@remote.example", "refused@remote.example"],
                          body="line\n.starts with a dot\n")
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=20),
                        self.inst.log())
        [(mail, rcpts, data)] = self.sink.messages
        self.assertEqual((mail, rcpts), ("info@example.org", ["far@remote.example"]))
        self.assertTrue(data.startswith(b"Subject: test\r\n"), data)
        self.assertTrue(data.endswith(b"\r\n\r\nline\r\n.starts with a dot\r\n"), data)
        log = self.inst.log()
        self.assertIn(f"{qid}: to=<far@remote.example>, relay=127.0.0.1[127.0.0.1]:"
                      f"{self.sink.port}", log)
        self.assertIn("dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as SINK1)", log)
        self.assertIn("dsn=5.1.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 "
                      "no such user here (in reply to RCPT TO command))", log)
        # the refusal comes back to the sender as a notice
        self.assertTrue(poll(lambda: len(self.maildir_files("example.org", "info")) == 1,
                             timeout=15))

    def test_outgoing_header_and_body_checks(self):
        headers = os.path.join(self.inst.etc, "smtp_header_checks")
        with open(headers, "w") as fp:
            fp.write("/^Subject: test$/ REPLACE Subject: outgoing\n/^X-Internal:/ IGNORE\n")
        body = os.path.join(self.inst.etc, "smtp_body_checks")
        with open(body, "w") as fp:
            fp.write("/^secret/ REPLACE [removed]\n")
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write(f"smtp_header_checks = regexp:{headers}\n"
                     f"smtp_body_checks = pcre:{body}\n")
        self.assertTrue(self.inst.reload())
        qid = self.submit("info@example.org", ["far@remote.example"],
                          headers=("Subject: test", "X-Internal: host-42", "X-Other: kept"),
                          body="secret line\npublic line\n")
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=20),
                        self.inst.log())
        [(_, _, data)] = self.sink.messages
        self.assertTrue(data.startswith(b"Subject: outgoing\r\nX-Other: kept\r\n"), data)
        self.assertNotIn(b"X-Internal", data)
        self.assertTrue(data.endswith(b"\r\n\r\n[removed]\r\npublic line\r\n"), data)
        self.assertRegex(self.inst.log(), r"postfix/smtp\[\d+\]: " + qid +
                         r": replace: header Subject: test: Subject: outgoing\n")
        self.assertRegex(self.inst.log(), qid + r": replace: body secret line: \[removed\]\n")

    def test_generic_maps_rewrite_what_goes_out(self):
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("smtp_generic_maps = inline:{ info@example.org=public@example.com, "
                     "@example.org=@example.com }\n")
        self.assertTrue(self.inst.reload())
        qid = self.submit("info@example.org", ["far@remote.example"],
                          headers=("From: Info <info@example.org> (desk)",
                                   "To: far@remote.example", "Cc: other@example.org",
                                   "Subject: test"))
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=20),
                        self.inst.log())
        [(mail, rcpts, data)] = self.sink.messages
        self.assertEqual((mail, rcpts), ("public@example.com", ["far@remote.example"]))
        self.assertTrue(data.startswith(b"From: Info <public@example.com> (desk)\r\n"
                                        b"To: far@remote.example\r\n"
                                        b"Cc: other@example.com\r\nSubject: test\r\n"), data)
        self.assertIn(f"{qid}: from=<info@example.org>", self.inst.log())  # the queue's own

    def test_seed_smtpinternal_binds_its_own_address(self):
        # the seed's "SPF and multiple external ip addresses": two smtp services, each with
        # its smtp_bind_address, and a transport table sending .internal to the second (with
        # a nexthop here: "smtpinternal:" alone would look up the recipient domain in DNS)
        self.inst.write_master(
            test_delivery.SERVICES + "smtp      unix  -       -       -       -       -       "
            "smtp\n        -o smtp_bind_address=127.0.0.2\n"
            "smtpinternal      unix  -       -       -       -       -       smtp\n"
            "        -o smtp_bind_address=127.0.0.3 -o smtp_helo_name=inside.example\n")
        transport = os.path.join(self.inst.etc, "transport")
        with open(transport, "w") as fp:
            fp.write(f".internal smtpinternal:[127.0.0.1]:{self.sink.port}\n")
        self.assertEqual(run([os.path.join(BIN, "postmap"), transport]).rc, 0)
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write(f"transport_maps = hash:{transport}\n")
        self.assertTrue(self.inst.reload())
        qid = self.submit("info@example.org", ["a@host.internal"])
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=20),
                        self.inst.log())
        qid = self.submit("info@example.org", ["b@remote.example"])
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=20),
                        self.inst.log())
        self.assertEqual([r for _, r, _ in self.sink.messages],
                         [["a@host.internal"], ["b@remote.example"]])
        self.assertEqual(self.sink.peers, ["127.0.0.3", "127.0.0.2"], self.inst.log())
        self.assertEqual(self.sink.helos[0], "inside.example")
        self.assertEqual(self.sink.helos[1], "mail.example.org")  # myhostname

    def test_verification_stops_after_rcpt(self):
        # sendmail -bv's kind of message: the server is asked, nothing is sent (a probe goes
        # step by step, so this server need not insist on pipelining)
        self.sink = Sink(rcpt_replies={"refused@remote.example": "550 5.1.1 no such user here"})
        self.addCleanup(self.sink.close)
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write(f"relayhost = [127.0.0.1]:{self.sink.port}\n")
        self.assertTrue(self.inst.reload())
        qid = self.submit("info@example.org", ["far@remote.example", "refused@remote.example"],
                          attrs=["trace_flags=verify"])
        self.assertTrue(poll(lambda: len(self.maildir_files("example.org", "info")) == 1,
                             timeout=20), self.inst.log())
        self.assertEqual(self.sink.messages, [])
        self.assertNotIn("DATA", self.sink.commands)
        report = open(self.maildir_files("example.org", "info")[0]).read()
        self.assertIn("Final-Recipient: rfc822; far@remote.example\nAction: deliverable\n",
                      report)
        self.assertIn("Final-Recipient: rfc822; refused@remote.example\n"
                      "Action: undeliverable\nStatus: 5.1.1\n", report)
        log = self.inst.log()
        self.assertIn(f"{qid}: to=<far@remote.example>, relay=127.0.0.1[127.0.0.1]:"
                      f"{self.sink.port}", log)
        self.assertIn("status=deliverable (host 127.0.0.1[127.0.0.1] said: 250 2.1.5 Ok (in "
                      "reply to RCPT TO command))", log)
        self.assertNotIn("non-delivery notification", log)

    def test_discarded_ehlo_keywords(self):
        # smtp_discard_ehlo_keywords: the client acts as if the server had not offered them
        self.sink = Sink(extensions=["8BITMIME", "DSN"])
        self.addCleanup(self.sink.close)
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write(f"relayhost = [127.0.0.1]:{self.sink.port}\n"
                     "smtp_discard_ehlo_keywords = dsn, 8bitmime\n")
        self.assertTrue(self.inst.reload())
        qid = self.submit("info@example.org", ["far@remote.example"], body="caf\u00e9\n",
                          notify=2)
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=20),
                        self.inst.log())
        self.assertIn("RCPT TO:<far@remote.example>", self.sink.commands)
        [(_, _, data)] = self.sink.messages
        self.assertIn(b"Content-Transfer-Encoding: quoted-printable", data)

    def test_connection_is_reused(self):
        # one message after the other: the second and third find the first's connection
        ids = []
        for n in range(3):
            ids.append(self.submit("info@example.org", [f"r{n}@remote.example"]))
            self.assertTrue(poll(lambda: f"{ids[-1]}: removed" in self.inst.log(),
                                 timeout=20), self.inst.log())
        self.assertEqual(len(self.sink.messages), 3)
        log = self.inst.log()
        self.assertIn(f"{ids[1]}: to=<r1@remote.example>, relay=127.0.0.1[127.0.0.1]:"
                      f"{self.sink.port}, conn_use=2, delay=", log)
        self.assertEqual(self.sink.sessions, 1)
        self.assertIn("RSET", self.sink.commands)
        # idle longer than smtp_connection_cache_time_limit (2s): QUIT, and a new session
        self.assertTrue(poll(lambda: "QUIT" in self.sink.commands, timeout=10))

    def test_fallback_relay(self):
        # the destination does not answer: smtp_fallback_relay takes the mail
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write(f"relayhost = [127.0.0.1]:{closed}\n"
                     f"smtp_fallback_relay = [127.0.0.1]:{self.sink.port}\n")
        self.assertTrue(self.inst.reload())
        qid = self.submit("info@example.org", ["far@remote.example"])
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=20),
                        self.inst.log())
        self.assertIn(f"{qid}: to=<far@remote.example>, relay=127.0.0.1[127.0.0.1]:"
                      f"{self.sink.port}", self.inst.log())
        self.assertEqual(len(self.sink.messages), 1)

    def test_sender_dependent_routes(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]
        sink = f"[127.0.0.1]:{self.sink.port}"
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write(f"relayhost = [127.0.0.1]:{closed}\n"
                     f"sender_dependent_relayhost_maps = inline:{{ info@example.org={sink}, "
                     "@example.com=DUNNO }\n"
                     "sender_dependent_default_transport_maps = inline:{ "
                     f"@example.net=smtp:{sink} }}\n")
        self.assertTrue(self.inst.reload())
        first = self.submit("info@example.org", ["far@remote.example"])
        second = self.submit("someone@example.net", ["far@remote.example"])
        third = self.submit("someone@example.com", ["far@remote.example"])
        self.assertTrue(poll(lambda: f"{first}: removed" in self.inst.log() and
                             f"{second}: removed" in self.inst.log(), timeout=20),
                        self.inst.log())
        self.assertEqual(sorted(m for m, _, _ in self.sink.messages),
                         ["info@example.org", "someone@example.net"])
        # DUNNO: the global relayhost, which is down
        self.assertTrue(poll(lambda: f"{third}: to=<far@remote.example>, relay=none" in
                             self.inst.log(), timeout=15), self.inst.log())

    def test_closed_port_defers(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write(f"relayhost = [127.0.0.1]:{closed}\n")
        self.assertTrue(self.inst.reload())
        qid = self.submit("info@example.org", ["far@remote.example"])
        deferred = os.path.join(self.inst.queue, "deferred", qid[0], qid)
        self.assertTrue(poll(lambda: os.path.exists(deferred), timeout=15), self.inst.log())
        self.assertIn(f"{qid}: to=<far@remote.example>, relay=none", self.inst.log())
        self.assertIn(f"status=deferred (connect to 127.0.0.1[127.0.0.1]:{closed}: "
                      "Connection refused)", self.inst.log())
        res = run([os.path.join(BIN, "mailq")], env={"MAIL_CONFIG": self.inst.etc})
        reason = f"(connect to 127.0.0.1[127.0.0.1]:{closed}: Connection refused)"
        self.assertEqual(res.out.splitlines()[1:4], [
            res.out.splitlines()[1], " " * (76 - len(reason) + 2) + reason,
            " " * 41 + "far@remote.example"], res.out)
        self.assertTrue(res.out.splitlines()[1].startswith(qid + " "), res.out)

    test_maildir_and_mbox_delivery = None
    test_unknown_user_bounces_and_unreachable_transport_defers = None
    test_crash_left_in_active_is_delivered_after_restart = None
    test_mailbox_size_limit = None
    test_bounce_notice_reaches_the_sender = None
    test_expired_mail_returns_to_sender = None
    test_delay_warning_is_sent_once = None
