"""check_policy_service against a policy server written here (the delegation protocol as
postfwd and policyd-spf speak it): the request's attributes, in the reference's order, the
same "instance" for a transaction's recipients and a new one for the next; the actions
REJECT, DEFER_IF_PERMIT, PREPEND (the header goes first in the delivered message), WARN and
INFO (logged), DUNNO, "521 ..." (the session ends); one connection for many requests;
warn_if_reject and defer_if_permit in a list; restriction classes, named in a list and as an
access table's action; sleep, reject_multi_recipient_bounce, reject_unlisted_recipient and
permit_inet_interfaces; a
server that cannot be reached gets smtpd_policy_service_default_action after
smtpd_policy_service_try_limit tries, with the reference's warnings. Replies and log lines
checked against Postfix 3.7."""
import os
import socket
import smtplib
import threading
import time
import unittest

import test_delivery
from instance import free_port, poll

ACTIONS = {"rej": "REJECT go away", "dip": "DEFER_IF_PERMIT busy", "alias": "PREPEND X-Policy: checked",
           "warn": "WARN note", "info": "INFO fyi", "c521": "521 5.7.1 go away"}
ORDER = ["request", "protocol_state", "protocol_name", "client_address", "client_name",
         "client_port", "reverse_client_name", "server_address", "server_port", "helo_name",
         "sender", "recipient", "recipient_count", "queue_id", "instance", "size", "etrn_domain",
         "stress", "sasl_method", "sasl_username", "sasl_sender", "ccert_subject", "ccert_issuer",
         "ccert_fingerprint", "ccert_pubkey_fingerprint", "encryption_protocol",
         "encryption_cipher", "encryption_keysize", "policy_context"]


class PolicyServer:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.requests = []  # [(name, value)] each
        self.connections = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        with conn, conn.makefile("rb") as f:
            while True:
                attrs = []
                for line in f:
                    line = line.decode().rstrip("\n")
                    if not line:
                        break
                    name, _, value = line.partition("=")
                    attrs.append((name, value))
                else:
                    return
                self.requests.append(attrs)
                rcpt = dict(attrs).get("recipient", "")
                action = ACTIONS.get(rcpt.split("@")[0], "DUNNO")
                conn.sendall(f"action={action}\n\n".encode())

    def close(self):
        self.sock.close()


