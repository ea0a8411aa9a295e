"""The restriction lists of the later stages, as a client sees them (replies and log lines
checked against Postfix 3.7): smtpd_data_restrictions at DATA (and BDAT),
smtpd_end_of_data_restrictions once the message is in (a refused message is not queued), and
reject_unauth_pipelining for a client that sends commands before it may."""
import os
import re
import smtplib
import socket
import unittest

from instance import Instance, free_port, poll

CLIENT = "127.0.0.2"  # outside mynetworks


@unittest.skipUnless(os.getuid() == 0, "needs root")
class Stages(unittest.TestCase):
    def setUp(self):
        self.port, self.nodelay, self.early = free_port(), free_port(), free_port()
        self.inst = Instance(f"127.0.0.1:{self.port} inet n - n - - smtpd\n"
                             f"127.0.0.1:{self.early} inet n - n - - smtpd "
                             "-o smtpd_delay_open_until_valid_rcpt=no\n"
                             f"127.0.0.1:{self.nodelay} inet n - n - - smtpd "
                             "-o smtpd_delay_reject=no -o smtpd_client_restrictions=$nodelay_client "
                             "-o smtpd_helo_restrictions=reject_non_fqdn_helo_hostname\n"
                             "cleanup unix n - n - 0 cleanup\n"
                             "qmgr unix n - n 300 1 qmgr\n"
                             "rewrite unix - - n - - trivial-rewrite\n"
                             "discard unix - - n - - discard\n")
        self.addCleanup(self.inst.cleanup)
        self.inst.write_main(
            "myhostname = mx.example.org\nmydestination = localhost\nalias_maps =\n"
            "local_recipient_maps =\nmynetworks = 127.0.0.1/32\n"
            "default_transport = discard\nlocal_transport = discard\n"
            "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n"
            "smtpd_recipient_restrictions = reject_unauth_pipelining, check_recipient_access "
            "inline:{ {held@localhost=HOLD}, {dropped@localhost=DISCARD spam}, "
            "{moved@localhost=REDIRECT other@localhost}, {copied@localhost=BCC copy@localhost} }\n"
            "smtpd_forbid_unauth_pipelining = no\n"
            "smtpd_data_restrictions = reject_multi_recipient_bounce\n"
            "nodelay_client = check_client_access inline:{ {127.0.0.3=REJECT go away} }\n"
            "smtpd_end_of_data_restrictions = "
            "check_sender_access inline:{ {spam@example.net=REJECT not from you} }\n")
        self.assertTrue(self.inst.start())

    def client(self):
        c = smtplib.SMTP(source_address=(CLIENT, 0), timeout=30)
        c.connect("127.0.0.1", self.port)
        self.addCleanup(c.close)
        c.ehlo("client.example")
        return c

    def test_data_restrictions(self):
        c = self.client()
        c.mail("<>")
        c.rcpt("root@localhost")
        c.rcpt("postmaster@localhost")
        self.assertEqual(c.docmd("DATA"),
                         (550, b"5.5.3 <DATA>: Data command rejected: Multi-recipient bounce"))
        c.send(b"BDAT 4 LAST\r\ntext")
        self.assertEqual(c.getreply()[0], 550)
        c.rset()
        c.mail("<>")
        c.rcpt("root@localhost")
        self.assertEqual(c.data(b"Subject: one bounce\r\n\r\nfine\r\n")[0], 250)
        log = self.inst.log()
        self.assertRegex(log, r"[0-9A-F]+: reject: DATA from \S+\[127\.0\.0\.2\]: 550 5\.5\.3 "
                              r"<DATA>: Data command rejected: Multi-recipient bounce; from=<> "
                              r"proto=ESMTP helo=<client\.example>\n")

    def test_end_of_data_restrictions(self):
        c = self.client()
        c.mail("spam@example.net")
        c.rcpt("root@localhost")
        self.assertEqual(c.data(b"Subject: x\r\n\r\nbuy now\r\n"),
                         (554, b"5.7.1 <spam@example.net>: Sender address rejected: not from you"))
        c.mail("ham@example.net")
        c.rcpt("root@localhost")
        code, text = c.data(b"Subject: y\r\n\r\nhello\r\n")
        self.assertEqual(code, 250)
        queued = text.decode().split()[-1]
        self.assertTrue(poll(lambda: f"{queued}: removed" in self.inst.log()))
        log = self.inst.log()
        refused = re.search(r"([0-9A-F]+): reject: END-OF-MESSAGE from \S+\[127\.0\.0\.2\]: 554 "
                            r"5\.7\.1 <spam@example\.net>: Sender address rejected: not from you; "
                            r"from=<spam@example\.net> to=<root@localhost> proto=ESMTP "
                            r"helo=<client\.example>\n", log)
        self.assertIsNotNone(refused, log)
        # the refused message never reached the queue manager
        self.assertNotIn(f"{refused.group(1)}: from=<spam@example.net>", log)

    def send(self, rcpt):
        c = self.client()
        c.mail("a@example.net")
        self.assertEqual(c.rcpt(rcpt)[0], 250)
        code, text = c.data(b"Subject: s\r\n\nbody\r\n")
        self.assertEqual(code, 250, text)
        c.quit()
        return text.decode().split()[-1]

    def test_message_actions(self):
        held = self.send("held@localhost")
        self.assertTrue(poll(lambda: os.path.exists(os.path.join(self.inst.queue, "hold", held))))
        dropped = self.send("dropped@localhost")
        moved = self.send("moved@localhost")
        copied = self.send("copied@localhost")
        delivered = r"{}: to=<{}>,.* status=sent"
        self.assertTrue(poll(lambda: re.search(delivered.format(moved, "other@localhost"),
                                               self.inst.log())), self.inst.log())
        self.assertTrue(poll(lambda: re.search(delivered.format(copied, "copy@localhost"),
                                               self.inst.log())), self.inst.log())
        log = self.inst.log()
        self.assertRegex(log, delivered.format(copied, "copied@localhost"))
        self.assertNotIn(f"{dropped}: from=", log)  # never queued
        self.assertNotIn(f"{held}: from=", log)     # not until released
        self.assertRegex(log, r"NOQUEUE: hold: RCPT from \S+\[127\.0\.0\.2\]: <held@localhost>: "
                              r"Recipient address triggers HOLD action; from=<a@example\.net> "
                              r"to=<held@localhost> proto=ESMTP helo=<client\.example>\n")
        self.assertRegex(log, r"NOQUEUE: discard: RCPT from \S+: <dropped@localhost>: Recipient "
                              r"address spam; ")
        self.assertRegex(log, r"NOQUEUE: redirect: RCPT from \S+: <moved@localhost>: Recipient "
                              r"address triggers REDIRECT other@localhost; ")

    def test_no_delay_reject(self):
        # the client list refuses at the connection: its reply is the greeting, then every
        # command but QUIT is refused
        s = socket.create_connection(("127.0.0.1", self.nodelay), timeout=30,
                                     source_address=("127.0.0.3", 0))
        self.addCleanup(s.close)
        f = s.makefile("rb")
        self.assertEqual(f.readline(),
                         b"554 5.7.1 <unknown[127.0.0.3]>: Client host rejected: go away\r\n")
        s.sendall(b"EHLO client.example\r\n")
        self.assertEqual(f.readline(), b"503 5.7.0 Error: access denied for unknown[127.0.0.3]\r\n")
        s.sendall(b"QUIT\r\n")
        self.assertEqual(f.readline(), b"221 2.0.0 Bye\r\n")
        # the helo list at EHLO
        c = smtplib.SMTP(source_address=(CLIENT, 0), timeout=30)
        c.connect("127.0.0.1", self.nodelay)
        self.addCleanup(c.close)
        self.assertEqual(c.ehlo("local"),
                         (504, b"5.5.2 <local>: Helo command rejected: need fully-qualified hostname"))
        self.assertEqual(c.ehlo("client.example")[0], 250)
        disconnect = r"disconnect from unknown\[127\.0\.0\.3\] ehlo=0/1 quit=1 commands=1/2\n"
        self.assertTrue(poll(lambda: re.search(disconnect, self.inst.log())), self.inst.log())
        log = self.inst.log()
        self.assertIn("NOQUEUE: reject: CONNECT from unknown[127.0.0.3]: 554 5.7.1 "
                      "<unknown[127.0.0.3]>: Client host rejected: go away; proto=SMTP\n", log)
        self.assertIn(f"NOQUEUE: reject: EHLO from unknown[{CLIENT}]: 504 5.5.2 <local>: Helo "
                      "command rejected: need fully-qualified hostname; proto=SMTP helo=<local>\n",
                      log)

    def test_queue_file_at_mail(self):
        # smtpd_delay_open_until_valid_rcpt = no: the queue file (and its ID) at MAIL
        c = smtplib.SMTP(source_address=(CLIENT, 0), timeout=30)
        c.connect("127.0.0.1", self.early)
        self.addCleanup(c.close)
        c.ehlo("client.example")
        c.mail("a@example.net")
        found = poll(lambda: re.search(rf"([0-9A-F]+): client=unknown\[{re.escape(CLIENT)}\]",
                                       self.inst.log()))
        self.assertTrue(found, self.inst.log())
        queue_id = found.group(1)
        incoming = os.path.join(self.inst.queue, "incoming")
        self.assertTrue(any(queue_id in files for _, _, files in os.walk(incoming)))
        self.assertEqual(c.rcpt("x@elsewhere.example")[0], 554)
        self.assertIn(f"{queue_id}: reject: RCPT from unknown[{CLIENT}]: 554 5.7.1 "
                      "<x@elsewhere.example>: Relay access denied", self.inst.log())
        c.rset()  # no recipient: the file goes again
        self.assertTrue(poll(lambda: not any(queue_id in files
                                             for _, _, files in os.walk(incoming))))

    def test_unauth_pipelining(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=30,
                                     source_address=(CLIENT, 0))
        self.addCleanup(s.close)
        s.recv(1024)
        s.sendall(b"HELO client.example\r\n")
        s.recv(1024)
        # HELO offered no PIPELINING: three commands at once
        s.sendall(b"MAIL FROM:<a@example.net>\r\nRCPT TO:<root@localhost>\r\nNOOP\r\n")
        replies = b""
        while replies.count(b"\r\n") < 3:
            chunk = s.recv(4096)
            if not chunk:
                break
            replies += chunk
        self.assertEqual(replies, b"250 2.1.0 Ok\r\n503 5.5.0 <root@localhost>: Recipient address "
                                  b"rejected: Improper use of SMTP command pipelining\r\n"
                                  b"250 2.0.0 Ok\r\n")
        log = self.inst.log()
        self.assertIn(f"improper command pipelining after MAIL from unknown[{CLIENT}]: "
                      "RCPT TO:<root@localhost>\\r\\nNOOP\\r\\n\n", log)
        # a client that waits for each reply is not refused
        c = self.client()
        c.mail("a@example.net")
        self.assertEqual(c.rcpt("root@localhost")[0], 250)


