"""SMTP AUTH in smtpd with real authentication servers: Dovecot (dovecot-core, its auth socket
in private/auth as the seed page configures it) and Cyrus libsasl2 with a sasldb made by
saslpasswd2. The seed's submission entry verbatim (port 587: TLS first, then AUTH, sender
login maps, relay for the authenticated), the smtps entry (wrapper mode), AUTH hidden where
it must be, the reference's replies and failure log lines (read by fail2ban's postfix-sasl
filter), bad input answered clearly, and no credentials in the postmaster's transcripts."""
import base64
import os
import pwd
import re
import shutil
import smtplib
import socket
import subprocess
import unittest

from dovecotauth import DovecotAuth, available
from fakedns import FakeDns
from harness import program, run
from instance import Instance, free_port, poll
from smtpsink import Sink
from test_tls import client_context

DNS_ADDR = "127.0.5.55"


def plain(login, password):
    return base64.b64encode(f"\0{login}\0{password}".encode()).decode()


@unittest.skipUnless(os.getuid() == 0 and available() and shutil.which("openssl") and
                     shutil.which("unshare") and shutil.which("saslpasswd2"),
                     "needs root, dovecot-core, openssl, unshare and sasl2-bin")
class Sasl(unittest.TestCase):
    def setUp(self):
        self.p25, self.sub, self.smtps, self.cyrus = (free_port() for _ in range(4))
        self.sink = Sink(host="127.0.0.1", port=free_port())
        self.addCleanup(self.sink.close)
        self.dns = FakeDns(DNS_ADDR, {("remote.test", "A"): ["127.0.0.1"]})
        self.addCleanup(self.dns.close)
        smtpd = "inet n - y - - smtpd"
        self.inst = Instance(
            # the seed's entries, on loopback ports
            f"127.0.0.1:{self.p25} {smtpd}\n"
            "  -o smtpd_sasl_auth_enable=no\n"
            f"127.0.0.1:{self.sub} inet n       -       y       -       -       smtpd\n"
            "  -o syslog_name=postfix/submission\n"
            "  -o smtpd_tls_security_level=encrypt\n"
            "  -o smtpd_sasl_auth_enable=yes\n"
            "  -o smtpd_sasl_type=dovecot\n"
            "  -o smtpd_sasl_path=private/auth\n"
            "  -o smtpd_sasl_security_options=noanonymous\n"
            "  -o smtpd_sasl_local_domain=$myhostname\n"
            "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject\n"
            "#  -o smtpd_sender_login_maps=hash:/etc/postfix/virtual\n"
            "  -o smtpd_sender_restrictions=reject_sender_login_mismatch\n"
            "  -o smtpd_recipient_restrictions=reject_non_fqdn_recipient,"
            "reject_unknown_recipient_domain,permit_sasl_authenticated,reject\n"
            f"127.0.0.1:{self.smtps}     inet  n       -       -       -       -       smtpd\n"
            "  -o syslog_name=postfix/smtps\n"
            "  -o smtpd_tls_wrappermode=yes\n"
            "  -o smtpd_sasl_auth_enable=yes\n"
            "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject\n"
            # Cyrus: the application "smtpd", its smtpd.conf in $config_directory/sasl
            f"127.0.0.1:{self.cyrus} inet n - n - - smtpd\n"
            "  -o syslog_name=postfix/cyrus\n"
            "  -o smtpd_sasl_auth_enable=yes\n  -o smtpd_sasl_type=cyrus\n"
            "  -o smtpd_sasl_path=smtpd\n  -o smtpd_sasl_local_domain=example.org\n"
            "cleanup unix n - y - 0 cleanup\n"
            "qmgr unix n - n 300 1 qmgr\n"
            "rewrite unix - - y - - trivial-rewrite\n"
            "bounce unix - - y - 0 bounce\n"
            "virtual unix - n n - - virtual\n"
            "smtp unix - - y - - smtp\n")
        self.addCleanup(self.inst.cleanup)
        self.make_cert()
        self.make_cyrus()
        owner = pwd.getpwnam("nobody")
        self.vmail = os.path.join(self.inst.dir, "vmail")
        os.mkdir(self.vmail)
        os.chown(self.vmail, owner.pw_uid, owner.pw_gid)
        senders = os.path.join(self.inst.etc, "controlled_envelope_senders")
        with open(senders, "w") as fp:
            fp.write("# envelope sender    owners (SASL login names)\n"
                     "@example.org yrt127\nfoo@example.org foo\n")
        self.assertEqual(run(["postmap", senders]).rc, 0)
        self.inst.write_main(
            "myhostname = mail.example.org\nmyorigin = example.org\n"
            "mydestination = localhost\nalias_maps =\nmynetworks = 127.0.0.2/32\n"
            "virtual_mailbox_domains = example.org\n"
            f"virtual_mailbox_base = {self.vmail}\n"
            "virtual_mailbox_maps = inline:{ info@example.org=example.org/info/ }\n"
            f"virtual_uid_maps = static:{owner.pw_uid}\n"
            f"virtual_gid_maps = static:{owner.pw_gid}\n"
            f"transport_maps = inline:{{ remote.test=smtp:[127.0.0.1]:{self.sink.port} }}\n"
            f"smtpd_tls_cert_file = {self.cert}\nsmtpd_tls_key_file = {self.key}\n"
            "smtpd_tls_security_level = may\n"
            "smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated "
            "defer_unauth_destination\n"
            # the seed's main.cf
            "smtpd_tls_auth_only = yes\n"
            f"smtpd_sender_login_maps = hash:{senders}\n"
            "smtpd_sasl_type = dovecot\nsmtpd_sasl_path = private/auth\n"
            "notify_classes = protocol\nerror_notice_recipient = info@example.org\n")
        self.start_with_resolver()
        self.dovecot = DovecotAuth(self.inst, {"foo": "foopw", "yrt127": "yrtpw"})
        self.addCleanup(self.dovecot.stop)

    def make_cert(self):
        tls = os.path.join(self.inst.dir, "tls")
        os.mkdir(tls, 0o700)
        self.cert, self.key = os.path.join(tls, "cert.pem"), os.path.join(tls, "key.pem")
        res = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                              "-keyout", self.key, "-out", self.cert, "-days", "30",
                              "-subj", "/CN=mail.example.org"], capture_output=True, text=True)
        self.assertEqual(res.returncode, 0, res.stderr)

    def make_cyrus(self):
        conf = os.path.join(self.inst.etc, "sasl")
        os.mkdir(conf)
        db = os.path.join(self.inst.dir, "sasldb2")
        with open(os.path.join(conf, "smtpd.conf"), "w") as fp:
            fp.write(f"pwcheck_method: auxprop\nauxprop_plugin: sasldb\n"
                     f"mech_list: PLAIN LOGIN\nsasldb_path: {db}\n")
        res = subprocess.run(["saslpasswd2", "-p", "-c", "-f", db, "-u", "example.org", "carol"],
                             input="carolpw", capture_output=True, text=True, timeout=30)
        self.assertEqual(res.returncode, 0, res.stderr)
        postfix = pwd.getpwnam("postfix")
        os.chown(db, postfix.pw_uid, postfix.pw_gid)

    def start_with_resolver(self):
        """postfix start with the test's DNS server as the only resolver, in a mount
        namespace of its own."""
        resolv = os.path.join(self.inst.dir, "resolv.conf")
        with open(resolv, "w") as fp:
            fp.write(f"nameserver {DNS_ADDR}\noptions attempts:2 timeout:2\n")
        env = dict(os.environ, **self.inst.sanitizer_env())
        res = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             f"mount --bind {resolv} /etc/resolv.conf && "
             f"exec {program('postfix')} -c {self.inst.etc} start"],
            env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(res.returncode, 0, res.stderr)

    def smtp(self, port, tls=False):
        c = smtplib.SMTP("127.0.0.1", port, local_hostname="client.example", timeout=20)
        self.addCleanup(c.close)
        if tls:
            c.starttls(context=client_context())
        c.ehlo()
        return c

    def delivered(self):
        new = os.path.join(self.vmail, "example.org", "info", "new")
        return [open(os.path.join(new, f)).read() for f in sorted(os.listdir(new))] \
            if os.path.isdir(new) else []

    def test_the_seed_submission_entry(self):
        c = self.smtp(self.sub)
        self.assertIn("starttls", c.esmtp_features)
        self.assertNotIn("auth", c.esmtp_features)
        self.assertEqual(c.mail("foo@example.org"),
                         (530, b"5.7.0 Must issue a STARTTLS command first"))
        self.assertEqual(c.docmd("AUTH", "PLAIN " + plain("foo", "foopw")),
                         (530, b"5.7.0 Must issue a STARTTLS command first"))
        c.starttls(context=client_context())
        c.ehlo()
        self.assertEqual(c.esmtp_features["auth"], " PLAIN LOGIN")
        # not authenticated: the client restrictions refuse (at RCPT: smtpd_delay_reject)
        self.assertEqual(c.mail("foo@example.org")[0], 250)
        self.assertEqual(c.rcpt("user@remote.test"),
                         (554, b"5.7.1 <localhost[127.0.0.1]>: Client host rejected: "
                               b"Access denied"))
        c.rset()
        self.assertEqual(c.login("foo", "foopw"), (235, b"2.7.0 Authentication successful"))
        self.assertEqual(c.mail("yrt127@example.org")[0], 250)
        self.assertEqual(c.rcpt("user@remote.test"),
                         (553, b"5.7.1 <yrt127@example.org>: Sender address rejected: "
                               b"not owned by user foo"))
        c.rset()
        self.assertEqual(c.mail("foo@example.org")[0], 250)
        self.assertEqual(c.rcpt("user@nowhere.test"),
                         (450, b"4.1.2 <user@nowhere.test>: Recipient address rejected: "
                               b"Domain not found"))
        self.assertEqual(c.rcpt("user@remote.test"), (250, b"2.1.5 Ok"))
        self.assertEqual(c.data(b"Subject: relayed\r\n\r\nhello\r\n")[0], 250)
        c.quit()
        self.assertTrue(poll(lambda: len(self.sink.messages) == 1, timeout=20), self.inst.log())
        sender, rcpts, data = self.sink.messages[0]
        self.assertEqual((sender, rcpts), ("foo@example.org", ["user@remote.test"]))
        self.assertRegex(data.decode(), r"\tby mail\.example\.org \(Postern\) with ESMTPSA id ")
        log = self.inst.log()
        self.assertRegex(log, r"postfix/submission/smtpd\[\d+\]: [0-9A-F]+: "
                              r"client=localhost\[127\.0\.0\.1\], sasl_method=PLAIN, "
                              r"sasl_username=foo\n")
        self.assertIn("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 553 5.7.1 "
                      "<yrt127@example.org>: Sender address rejected: not owned by user foo; "
                      "from=<yrt127@example.org> to=<user@remote.test> proto=ESMTP "
                      "helo=<client.example>", log)
        # yrt127 owns every address of the domain; and without AUTH port 25 relays nothing
        c = self.smtp(self.sub, tls=True)
        c.login("yrt127", "yrtpw")
        self.assertEqual(c.mail("anything@example.org")[0], 250)
        self.assertEqual(c.rcpt("user@remote.test")[0], 250)
        c.quit()
        c = self.smtp(self.p25)
        c.mail("foo@example.org")
        self.assertEqual(c.rcpt("user@remote.test"),
                         (454, b"4.7.1 <user@remote.test>: Relay access denied"))

    def test_auth_is_offered_only_where_it_may_be_used(self):
        # port 25: -o smtpd_sasl_auth_enable=no, before and after STARTTLS
        c = self.smtp(self.p25)
        self.assertNotIn("auth", c.esmtp_features)
        c.starttls(context=client_context())
        c.ehlo()
        self.assertNotIn("auth", c.esmtp_features)
        self.assertEqual(c.docmd("AUTH", "PLAIN " + plain("foo", "foopw")),
                         (503, b"5.5.1 Error: authentication not enabled"))
        # Cyrus service, smtpd_tls_auth_only = yes: only once TLS is on
        c = self.smtp(self.cyrus)
        self.assertNotIn("auth", c.esmtp_features)
        self.assertEqual(c.docmd("AUTH", "PLAIN " + plain("carol", "carolpw")),
                         (503, b"5.5.1 Error: authentication not enabled"))
        c.starttls(context=client_context())
        c.ehlo()
        self.assertEqual(sorted(c.esmtp_features["auth"].split()), ["LOGIN", "PLAIN"])

    def test_cyrus_sasldb_plain_and_login(self):
        for mech in ("PLAIN", "LOGIN"):
            c = self.smtp(self.cyrus, tls=True)
            c.user, c.password = "carol", "carolpw"
            self.assertEqual(c.auth(mech, getattr(c, "auth_" + mech.lower())),
                             (235, b"2.7.0 Authentication successful"))
            self.assertEqual(c.docmd("AUTH", "PLAIN " + plain("carol", "carolpw")),
                             (503, b"5.5.1 Error: already authenticated"))
            c.quit()
        c = self.smtp(self.cyrus, tls=True)
        with self.assertRaises(smtplib.SMTPAuthenticationError) as err:
            c.login("carol", "wrong")
        self.assertEqual(err.exception.smtp_code, 535)
        self.assertEqual(err.exception.smtp_error,
                         b"5.7.8 Error: authentication failed: authentication failure")
        self.assertTrue(poll(lambda: "sasl_username=carol" in self.inst.log(), timeout=10))

    def test_smtps_wrapper_mode(self):
        c = smtplib.SMTP_SSL("127.0.0.1", self.smtps, local_hostname="client.example",
                             timeout=20, context=client_context())
        self.addCleanup(c.close)
        c.ehlo()
        self.assertEqual(c.esmtp_features["auth"], " PLAIN LOGIN")
        c.mail("foo@example.org")
        self.assertEqual(c.rcpt("info@example.org")[0], 554)  # permit_sasl_authenticated,reject
        c.rset()
        c.login("foo", "foopw")
        self.assertEqual(c.sendmail("foo@example.org", ["info@example.org"],
                                    b"Subject: wrapped\r\n\r\nhello\r\n"), {})
        c.quit()
        self.assertTrue(poll(lambda: len(self.delivered()) == 1, timeout=15), self.inst.log())
        self.assertIn(" with ESMTPSA id ", self.delivered()[0])
        # openssl s_client, one command at a time (nothing pipelined before EHLO)
        proc = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{self.smtps}",
                                 "-quiet"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        self.addCleanup(lambda: (proc.kill(), proc.wait(10)))
        self.assertTrue(proc.stdout.readline().startswith("220 "))
        replies = []
        for command in ("EHLO client.example", "AUTH PLAIN " + plain("foo", "foopw"), "QUIT"):
            proc.stdin.write(command + "\r\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
            while line[3:4] == "-":
                line = proc.stdout.readline()
            replies.append(line.rstrip())
        self.assertEqual(replies, ["250 CHUNKING", "235 2.7.0 Authentication successful",
                                   "221 2.0.0 Bye"])

    def test_failures_bad_input_and_what_fail2ban_sees(self):
        c = self.smtp(self.sub, tls=True)
        f = c.sock.makefile("rb")
        bad = plain("foo", "wrong")
        self.assertEqual(c.docmd("AUTH", "PLAIN " + bad),
                         (535, b"5.7.8 Error: authentication failed: (reason unavailable)"))
        self.assertEqual(c.docmd("AUTH", "LOGIN"), (334, b"VXNlcm5hbWU6"))
        self.assertEqual(c.docmd(base64.b64encode(b"nobody").decode()), (334, b"UGFzc3dvcmQ6"))
        self.assertEqual(c.docmd(base64.b64encode(b"x").decode()),
                         (535, b"5.7.8 Error: authentication failed: (reason unavailable)"))
        self.assertEqual(c.docmd("AUTH", "PLAIN !!!!"),
                         (535, b"5.7.8 Error: authentication failed: Invalid base64 data in "
                               b"initial response"))
        self.assertEqual(c.docmd("AUTH", "PLAIN"), (334, b""))
        self.assertEqual(c.docmd("*"), (501, b"5.7.0 Authentication aborted"))
        self.assertEqual(c.docmd("AUTH", "CRAM-MD5"),
                         (535, b"5.7.8 Error: authentication failed: Invalid authentication "
                               b"mechanism"))
        self.assertEqual(c.docmd("AUTH"), (501, b"5.5.4 Syntax: AUTH mechanism"))
        self.assertEqual(c.docmd("AUTH", "PLAIN"), (334, b""))
        self.assertEqual(c.docmd("A" * 100000), (500, b"5.5.6 SASL response limit exceeded"))
        self.assertEqual(c.docmd("AUTH", "PLAIN " + "A" * 100000)[0], 500)
        self.assertEqual(c.docmd("FOO"), (500, b"5.5.2 Error: command not recognized"))
        self.assertEqual(c.login("foo", "foopw"), (235, b"2.7.0 Authentication successful"))
        c.quit()
        f.close()
        self.assertTrue(poll(lambda: "disconnect from" in self.inst.log(), timeout=10))
        log = self.inst.log()
        self.assertIn("warning: localhost[127.0.0.1]: SASL PLAIN authentication failed: "
                      "(reason unavailable), sasl_username=foo\n", log)
        self.assertIn("warning: localhost[127.0.0.1]: SASL LOGIN authentication failed: "
                      "(reason unavailable), sasl_username=nobody\n", log)
        self.assertIn("warning: localhost[127.0.0.1]: SASL PLAIN authentication aborted\n", log)
        self.assertIn("warning: localhost[127.0.0.1]: request longer than 12288: "
                      + "A" * 30 + "...\n", log)
        # the postmaster's transcript (the unknown command) holds no credentials
        self.assertTrue(poll(lambda: len(self.delivered()) == 1, timeout=15), log)
        notice = self.delivered()[0]
        self.assertIn(" In:  AUTH PLAIN\n Out: 535 5.7.8 Error: authentication failed", notice)
        self.assertNotIn(bad, notice)
        self.assertNotIn(plain("foo", "foopw"), notice)
        self.assertNotIn(base64.b64encode(b"x").decode() + "\n", notice)
        # the service goes on; the log's failed logins are what fail2ban's filter finds
        c = self.smtp(self.sub, tls=True)
        c.quit()
        self.assertTrue(poll(lambda: log.count("disconnect from") <
                             self.inst.log().count("disconnect from"), timeout=10))
        if not shutil.which("fail2ban-regex"):
            return
        failed = [line for line in self.inst.raw_log().splitlines()
                  if re.search(r"SASL \S+ authentication failed: (?!Invalid authentication "
                               r"mechanism)", line)]
        self.assertEqual(len(failed), 3, failed)
        res = subprocess.run(["fail2ban-regex", self.inst.log_path, "postfix[mode=auth]"],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertRegex(res.stdout, rf"Lines: \d+ lines, 0 ignored, {len(failed)} matched")
        self.assertIn("127.0.0.1", res.stdout)


if __name__ == "__main__":
    unittest.main()
