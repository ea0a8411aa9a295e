"""TLS in the smtp client, against loopback sinks that speak STARTTLS with Python's ssl:
"may" encrypts when it can (and resumes its session through tlsmgr's smtp_scache) and goes on
in plain text when the server offers nothing;
"encrypt" to a server without STARTTLS defers (4.7.4) and never sends the message in clear;
"verify" passes with a certificate from the configured CA for the expected name and defers
(4.7.5, "Server certificate not verified") for a self-signed one; the reference's log lines;
smtp_tls_policy_maps chooses the level per next hop; smtp_tls_cert_file gives a server that
asks for one the client's certificate."""
import os
import shutil
import ssl
import subprocess
import unittest

import test_delivery
from instance import free_port, poll
from smtpsink import Sink


def openssl(*args, cwd):
    res = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if res.returncode != 0:
        raise AssertionError(res.stderr)


def server_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


@unittest.skipUnless(os.getuid() == 0 and shutil.which("openssl"), "needs root and openssl")
class ClientTls(unittest.TestCase):
    submit = test_delivery.Delivery.submit  # a message straight into cleanup

    def setUp(self):
        test_delivery.Delivery.setUp(self)  # the instance with its virtual domain
        d = os.path.join(self.inst.dir, "pki")
        os.mkdir(d)
        # a CA, a server certificate it signed for mx.sink.test, and a self-signed one
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
                "-out", "ca.pem", "-days", "30", "-subj", "/CN=Test CA", cwd=d)
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "mx.key", "-out", "mx.csr",
                "-subj", "/CN=mx.sink.test", cwd=d)
        with open(os.path.join(d, "ext"), "w") as fp:
            fp.write("subjectAltName=DNS:mx.sink.test\n")
        openssl("x509", "-req", "-in", "mx.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", "mx.pem", "-days", "30", "-extfile", "ext", cwd=d)
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "self.key",
                "-out", "self.pem", "-days", "30", "-subj", "/CN=mx.sink.test", cwd=d)
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out",
                "client.csr", "-subj", "/CN=mail.example.org", cwd=d)
        openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", "client.pem", "-days", "30", cwd=d)
        signed = server_context(os.path.join(d, "mx.pem"), os.path.join(d, "mx.key"))
        wants_cert = server_context(os.path.join(d, "mx.pem"), os.path.join(d, "mx.key"))
        wants_cert.verify_mode = ssl.CERT_REQUIRED
        wants_cert.load_verify_locations(os.path.join(d, "ca.pem"))
        selfsigned = server_context(os.path.join(d, "self.pem"), os.path.join(d, "self.key"))
        self.port = port = free_port()
        self.sinks = {
            "may": Sink(host="127.0.0.1", port=port, tls=selfsigned),
            "plain": Sink(host="127.0.0.2", port=port),
            "encrypt": Sink(host="127.0.0.4", port=port),
            "verify": Sink(host="127.0.0.3", port=port, tls=signed),
            "selfsigned": Sink(host="127.0.0.5", port=port, tls=selfsigned),
            "mutual": Sink(host="127.0.0.6", port=port, tls=wants_cert),
            "reuse": Sink(host="127.0.0.7", port=port, tls=selfsigned),
            "inject": Sink(host="127.0.0.8", port=port, tls=selfsigned,
                           misbehave="starttls-inject"),
        }
        for sink in self.sinks.values():
            self.addCleanup(sink.close)
        hops = {"may": "127.0.0.1", "plain": "127.0.0.2", "encrypt": "127.0.0.4",
                "verify": "127.0.0.3", "selfsigned": "127.0.0.5", "inject": "127.0.0.8"}
        transports_extra = (f", mutual.test=withcert:[127.0.0.6]:{port}, "
                            f"reuse.test=reusetls:[127.0.0.7]:{port}")
        transports = ", ".join(f"{name}.test=smtp:[{addr}]:{port}" for name, addr in hops.items())
        self.inst.postfix("stop")
        self.inst.write_master(test_delivery.SERVICES + "smtp unix - - y - - smtp\n"
                               "tlsmgr unix - - y 1000? 1 tlsmgr\n"
                               "withcert unix - - y - - smtp\n"
                               f"  -o smtp_tls_cert_file={d}/client.pem\n"
                               f"  -o smtp_tls_key_file={d}/client.key\n"
                               "reusetls unix - - y - - smtp -o smtp_tls_connection_reuse=yes\n")
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write(f"transport_maps = inline:{{ {transports}{transports_extra} }}\n"
                     "smtp_tls_security_level = may\nsmtp_tls_loglevel = 1\n"
                     "smtp_tls_session_cache_database = btree:${data_directory}/smtp_scache\n"
                     f"smtp_tls_CAfile = {d}/ca.pem\n"
                     f"smtp_tls_policy_maps = inline:{{ [127.0.0.4]:{port}=encrypt, "
                     f"{{[127.0.0.3]:{port} = verify match=mx.sink.test}}, "
                     f"[127.0.0.5]:{port}=verify }}\n")
        self.inst.start()

    def outcome(self, qid):
        self.assertTrue(poll(lambda: f"{qid}: to=<" in self.inst.log(), timeout=30),
                        self.inst.log())
        return [line for line in self.inst.log().splitlines() if f"{qid}: to=<" in line][0]

    def test_may_encrypts_when_it_can(self):
        qid = self.submit("sender@example.org", ["a@may.test"])
        self.assertIn("status=sent", self.outcome(qid))
        self.assertEqual(self.sinks["may"].encrypted, [True])
        self.assertRegex(self.inst.log(), r"Untrusted TLS connection established to "
                                          rf"127\.0\.0\.1\[127\.0\.0\.1\]:{self.port}: TLSv1\.3 "
                                          r"with cipher TLS_AES_256_GCM_SHA384 \(256/256 bits\) "
                                          r"key-exchange X25519 server-signature RSA-PSS "
                                          r"\(2048 bits\) server-digest SHA256\n")
        qid = self.submit("sender@example.org", ["b@plain.test"])
        self.assertIn("status=sent", self.outcome(qid))
        self.assertEqual(self.sinks["plain"].encrypted, [False])
        # the session came back from tlsmgr's cache (smtp_scache) for the next delivery
        qid = self.submit("sender@example.org", ["c@may.test"])
        self.assertIn("status=sent", self.outcome(qid))
        self.assertEqual(self.sinks["may"].resumed, [False, True])
        self.assertTrue(os.path.exists(os.path.join(self.inst.dir, "data", "smtp_scache.db")))

    def test_plaintext_behind_the_220_is_never_a_reply(self):
        # CVE-2011-0411, the client's side: a reply slipped in behind "220 Ready to start TLS"
        # is thrown away with the plain text; the reply to EHLO comes inside TLS
        qid = self.submit("sender@example.org", ["a@inject.test"])
        line = self.outcome(qid)
        self.assertIn("status=sent", line)
        self.assertNotIn("injected", self.inst.log())
        self.assertEqual(self.sinks["inject"].encrypted, [True])

    def test_a_client_certificate_for_a_server_that_asks(self):
        qid = self.submit("sender@example.org", ["f@mutual.test"])
        self.assertIn("status=sent", self.outcome(qid))
        self.assertEqual(self.sinks["mutual"].encrypted, [True])
        self.assertEqual(self.sinks["mutual"].client_certs, ["mail.example.org"])
        self.assertRegex(self.inst.log(), r"TLS connection established to 127\.0\.0\.6\[127\.0\.0"
                                          r"\.6\]:\d+: .* client-signature RSA-PSS \(2048 bits\) "
                                          r"client-digest SHA256\n")

    def test_tls_connection_reuse(self):
        # smtp_tls_connection_reuse = yes: the next message goes over the same TLS session;
        # without it (the "may" sink above) every message has a connection of its own
        ids = []
        for n in range(2):
            ids.append(self.submit("sender@example.org", [f"r{n}@reuse.test"]))
            self.assertIn("status=sent", self.outcome(ids[-1]))
        sink = self.sinks["reuse"]
        self.assertEqual(sink.sessions, 1)
        self.assertEqual(sink.encrypted, [True, True])
        self.assertEqual(sink.commands.count("STARTTLS"), 1)
        self.assertIn("RSET", sink.commands)
        self.assertIn(f"{ids[1]}: to=<r1@reuse.test>, relay=127.0.0.7[127.0.0.7]:{self.port}, "
                      "conn_use=2, delay=", self.inst.log())
        # idle past smtp_connection_cache_time_limit: QUIT inside TLS, the session ends
        self.assertTrue(poll(lambda: "QUIT" in sink.commands, timeout=10))

    def test_encrypt_never_sends_in_clear(self):
        qid = self.submit("sender@example.org", ["c@encrypt.test"])
        line = self.outcome(qid)
        self.assertIn(f"relay=127.0.0.4[127.0.0.4]:{self.port}", line)
        self.assertIn("dsn=4.7.4, status=deferred (TLS is required, but was not offered by "
                      "host 127.0.0.4[127.0.0.4])", line)
        self.assertEqual(self.sinks["encrypt"].messages, [])
        self.assertNotIn("MAIL FROM:<sender@example.org>", self.sinks["encrypt"].commands)

    def test_verify_wants_a_trusted_certificate_for_the_name(self):
        qid = self.submit("sender@example.org", ["d@verify.test"])
        self.assertIn("status=sent", self.outcome(qid))
        self.assertEqual(self.sinks["verify"].encrypted, [True])
        self.assertIn(f"Verified TLS connection established to 127.0.0.3[127.0.0.3]:{self.port}",
                      self.inst.log())
        qid = self.submit("sender@example.org", ["e@selfsigned.test"])
        line = self.outcome(qid)
        self.assertIn("dsn=4.7.5, status=deferred (Server certificate not verified)", line)
        self.assertEqual(self.sinks["selfsigned"].messages, [])
        self.assertIn(f"certificate verification failed for 127.0.0.5[127.0.0.5]:{self.port}: "
                      "self-signed certificate", self.inst.log())
        self.assertIn(f"Untrusted TLS connection established to 127.0.0.5[127.0.0.5]:{self.port}",
                      self.inst.log())


if __name__ == "__main__":
    unittest.main()