@unittest.skipUnless(os.getuid() == 0, "needs root")
class Footer(unittest.TestCase):
    """smtpd_reject_footer after every 4XX and 5XX reply, smtpd_reject_footer_maps by reply
    (checked against Postfix 3.7)."""

    def setUp(self):
        self.port, self.joined = free_port(), free_port()
        self.inst = Instance(f"127.0.0.1:{self.port} inet n - n - - smtpd\n"
                             f"127.0.0.1:{self.joined} inet n - n - - smtpd "
                             "-o smtpd_reject_footer=$joined_footer\n"
                             "cleanup unix n - n - 0 cleanup\n"
                             "rewrite unix - - n - - trivial-rewrite\n")
        self.addCleanup(self.inst.cleanup)
        maps = os.path.join(self.inst.etc, "footers")
        with open(maps, "w") as fp:
            fp.write("/Relay access denied/ Relaying is for customers: see https://example.org/relay\n")
        self.inst.write_main(
            "myhostname = mx.example.org\nmydestination = localhost\nalias_maps =\n"
            "mynetworks = 127.0.0.1/32\n"
            "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n"
            "smtpd_reject_footer = For help, write to postmaster (client $client_address, "
            "server $server_name)\\nand quote this text.\n"
            "joined_footer = \\c. See https://example.org/why?ip=$client_address\n"
            f"smtpd_reject_footer_maps = regexp:{maps}\n")
        self.assertTrue(self.inst.start())

    def test_footers(self):
        c = smtplib.SMTP(source_address=(CLIENT, 0), timeout=30)
        c.connect("127.0.0.1", self.port)
        self.addCleanup(c.close)
        c.ehlo("client.example")
        c.sock.sendall(b"VRFY\r\n")
        self.assertEqual(c.sock.recv(4096),
                         b"501-5.5.4 Syntax: VRFY address\r\n"
                         b"501-5.5.4 For help, write to postmaster (client 127.0.0.2, server "
                         b"mx.example.org)\r\n501 5.5.4 and quote this text.\r\n")
        c.mail("a@example.net")
        self.assertEqual(c.rcpt("x@elsewhere.example"),
                         (554, b"5.7.1 <x@elsewhere.example>: Relay access denied\n"
                               b"5.7.1 Relaying is for customers: see https://example.org/relay"))
        # the log has the reply alone
        self.assertIn("Relay access denied; from=<a@example.net>", self.inst.log())
        d = smtplib.SMTP(source_address=(CLIENT, 0), timeout=30)
        d.connect("127.0.0.1", self.joined)
        self.addCleanup(d.close)
        self.assertEqual(d.docmd("FOO"), (500, b"5.5.2 Error: command not recognized. See "
                                                b"https://example.org/why?ip=127.0.0.2"))


if __name__ == "__main__":
    unittest.main()
