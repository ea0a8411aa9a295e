"""TLS in smtpd, with real clients (Python's ssl, openssl s_client): STARTTLS offered and
required (smtpd_tls_security_level may and encrypt, and the older smtpd_use_tls and
smtpd_enforce_tls), wrapper mode for port 465, a session resumed with another smtpd process
through the ticket keys tlsmgr keeps, the reference's log line and Received clause,
454 when the certificate cannot be used, nothing pipelined after STARTTLS ever taken for a
command, and handshakes of garbage or that stop half-way answered without harm."""
import os
import pwd
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import unittest

from harness import run
from instance import Instance, free_port, poll


def client_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@unittest.skipUnless(os.getuid() == 0 and shutil.which("openssl"),
                     "privileged agents, chroot and the openssl command")
class Tls(unittest.TestCase):
    def setUp(self):
        self.may, self.encrypt, self.wrapper = free_port(), free_port(), free_port()
        self.legacy, self.broken, self.once = free_port(), free_port(), free_port()
        smtpd = "inet n - y - - smtpd"
        self.inst = Instance(
            f"127.0.0.1:{self.may} {smtpd}\n"
            f"127.0.0.1:{self.encrypt} {smtpd}\n  -o smtpd_tls_security_level=encrypt\n"
            f"127.0.0.1:{self.wrapper} {smtpd}\n  -o smtpd_tls_wrappermode=yes\n"
            f"127.0.0.1:{self.legacy} {smtpd}\n  -o smtpd_tls_security_level=\n"
            "  -o smtpd_enforce_tls=yes\n"
            f"127.0.0.1:{self.broken} {smtpd}\n  -o smtpd_tls_cert_file=/nonexistent/cert.pem\n"
            "  -o smtpd_tls_key_file=/nonexistent/key.pem\n"
            f"127.0.0.1:{self.once} {smtpd}\n  -o max_use=1\n"
            "tlsmgr unix - - y 1000? 1 tlsmgr\n"
            "cleanup unix n - y - 0 cleanup\n"
            "qmgr unix n - n 300 1 qmgr\n"
            "rewrite unix - - y - - trivial-rewrite\n"
            "virtual unix - n n - - virtual\n")
        self.addCleanup(self.inst.cleanup)
        tls = os.path.join(self.inst.dir, "tls")
        os.mkdir(tls, 0o700)  # root's: read before the chroot, as root
        self.cert, self.key = os.path.join(tls, "cert.pem"), os.path.join(tls, "key.pem")
        res = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                              "-keyout", self.key, "-out", self.cert, "-days", "30",
                              "-subj", "/CN=mail.example.org"], capture_output=True, text=True)
        self.assertEqual(res.returncode, 0, res.stderr)
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
            f"smtpd_tls_cert_file = {self.cert}\nsmtpd_tls_key_file = {self.key}\n"
            "smtpd_tls_security_level = may\nsmtpd_tls_loglevel = 1\n"
            "smtpd_tls_received_header = yes\nsmtpd_starttls_timeout = 3s\n"
            "smtpd_tls_session_cache_database = btree:${data_directory}/smtpd_scache\n")
        self.inst.start()

    def delivered(self):
        new = os.path.join(self.vmail, "example.org", "info", "new")
        return [open(os.path.join(new, f)).read() for f in sorted(os.listdir(new))] \
            if os.path.isdir(new) else []

    def read_reply(self, f):
        """The lines of one (multi-line) reply; fails at the end of input."""
        lines = []
        while not lines or lines[-1][3:4] == b"-":
            line = f.readline()
            self.assertTrue(line, lines)
            lines.append(line)
        return lines

    def smtp(self, port):
        c = smtplib.SMTP("127.0.0.1", port, local_hostname="client.example", timeout=20)
        self.addCleanup(c.close)
        return c

    def test_starttls_then_mail_with_the_log_line_and_received_clause(self):
        c = self.smtp(self.may)
        code, text = c.ehlo()
        self.assertIn(b"\nSTARTTLS\n", text)
        self.assertEqual(c.starttls(context=client_context()), (220, b"2.0.0 Ready to start TLS"))
        code, text = c.ehlo()
        self.assertNotIn(b"STARTTLS", text)  # the session started over; no second STARTTLS
        self.assertEqual(c.docmd("STARTTLS"), (554, b"5.5.1 Error: TLS already active"))
        self.assertEqual(c.sendmail("a@example.com", ["info@example.org"],
                                    b"Subject: over-tls\r\n\r\nhello\r\n"), {})
        c.quit()
        self.assertTrue(poll(lambda: len(self.delivered()) == 1, timeout=15), self.inst.log())
        msg = self.delivered()[0]
        self.assertRegex(msg, r"Received: from client\.example \(localhost \[127\.0\.0\.1\]\)\n"
                              r"\t\(using TLSv1\.3 with cipher TLS_AES_256_GCM_SHA384 "
                              r"\(256/256 bits\)\n"
                              r"\t key-exchange X25519 server-signature RSA-PSS \(2048 bits\) "
                              r"server-digest SHA256\)\n"
                              r"\t\(No client certificate requested\)\n"
                              r"\tby mail\.example\.org \(Postern\) with ESMTPS id [0-9A-F]+\n")
        self.assertTrue(poll(lambda: "disconnect from" in self.inst.log(), timeout=10))
        log = self.inst.log()
        self.assertIn("Anonymous TLS connection established from localhost[127.0.0.1]: TLSv1.3 "
                      "with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 "
                      "server-signature RSA-PSS (2048 bits) server-digest SHA256\n", log)
        self.assertRegex(log, r"disconnect from localhost\[127\.0\.0\.1\] ehlo=2 starttls=1/2 "
                              r"mail=1 rcpt=1 data=1 quit=1 commands=7/8")

    def test_a_ticket_from_one_smtpd_resumes_with_another(self):
        # max_use=1: every session is a new smtpd process; the ticket keys come from tlsmgr
        ctx = client_context()
        session, reused = None, []
        for _ in range(3):
            c = self.smtp(self.once)
            c.ehlo()
            self.assertEqual(c.docmd("STARTTLS")[0], 220)
            c.sock = ctx.wrap_socket(c.sock, server_hostname="mail.example.org",
                                     session=session)
            c.file = None  # smtplib reads through the TLS socket from now on
            c.ehlo_resp, c.esmtp_features, c.does_esmtp = None, {}, False
            c.ehlo()
            c.noop()  # TLS 1.3 tickets arrive after the handshake
            reused.append(c.sock.session_reused)
            session = c.sock.session
            c.quit()
        self.assertEqual(reused, [False, True, True])
        self.assertTrue(poll(lambda: self.inst.log().count("disconnect from") >= 3, timeout=10))
        pids = set(re.findall(r"postfix/smtpd\[(\d+)\]: disconnect from", self.inst.log()))
        self.assertEqual(len(pids), 3, self.inst.log())

    def test_a_session_id_from_the_cache_without_tickets(self):
        # TLS 1.2 without tickets: smtpd_scache (kept by tlsmgr) knows the session ID
        sess = os.path.join(self.inst.dir, "session.pem")
        outputs = []
        for opt in ("-sess_out", "-sess_in"):
            res = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.once}",
                                  "-starttls", "smtp", "-tls1_2", "-no_ticket", opt, sess],
                                 input="QUIT\r\n", capture_output=True, text=True, timeout=30)
            outputs.append(res.stdout)
        self.assertIn("New, TLSv1.2", outputs[0])
        self.assertIn("Reused, TLSv1.2", outputs[1])

    def test_posttls_finger(self):
        env = {"MAIL_CONFIG": self.inst.etc}
        res = run(["posttls-finger", "-c", "-l", "may", f"[127.0.0.1]:{self.may}"], env=env)
        self.assertEqual(res.rc, 0, res)
        self.assertRegex(res.err, rf"posttls-finger: 127\.0\.0\.1\[127\.0\.0\.1\]:{self.may}: "
                                  r"subject_CN=mail\.example\.org, issuer_CN=mail\.example\.org, "
                                  r"fingerprint=([0-9A-F]{2}:){31}[0-9A-F]{2}, "
                                  r"pkey_fingerprint=([0-9A-F]{2}:){31}[0-9A-F]{2}\n")
        self.assertIn("posttls-finger: Untrusted TLS connection established to "
                      f"127.0.0.1[127.0.0.1]:{self.may}: TLSv1.3 with cipher", res.err)
        self.assertNotIn("> EHLO", res.err)  # -c: no chat
        # secure, with the certificate as the CA and its name to match; the chat this time
        res = run(["posttls-finger", "-l", "secure", "-F", self.cert,
                   f"[127.0.0.1]:{self.may}", "mail.example.org"], env=env)
        self.assertIn("posttls-finger: > STARTTLS\nposttls-finger: < 220 2.0.0 Ready to start "
                      "TLS\n", res.err)
        self.assertIn("posttls-finger: Verified TLS connection established to", res.err)
        self.assertTrue(res.err.endswith("posttls-finger: > QUIT\n"
                                         "posttls-finger: < 221 2.0.0 Bye\n"), res.err)
        res = run(["posttls-finger", "-c", "-l", "secure", f"[127.0.0.1]:{self.may}"], env=env)
        self.assertIn("certificate verification failed for 127.0.0.1[127.0.0.1]:"
                      f"{self.may}: self-signed certificate", res.err)

    def test_one_ticket_after_a_full_handshake_none_after_resumption(self):
        # TLS 1.3: the reference issues one ticket after a full handshake, and none when the
        # client resumed with a ticket whose key is still the current one
        sess = os.path.join(self.inst.dir, "session.pem")
        counts = []
        for extra in (["-sess_out", sess], ["-sess_in", sess, "-sess_out", sess + ".2"]):
            res = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.may}",
                                  "-starttls", "smtp", "-tls1_3", "-ign_eof"] + extra,
                                 input="QUIT\r\n", capture_output=True, text=True, timeout=30)
            self.assertIn("221 2.0.0 Bye", res.stdout, res.stderr)
            counts.append((res.stdout.count("Post-Handshake New Session Ticket arrived"),
                           res.stdout.count("\nReused, TLSv1.3")))
        self.assertEqual(counts, [(1, 0), (0, 1)])

    def test_tls12_as_openssl_s_client_speaks_it(self):
        res = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.may}",
                              "-starttls", "smtp", "-tls1_2", "-quiet"],
                             input="QUIT\r\n", capture_output=True, text=True, timeout=30)
        self.assertIn("221 2.0.0 Bye", res.stdout, res.stderr)
        self.assertTrue(poll(lambda: "TLSv1.2" in self.inst.log(), timeout=10))
        self.assertRegex(self.inst.log(), r"Anonymous TLS connection established from "
                                          r"localhost\[127\.0\.0\.1\]: TLSv1\.2 with cipher "
                                          r"ECDHE-RSA-AES256-GCM-SHA384 \(256/256 bits\)\n")

    def test_nothing_pipelined_after_starttls_is_a_command(self):
        s = socket.create_connection(("127.0.0.1", self.may), timeout=20)
        self.addCleanup(s.close)
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"EHLO client.example\r\n")
        self.read_reply(f)
        s.sendall(b"STARTTLS\r\nMAIL FROM:<injected@example.com>\r\n")
        self.assertEqual(f.readline(), b"220 2.0.0 Ready to start TLS\r\n")
        t = client_context().wrap_socket(s, server_hostname="mail.example.org")
        self.addCleanup(t.close)
        tf = t.makefile("rb")
        t.sendall(b"NOOP\r\n")
        # the injected MAIL was never answered: the first reply inside TLS is the NOOP's
        self.assertEqual(tf.readline(), b"250 2.0.0 Ok\r\n")
        t.sendall(b"QUIT\r\n")
        self.assertEqual(tf.readline(), b"221 2.0.0 Bye\r\n")
        # named only as what came too early, as the reference logs it; never a command
        done = (r"disconnect from localhost\[127\.0\.0\.1\] ehlo=1 starttls=1 noop=1 quit=1 "
                r"commands=4\n")
        self.assertTrue(poll(lambda: re.search(done, self.inst.log())), self.inst.log())
        log = self.inst.log()
        self.assertIn("improper command pipelining after STARTTLS from localhost[127.0.0.1]: "
                      "MAIL FROM:<injected@example.com>\\r\\n\n", log)
        self.assertEqual(log.count("injected@example.com"), 1, log)

    def test_encrypt_requires_starttls_first(self):
        for port in (self.encrypt, self.legacy):
            c = self.smtp(port)
            code, text = c.ehlo()
            self.assertIn(b"\nSTARTTLS\n", text)
            self.assertEqual(c.mail("a@example.com"),
                             (530, b"5.7.0 Must issue a STARTTLS command first"))
            self.assertEqual(c.docmd("RCPT TO:<info@example.org>"),
                             (530, b"5.7.0 Must issue a STARTTLS command first"))
            c.starttls(context=client_context())
            c.ehlo()
            self.assertEqual(c.mail("a@example.com")[0], 250)
            c.quit()

    def test_wrapper_mode(self):
        c = smtplib.SMTP_SSL("127.0.0.1", self.wrapper, local_hostname="client.example",
                             timeout=20, context=client_context())
        self.addCleanup(c.close)
        code, text = c.ehlo()
        self.assertNotIn(b"STARTTLS", text)
        self.assertEqual(c.sendmail("a@example.com", ["info@example.org"],
                                    b"Subject: wrapped\r\n\r\nhello\r\n"), {})
        c.quit()
        self.assertTrue(poll(lambda: len(self.delivered()) == 1, timeout=15), self.inst.log())
        self.assertIn(" with ESMTPS id ", self.delivered()[0])
        res = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.wrapper}",
                              "-quiet"], input="QUIT\r\n", capture_output=True, text=True,
                             timeout=30)
        self.assertIn("220 mail.example.org ESMTP Postern", res.stdout, res.stderr)

    def test_an_unusable_certificate_gets_454(self):
        c = self.smtp(self.broken)
        code, text = c.ehlo()
        self.assertIn(b"\nSTARTTLS\n", text)
        self.assertEqual(c.docmd("STARTTLS"),
                         (454, b"4.7.0 TLS not available due to local problem"))
        self.assertEqual(c.mail("a@example.com")[0], 250)  # may: plain text goes on
        c.quit()
        self.assertIn('warning: cannot get RSA certificate from file "/nonexistent/cert.pem": '
                      "disabling TLS support", self.inst.log())

    def test_bad_handshakes_end_the_session_not_the_server(self):
        for payload in (b"\x16\x03\x01\x00\x05garbage and more garbage\r\n", None):
            s = socket.create_connection(("127.0.0.1", self.may), timeout=20)
            f = s.makefile("rb")
            f.readline()
            s.sendall(b"EHLO client.example\r\n")
            self.read_reply(f)
            s.sendall(b"STARTTLS\r\n")
            self.assertEqual(f.readline(), b"220 2.0.0 Ready to start TLS\r\n")
            if payload:
                s.sendall(payload)
            # garbage: refused at once; silence: smtpd_starttls_timeout (3 s) ends it
            s.settimeout(20)
            self.assertEqual(s.recv(4096)[:1] in (b"", b"\x15"), True)
            s.close()
        self.assertTrue(poll(lambda: "Connection timed out" in self.inst.log(), timeout=15),
                        self.inst.log())
        log = self.inst.log()
        self.assertEqual(len(re.findall(r"SSL_accept error from localhost\[127\.0\.0\.1\]: ",
                                        log)), 2, log)
        self.assertIn("lost connection after STARTTLS from localhost[127.0.0.1]", log)
        c = self.smtp(self.may)  # and the service goes on
        self.assertEqual(c.ehlo()[0], 250)
