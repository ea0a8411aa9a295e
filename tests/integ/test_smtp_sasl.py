"""SMTP AUTH in the smtp client: relaying through a provider's smarthost with a login from
smtp_sasl_password_maps (a hash: table made by postmap), inside TLS (STARTTLS, or wrapper
mode for port 465); a wrong password defers
with the server's reply (soft bounce: 4.7.8); the default security options (noplaintext)
find no mechanism on a server that offers only PLAIN and LOGIN, and say so; a server without
an entry in the table gets no AUTH at all."""
import os
import shutil
import subprocess
import unittest

import test_delivery
from harness import run
from instance import free_port, poll
from smtpsink import Sink
from test_smtp_tls import server_context


@unittest.skipUnless(os.getuid() == 0 and shutil.which("openssl"), "needs root and openssl")
class ClientSasl(unittest.TestCase):
    submit = test_delivery.Delivery.submit

    def setUp(self):
        test_delivery.Delivery.setUp(self)
        d = os.path.join(self.inst.dir, "pki")
        os.mkdir(d)
        res = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                              "-keyout", "key.pem", "-out", "cert.pem", "-days", "30", "-subj",
                              "/CN=smtp.isp.test"], cwd=d, capture_output=True, text=True)
        self.assertEqual(res.returncode, 0, res.stderr)
        ctx = server_context(os.path.join(d, "cert.pem"), os.path.join(d, "key.pem"))
        self.port = port = free_port()
        logins = {"user@isp.test": "s3cret"}
        self.isp = Sink(host="127.0.0.1", port=port, tls=ctx, auth=logins)
        self.wrong = Sink(host="127.0.0.2", port=port, tls=ctx, auth=logins)
        self.none = Sink(host="127.0.0.3", port=port, auth=logins)
        self.smtps = Sink(host="127.0.0.4", port=port, tls=ctx, auth=logins, wrapper=True)
        for sink in (self.isp, self.wrong, self.none, self.smtps):
            self.addCleanup(sink.close)
        table = os.path.join(self.inst.etc, "sasl_passwd")
        with open(table, "w") as fp:
            fp.write(f"[127.0.0.1]:{port} user@isp.test:s3cret\n"
                     f"[127.0.0.2]:{port} user@isp.test:wrong\n"
                     f"[127.0.0.4]:{port} user@isp.test:s3cret\n")
        self.assertEqual(run(["postmap", table]).rc, 0)
        self.inst.postfix("stop")
        self.inst.write_master(test_delivery.SERVICES + "smtp unix - - y - - smtp\n"
                               "strict unix - - y - - smtp\n"
                               "  -o smtp_sasl_security_options=noplaintext,noanonymous\n"
                               "smtps unix - - y - - smtp\n  -o smtp_tls_wrappermode=yes\n"
                               "  -o smtp_tls_security_level=encrypt\n")
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("transport_maps = inline:{ "
                     f"isp.test=smtp:[127.0.0.1]:{port}, wrong.test=smtp:[127.0.0.2]:{port}, "
                     f"strict.test=strict:[127.0.0.1]:{port}, "
                     f"noentry.test=smtp:[127.0.0.3]:{port}, "
                     f"wrapped.test=smtps:[127.0.0.4]:{port} }}\n"
                     "smtp_tls_security_level = may\n"
                     "smtp_sasl_auth_enable = yes\n"
                     f"smtp_sasl_password_maps = hash:{table}\n"
                     "smtp_sasl_security_options = noanonymous\n")
        self.inst.start()

    def outcome(self, qid):
        self.assertTrue(poll(lambda: f"{qid}: to=<" in self.inst.log(), timeout=30),
                        self.inst.log())
        return [line for line in self.inst.log().splitlines() if f"{qid}: to=<" in line][0]

    def test_relay_with_a_login(self):
        qid = self.submit("sender@example.org", ["far@isp.test"])
        self.assertIn("status=sent", self.outcome(qid))
        self.assertEqual(self.isp.logins, ["user@isp.test"])
        self.assertEqual(self.isp.encrypted, [True])
        qid = self.submit("sender@example.org", ["far@noentry.test"])
        self.assertIn("status=sent", self.outcome(qid))
        self.assertEqual(self.none.logins, [])
        self.assertFalse(any(c.upper().startswith("AUTH") for c in self.none.commands))

    def test_a_smarthost_on_port_465(self):
        # smtp_tls_wrappermode: TLS before the greeting, then AUTH inside it
        qid = self.submit("sender@example.org", ["far@wrapped.test"])
        self.assertIn("status=sent", self.outcome(qid))
        self.assertEqual(self.smtps.logins, ["user@isp.test"])
        self.assertEqual(self.smtps.encrypted, [True])

    def test_a_wrong_password_defers(self):
        qid = self.submit("sender@example.org", ["far@wrong.test"])
        self.assertIn(f"relay=127.0.0.2[127.0.0.2]:{self.port}, ", self.outcome(qid))
        self.assertIn("dsn=4.7.8, status=deferred (SASL authentication failed; server "
                      "127.0.0.2[127.0.0.2] said: 535 5.7.8 Error: authentication failed: "
                      "bad password)", self.outcome(qid))
        self.assertEqual(self.wrong.messages, [])

    def test_no_plaintext_mechanism_is_worthy(self):
        qid = self.submit("sender@example.org", ["far@strict.test"])
        self.assertIn("dsn=4.7.0, status=deferred (SASL authentication failed; cannot "
                      "authenticate to server 127.0.0.1[127.0.0.1]: no mechanism available)",
                      self.outcome(qid))
        self.assertIn("warning: SASL authentication failure: No worthy mechs found",
                      self.inst.log())
        self.assertEqual(self.isp.messages, [])


if __name__ == "__main__":
    unittest.main()
