"""cleanup as a running service: a message submitted on its socket becomes a complete MQ1
file in incoming/ (mode 0700) with rewritten and alias-expanded recipients and the missing
headers added; every failure removes the partial file and answers with the right status."""
import os
import socket
import struct
import unittest

import mq1
from attr import frame, get, read_frame
from instance import Instance, poll


def record(kind, payload=b""):
    if isinstance(payload, str):
        payload = payload.encode()
    return kind.encode() + struct.pack(">I", len(payload)) + payload


def rcpt(addr, orcpt="", notify=0):
    def s16(text):
        return struct.pack(">H", len(text.encode())) + text.encode()
    return record("R", b"T" + bytes([notify]) + s16(addr) + s16(addr) + s16(orcpt))


class Cleanup(unittest.TestCase):
    def setUp(self):
        self.inst = Instance(
            "cleanup unix n - n - 0 cleanup\n",
            "myhostname = mail.example.org\nmyorigin = example.org\n"
            "mydestination = localhost, $myhostname\n"
            "message_size_limit = 20000\n"
            "virtual_alias_maps = inline:{ alias@example.org=real@example.org, "
            "{ list@example.org = a@example.org, b@example.org, a@example.org }, "
            "self@example.org=self@example.org, @catch.example=all@example.org }\n"
            "sender_canonical_maps = inline:{ old@example.org=new@example.org }\n"
            "canonical_maps = inline:{ @legacy.example=@example.org, "
            "joe@example.org=joe.smith@example.org }\n")
        self.addCleanup(self.inst.cleanup)
        self.inst.start()

    def session(self):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(self.inst.unix_path("cleanup", private=False))
        self.assertEqual(get(read_frame(s), "proto"), "cleanup")
        return s

    def open_message(self, s):
        s.sendall(frame([("req", "open"), ("flags", 0)]))
        reply = read_frame(s)
        self.assertEqual(get(reply, "status"), 0)
        qid = get(reply, "queue_id")
        self.assertRegex(qid, r"^[0-9A-F]{6,}$")
        return qid

    def incoming(self):
        return os.listdir(os.path.join(self.inst.queue, "incoming"))

    def test_an_address_with_control_characters_is_refused(self):
        # whoever submits it (a local forward, a file left in maildrop by root): no such
        # address reaches a queue file, a log line or an SMTP command
        for sender, recipient in (("a\nb@example.org", "joe@example.org"),
                                  ("a@example.org", "joe\r\nRCPT TO:<x@y>@example.org")):
            s = self.session()
            qid = self.open_message(s)
            s.sendall(record("S", sender) + rcpt(recipient) + record("M") +
                      record("H", "Subject: hi") + record("B", "text\n") + record("."))
            self.assertNotEqual(get(read_frame(s), "status"), 0)
            self.assertNotIn(qid, self.incoming())
            s.close()

    @unittest.skipUnless(os.getuid() == 0, "needs root to become another user")
    def test_an_untrusted_client_says_nothing_of_itself(self):
        # a process that is not mail_owner (here nobody, with the postdrop group that
        # public/ admits) may submit mail, but cleanup believes none of its attributes: the
        # client, the queue ID it logs under, a content filter, HOLD/DISCARD/REDIRECT/BCC
        import grp
        import pwd
        nobody = pwd.getpwnam("nobody")
        postdrop = grp.getgrnam("postdrop").gr_gid
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(read_end)
                os.setgroups([postdrop])
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
                s = self.session()
                qid = self.open_message(s)
                s.sendall(record("A", "client_addr=192.0.2.66") +
                          record("A", "log_ident=FORGED") +
                          record("A", "content_filter=smtp:[192.0.2.66]:25") +
                          record("A", "action=discard") +
                          record("A", "redirect=thief@example.net") +
                          record("A", "bcc=thief@example.net") +
                          record("S", "sender") + rcpt("joe@example.org") + record("M") +
                          record("H", "Subject: hi") + record("B", "text\n") + record("."))
                status = get(read_frame(s), "status")
                os.write(write_end, f"{qid} {status}".encode())
            finally:
                os._exit(0)
        os.close(write_end)
        os.waitpid(pid, 0)
        qid, status = os.read(read_end, 100).decode().split()
        os.close(read_end)
        self.assertEqual(status, "0")
        q = mq1.read(os.path.join(self.inst.queue, "incoming", qid))  # not discarded
        self.assertEqual(q["attrs"], {})
        self.assertEqual([r["addr"] for r in q["rcpts"]], ["joe.smith@example.org"])
        self.assertTrue(poll(lambda: f"{qid}: attribute redirect from an untrusted client "
                             "ignored" in self.inst.log()), self.inst.log())

    def test_message_is_queued(self):
        s = self.session()
        qid = self.open_message(s)
        self.assertEqual(self.incoming(), [qid])  # the file exists from "open" on
        self.assertEqual(os.stat(os.path.join(self.inst.queue, "incoming", qid)).st_mode
                         & 0o777, 0o600)
        s.sendall(record("A", "rewrite_context=local") + record("A", "client_addr=127.0.0.1") +
                  record("A", "evil_attr=1") + record("S", "sender") +
                  rcpt("alias@example.org", "rfc822;alias@example.org", 4) +
                  rcpt("list@example.org") + rcpt("self@example.org") +
                  rcpt("x@catch.example") + rcpt("bob") + rcpt("joe@legacy.example") +
                  record("M") + record("H", "Received: from x by y") +
                  record("H", "Return-Path: <forged@example>") + record("H", "Subject: hi") +
                  record("B", "line one\nline\rtwo\n") + record("."))
        reply = read_frame(s)
        self.assertEqual(get(reply, "status"), 0, reply)
        path = os.path.join(self.inst.queue, "incoming", qid)
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o700)
        q = mq1.read(path)
        self.assertEqual(q["sender"], "sender@example.org")
        self.assertEqual([r["addr"] for r in q["rcpts"]],
                         ["real@example.org", "a@example.org", "b@example.org",
                          "self@example.org", "all@example.org", "bob@example.org",
                          "joe@example.org"])
        self.assertEqual(q["rcpts"][0]["orig"], "alias@example.org")
        self.assertEqual(q["rcpts"][0]["orcpt"], "rfc822;alias@example.org")
        self.assertEqual(q["rcpts"][0]["notify"], 4)
        self.assertEqual(q["rcpt_total"], 7)
        self.assertEqual(q["attrs"], {"rewrite_context": "local", "client_addr": "127.0.0.1"})
        names = [h.split(":")[0] for h in q["headers"]]
        self.assertEqual(names, ["Received", "Subject", "Message-Id", "Date", "From"])
        self.assertRegex(q["headers"][2], r"^Message-Id: <\d{14}\." + qid +
                         r"@mail\.example\.org>$")
        self.assertEqual(q["headers"][4], "From: sender@example.org")
        self.assertEqual(q["body"], b"line one\nline two\n")
        self.assertEqual(q["content_len"], sum(len(h) + 1 for h in q["headers"]) + 1 +
                         len(q["body"]))
        self.assertIn(f"{qid}: message-id=<", self.inst.log())
        # the same connection serves the next message
        qid2 = self.open_message(s)
        s.sendall(record("S", "old@example.org") + rcpt("someone@example.net") + record("M") +
                  record("B", "x\n") + record("."))
        self.assertEqual(get(read_frame(s), "status"), 0)
        q2 = mq1.read(os.path.join(self.inst.queue, "incoming", qid2))
        self.assertEqual(q2["sender"], "new@example.org")  # sender_canonical_maps
        self.assertEqual([h.split(":")[0] for h in q2["headers"]], [])  # remote context
        s.close()

    def test_failures_leave_no_file(self):
        s = self.session()
        self.open_message(s)
        s.sendall(record("S", "a@b.example") + record("M") + record("B", "x\n") + record("."))
        reply = read_frame(s)
        self.assertEqual((get(reply, "status"), get(reply, "reason")),
                         (0x20, "No recipients specified"))
        self.open_message(s)
        s.sendall(record("S", "a@b.example") + rcpt("c@d.example") + record("M") +
                  record("B", "y" * 30000) + record("."))
        self.assertEqual(get(read_frame(s), "status"), 0x04)
        self.open_message(s)
        s.sendall(record("S", "a@b.example") + rcpt("c@d.example") + record("!"))
        self.assertEqual(get(read_frame(s), "status"), 0)
        self.open_message(s)
        s.sendall(record("Q", "bogus") + record("."))
        self.assertEqual(get(read_frame(s), "status") & 0x01, 0x01)
        self.open_message(s)
        s.sendall(record("S", "a@b.example"))
        s.close()  # lost client mid-stream
        s = self.session()  # a new client is served; the partial files are gone
        self.open_message(s)
        s.sendall(record("!"))
        read_frame(s)
        s.close()
        self.assertTrue(poll(lambda: self.incoming() == []), self.incoming())


class FlowControl(unittest.TestCase):
    """in_flow_delay: without a queue manager to hand out tokens, each new message waits for
    one as long as in_flow_delay, then goes on; with in_flow_delay = 0 nothing waits."""

    def setUp(self):
        self.inst = Instance("cleanup unix n - n - 0 cleanup\n",
                             "myhostname = mail.example.org\nin_flow_delay = 3s\n")
        self.addCleanup(self.inst.cleanup)
        self.inst.start()

    def time_open(self):
        import time
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(20)
        s.connect(self.inst.unix_path("cleanup", private=False))
        read_frame(s)
        start = time.monotonic()
        s.sendall(frame([("req", "open"), ("flags", 0)]))
        self.assertEqual(get(read_frame(s), "status"), 0)
        elapsed = time.monotonic() - start
        s.close()
        return elapsed

    def test_a_message_waits_for_a_token(self):
        self.assertGreaterEqual(self.time_open(), 2.9)
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("in_flow_delay = 0\n")
        self.assertTrue(self.inst.reload())
        self.assertLess(self.time_open(), 2.0)
