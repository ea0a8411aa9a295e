"""Client certificates in smtpd: smtpd_tls_ask_ccert with smtpd_tls_CAfile gives the
reference's Trusted/Untrusted/Anonymous log lines and Received clauses; relay_clientcerts
with permit_tls_clientcerts lets a trusted certificate relay by its fingerprint, and only
that one; smtpd_tls_req_ccert at level encrypt ends the session with 421 4.7.1 without a
trusted certificate. The clients are openssl s_client and Python's ssl."""
import os
import pwd
import shutil
import smtplib
import subprocess
import unittest

from instance import Instance, free_port, poll
from test_tls import client_context


def openssl(*args, cwd):
    res = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if res.returncode != 0:
        raise AssertionError(res.stderr)
    return res.stdout


@unittest.skipUnless(os.getuid() == 0 and shutil.which("openssl"), "needs root and openssl")
class ClientCertificates(unittest.TestCase):
    def setUp(self):
        self.ask, self.req = free_port(), free_port()
        self.inst = Instance("")
        self.addCleanup(self.inst.cleanup)
        d = self.pki = os.path.join(self.inst.dir, "pki")
        os.mkdir(d, 0o700)
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
                "-out", "server.pem", "-days", "30", "-subj", "/CN=mail.example.org", cwd=d)
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
                "ca.pem", "-days", "30", "-subj", "/CN=Client CA", cwd=d)
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out",
                "client.csr", "-subj", "/CN=client.example", cwd=d)
        openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", "client.pem", "-days", "30", cwd=d)
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "self.key", "-out",
                "self.pem", "-days", "30", "-subj", "/CN=self.example", cwd=d)
        fingerprint = openssl("x509", "-in", "client.pem", "-noout", "-fingerprint", "-sha256",
                              cwd=d).strip().split("=", 1)[1]
        smtpd = "inet n - y - - smtpd"
        self.inst.write_master(
            f"127.0.0.1:{self.ask} {smtpd}\n  -o smtpd_tls_ask_ccert=yes\n"
            "  -o smtpd_relay_restrictions=permit_tls_clientcerts,permit_auth_destination,reject\n"
            f"127.0.0.1:{self.req} {smtpd}\n  -o smtpd_tls_security_level=encrypt\n"
            "  -o smtpd_tls_req_ccert=yes\n"
            "cleanup unix n - y - 0 cleanup\n"
            "qmgr unix n - n 300 1 qmgr\n"
            "rewrite unix - - y - - trivial-rewrite\n"
            "virtual unix - n n - - virtual\n")
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
            f"smtpd_tls_cert_file = {d}/server.pem\nsmtpd_tls_key_file = {d}/server.key\n"
            f"smtpd_tls_CAfile = {d}/ca.pem\n"
            "smtpd_tls_security_level = may\nsmtpd_tls_loglevel = 1\n"
            "smtpd_tls_received_header = yes\n"
            f"relay_clientcerts = inline:{{ {fingerprint}=client.example }}\n")
        self.inst.start()

    def session(self, port, cert=None, rcpt="someone@far.example", data=None):
        """EHLO, STARTTLS with the certificate given, MAIL, RCPT; the RCPT reply."""
        ctx = client_context()
        if cert:
            ctx.load_cert_chain(os.path.join(self.pki, cert + ".pem"),
                                os.path.join(self.pki, cert + ".key"))
        c = smtplib.SMTP("127.0.0.1", port, local_hostname="client.example", timeout=20)
        self.addCleanup(c.close)
        c.starttls(context=ctx)
        c.ehlo()
        c.mail("a@example.com")
        reply = c.rcpt(rcpt)
        if data:
            c.data(data)
        c.quit()
        return reply

    def delivered(self):
        new = os.path.join(self.vmail, "example.org", "info", "new")
        return [open(os.path.join(new, f)).read() for f in sorted(os.listdir(new))] \
            if os.path.isdir(new) else []

    def test_a_trusted_certificate_relays_and_others_do_not(self):
        self.assertEqual(self.session(self.ask, "client"), (250, b"2.1.5 Ok"))
        denied = (554, b"5.7.1 <someone@far.example>: Recipient address rejected: "
                       b"Access denied")
        self.assertEqual(self.session(self.ask, "self"), denied)
        self.assertEqual(self.session(self.ask), denied)
        self.assertTrue(poll(lambda: self.inst.log().count("disconnect from") == 3), self.inst.log())
        log = self.inst.log()
        for kind in ("Trusted", "Untrusted"):
            self.assertRegex(log, rf"{kind} TLS connection established from localhost\[127\.0\.0\."
                                  r"1\]: TLSv1\.3 with cipher \S+ \(256/256 bits\) key-exchange "
                                  r"X25519 server-signature RSA-PSS \(2048 bits\) server-digest "
                                  r"SHA256 client-signature RSA-PSS \(2048 bits\) client-digest "
                                  r"SHA256\n")
        self.assertRegex(log, r"Anonymous TLS connection established from localhost\[127\.0\.0"
                              r"\.1\]: TLSv1\.3 with cipher \S+ \(256/256 bits\) key-exchange "
                              r"X25519 server-signature RSA-PSS \(2048 bits\) server-digest "
                              r"SHA256\n")

    def test_the_received_header_names_the_certificate(self):
        for cert in ("client", "self", None):
            self.session(self.ask, cert, rcpt="info@example.org",
                         data=b"Subject: ccert\r\n\r\nhello\r\n")
        self.assertTrue(poll(lambda: len(self.delivered()) == 3, timeout=15), self.inst.log())
        clauses = sorted(line.strip() for msg in self.delivered() for line in msg.splitlines()
                         if "Client" in line and line.startswith("\t("))
        self.assertEqual(clauses, ['(Client CN "client.example", Issuer "Client CA" (verified OK))',
                                   '(Client CN "self.example", Issuer "self.example" '
                                   '(not verified))',
                                   "(Client did not present a certificate)"])

    def test_a_common_name_with_a_line_end_is_no_name(self):
        # the client chose its certificate's CN: with a line end in it, it would add a header
        # field to the message (and an attribute to a policy request)
        import datetime
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "evil\nX-Injected: yes")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(4711)
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
        with open(os.path.join(self.pki, "evil.pem"), "wb") as fp:
            fp.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(os.path.join(self.pki, "evil.key"), "wb") as fp:
            fp.write(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
        self.session(self.ask, "evil", rcpt="info@example.org",
                     data=b"Subject: evil cn\r\n\r\nhello\r\n")
        self.assertTrue(poll(lambda: len(self.delivered()) == 1, timeout=15), self.inst.log())
        [text] = self.delivered()
        self.assertNotIn("\nX-Injected:", text)
        self.assertIn('(Client CN "", Issuer "" (not verified))', text)
        self.assertIn("warning: peer certificate has a malformed CommonName: ignored",
                      self.inst.log())

    def test_a_required_certificate(self):
        for cert, problem in (("self", "Client certificate not trusted"),
                              (None, "No client certificate presented")):
            ctx = client_context()
            if cert:
                ctx.load_cert_chain(os.path.join(self.pki, cert + ".pem"),
                                    os.path.join(self.pki, cert + ".key"))
            c = smtplib.SMTP("127.0.0.1", self.req, local_hostname="client.example", timeout=20)
            self.addCleanup(c.close)
            c.starttls(context=ctx)
            # right after the handshake, before any command
            self.assertEqual(c.getreply(),
                             (421, f"4.7.1 mail.example.org Error: {problem}".encode()))
            self.assertTrue(poll(lambda p=problem: f"NOQUEUE: abort: TLS from localhost[127.0.0"
                                                   f".1]: {p}\n" in self.inst.log()),
                            self.inst.log())
        self.assertIn("certificate verification failed for localhost[127.0.0.1]: self-signed "
                      "certificate", self.inst.log())
        self.assertEqual(self.session(self.req, "client", rcpt="info@example.org"),
                         (250, b"2.1.5 Ok"))


if __name__ == "__main__":
    unittest.main()