@unittest.skipUnless(os.getuid() == 0, "the virtual agent needs root")
class Policy(test_delivery.Delivery):
    def setUp(self):
        super().setUp()
        self.server = PolicyServer()
        self.addCleanup(self.server.close)
        self.port, self.down = free_port(), free_port()
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]
        self.warn, self.cls, self.misc = free_port(), free_port(), free_port()
        self.inst.postfix("stop")
        self.inst.write_master(test_delivery.SERVICES +
                               f"127.0.0.1:{self.port} inet n - n - - smtpd\n"
                               f"127.0.0.1:{self.warn} inet n - n - - smtpd -o "
                               "smtpd_recipient_restrictions=warn_if_reject,"
                               "reject_non_fqdn_recipient,defer_if_permit,permit\n"
                               f"127.0.0.1:{self.cls} inet n - n - - smtpd -o "
                               "smtpd_recipient_restrictions=strict\n"
                               f"127.0.0.1:{self.misc} inet n - n - - smtpd -o "
                               "smtpd_recipient_restrictions=sleep,1,"
                               "reject_multi_recipient_bounce,reject_unlisted_recipient,"
                               "permit_inet_interfaces,reject -o "
                               "smtpd_reject_unlisted_recipient=no\n"
                               f"127.0.0.1:{self.down} inet n - n - - smtpd -o "
                               "smtpd_recipient_restrictions=check_policy_service,"
                               f"inet:127.0.0.1:{closed}\n")
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("alias_maps =\nsmtpd_recipient_restrictions = check_policy_service "
                     f"inet:127.0.0.1:{self.server.port}, permit_mynetworks, reject\n"
                     "smtpd_restriction_classes = strict, stricter\n"
                     "strict = check_recipient_access inline:{ {bad@example.org = REJECT no}, "
                     "{worse@example.org = stricter} }, permit\n"
                     "stricter = reject\n")
        self.closed = closed
        self.inst.start()

    def test_actions(self):
        c = smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.example", timeout=20)
        c.ehlo()
        c.docmd("MAIL FROM:<s@example.org>")
        self.assertEqual(c.docmd("RCPT TO:<rej@example.org>"),
                         (554, b"5.7.1 <rej@example.org>: Recipient address rejected: go away"))
        self.assertEqual(c.docmd("RCPT TO:<dip@example.org>"),
                         (450, b"4.7.1 <dip@example.org>: Recipient address rejected: busy"))
        self.assertEqual(c.docmd("RCPT TO:<warn@example.org>")[0], 550)  # no such mailbox
        self.assertEqual(c.docmd("RCPT TO:<info@example.org>")[0], 250)
        c.docmd("RSET")
        c.docmd("MAIL FROM:<s@example.org>")
        self.assertEqual(c.docmd("RCPT TO:<alias@example.org>")[0], 250)
        self.assertEqual(c.docmd("DATA")[0], 354)
        c.send(b"Subject: policy\r\n\r\nbody\r\n.\r\n")
        self.assertEqual(c.getreply()[0], 250)
        c.docmd("MAIL FROM:<s@example.org>")
        self.assertEqual(c.docmd("RCPT TO:<c521@example.org>"),
                         (521, b"5.7.1 <c521@example.org>: Recipient address rejected: go away"))
        with self.assertRaises(smtplib.SMTPServerDisconnected):
            c.docmd("NOOP")
        log = self.inst.log()
        self.assertRegex(log, r"NOQUEUE: warn: RCPT from \S+\[127\.0\.0\.1\]: note; "
                              r"from=<s@example\.org> to=<warn@example\.org> proto=ESMTP "
                              r"helo=<client\.example>\n")
        self.assertRegex(log, r"NOQUEUE: info: RCPT from \S+\[127\.0\.0\.1\]: fyi; ")
        self.assertRegex(log, r"NOQUEUE: reject: RCPT from \S+\[127\.0\.0\.1\]: 450 4\.7\.1 "
                              r"<dip@example\.org>: Recipient address rejected: busy; ")
        # the request: every attribute, in order; one instance per transaction
        first = self.server.requests[0]
        self.assertEqual([name for name, _ in first], ORDER)
        attrs = dict(first)
        self.assertEqual(attrs["request"], "smtpd_access_policy")
        self.assertEqual(attrs["protocol_state"], "RCPT")
        self.assertEqual(attrs["client_address"], "127.0.0.1")
        self.assertEqual(attrs["helo_name"], "client.example")
        self.assertEqual(attrs["sender"], "s@example.org")
        self.assertEqual(attrs["recipient"], "rej@example.org")
        self.assertEqual(attrs["server_port"], str(self.port))
        instances = [dict(r)["instance"] for r in self.server.requests]
        self.assertEqual(len(set(instances[:4])), 1)
        self.assertNotEqual(instances[3], instances[4])
        self.assertEqual(self.server.connections, 1)
        # PREPEND: that header first, above Received
        self.assertTrue(poll(lambda: self.maildir_files("example.org", "info"), timeout=20),
                        self.inst.log())
        with open(self.maildir_files("example.org", "info")[0]) as fp:
            head = fp.read().split("\n")
        start = next(i for i, line in enumerate(head)  # after what the delivery agent adds
                     if not line.startswith(("Return-Path", "Delivered-To", "X-Original-To")))
        self.assertEqual(head[start], "X-Policy: checked")
        self.assertTrue(head[start + 1].startswith("Received: from client.example"), head)

    def test_a_helo_with_a_line_end_adds_no_attribute(self):
        # a CR in the middle of HELO (its LF would end the command) reaches the policy
        # request as '?', never as the start of an attribute of the client's choosing
        s = socket.create_connection(("127.0.0.1", self.port), timeout=20)
        self.addCleanup(s.close)
        s.recv(1024)
        s.sendall(b"HELO client.example\rsender=forged@example.org\r\n")
        s.recv(1024)
        s.sendall(b"MAIL FROM:<s@example.org>\r\n")
        s.recv(1024)
        s.sendall(b"RCPT TO:<info@example.org>\r\n")
        s.recv(1024)
        self.assertTrue(poll(lambda: self.server.requests, timeout=10))
        attrs = self.server.requests[0]
        self.assertEqual(dict(attrs)["helo_name"], "client.example?sender=forged@example.org")
        self.assertEqual([v for n, v in attrs if n == "sender"], ["s@example.org"])

    def test_server_down(self):
        c = smtplib.SMTP("127.0.0.1", self.down, local_hostname="client.example", timeout=30)
        c.ehlo()
        c.docmd("MAIL FROM:<s@example.org>")
        self.assertEqual(c.docmd("RCPT TO:<box@example.org>"),
                         (451, b"4.3.5 <box@example.org>: Recipient address rejected: Server "
                               b"configuration problem"))
        c.quit()
        log = self.inst.log()
        self.assertEqual(log.count(f"warning: connect to 127.0.0.1:{self.closed}: Connection "
                                   "refused\n"), 2)
        self.assertEqual(log.count(f"warning: problem talking to server 127.0.0.1:{self.closed}: "
                                   "Connection refused\n"), 2)

    def test_warn_if_reject_and_defer_if_permit(self):
        c = smtplib.SMTP("127.0.0.1", self.warn, local_hostname="client.example", timeout=20)
        c.ehlo()
        c.docmd("MAIL FROM:<s@example.org>")
        self.assertEqual(c.docmd("RCPT TO:<u@nodot>"),
                         (450, b"4.7.0 <u@nodot>: Recipient address rejected: defer_if_permit "
                               b"requested"))
        c.quit()
        self.assertRegex(self.inst.log(),
                         r"NOQUEUE: reject_warning: RCPT from \S+\[127\.0\.0\.1\]: 504 5\.5\.2 "
                         r"<u@nodot>: Recipient address rejected: need fully-qualified address; "
                         r"from=<s@example\.org> to=<u@nodot> proto=ESMTP helo=<client\.example>\n")

    def test_restriction_classes(self):
        c = smtplib.SMTP("127.0.0.1", self.cls, local_hostname="client.example", timeout=20)
        c.ehlo()
        c.docmd("MAIL FROM:<s@example.org>")
        self.assertEqual(c.docmd("RCPT TO:<bad@example.org>"),
                         (554, b"5.7.1 <bad@example.org>: Recipient address rejected: no"))
        self.assertEqual(c.docmd("RCPT TO:<worse@example.org>"),
                         (554, b"5.7.1 <worse@example.org>: Recipient address rejected: Access "
                               b"denied"))
        self.assertEqual(c.docmd("RCPT TO:<info@example.org>")[0], 250)
        c.quit()

    def test_sleep_bounces_unlisted_interfaces(self):
        c = smtplib.SMTP("127.0.0.1", self.misc, local_hostname="client.example", timeout=20)
        c.ehlo()
        c.docmd("MAIL FROM:<>")
        started = time.monotonic()
        self.assertEqual(c.docmd("RCPT TO:<info@example.org>")[0], 250)  # an interface's client
        self.assertGreaterEqual(time.monotonic() - started, 1.0)  # sleep 1
        self.assertEqual(c.docmd("RCPT TO:<alias@example.org>"),
                         (550, b"5.5.3 <alias@example.org>: Recipient address rejected: "
                               b"Multi-recipient bounce"))
        c.docmd("RSET")
        c.docmd("MAIL FROM:<s@example.org>")
        self.assertEqual(c.docmd("RCPT TO:<nobody-here@example.org>"),
                         (550, b"5.1.1 <nobody-here@example.org>: Recipient address rejected: "
                               b"User unknown in virtual mailbox table"))
        self.assertEqual(c.docmd("RCPT TO:<alias@example.org>")[0], 250)
        c.quit()

    test_maildir_and_mbox_delivery = None
    test_unknown_user_bounces_and_unreachable_transport_defers = None
    test_crash_left_in_active_is_delivered_after_restart = None
    test_mailbox_size_limit = None
    test_bounce_notice_reaches_the_sender = None
    test_expired_mail_returns_to_sender = None
    test_delay_warning_is_sent_once = None


if __name__ == "__main__":
    unittest.main()
