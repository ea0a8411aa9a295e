"""DANE in the smtp client (RFC 7672), with smtp_dns_support_level = dnssec and a resolver
(tests/tools/fakedns.py) that vouches for some names with the AD bit, as a validating one
would: a server whose certificate matches its DNSSEC-signed TLSA records (DANE-EE by public
key, DANE-TA by the CA certificate) gets the mail over a "Verified" TLS connection; a
mismatch defers (4.7.5, "Server certificate not verified"); without validated answers
"dane" is "may"; "dane-only" without TLSA records defers before a connection is made; a
failed TLSA lookup defers; TLSA records that are all unusable still make TLS mandatory;
"dane" without DNSSEC lookups is a configuration problem. The queries ask for validation (AD
or DO). Log lines and deferral texts are the reference's (Postfix 3.7 against the same
resolver and servers)."""
import os
import shutil
import ssl
import subprocess
import unittest

import test_delivery
from fakedns import FakeDns
from instance import free_port, poll
from smtpsink import Sink
from test_dns import start_with_resolver

DNS_ADDR = "127.0.5.56"


def openssl(*args, cwd, stdin=None):
    res = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, input=stdin)
    if res.returncode != 0:
        raise AssertionError(res.stderr.decode())
    return res.stdout


def sha256_hex(data):
    return openssl("dgst", "-sha256", "-r", cwd="/", stdin=data).split()[0].decode()


def spki_sha256(cert, cwd):
    """The SHA2-256 of a certificate's public key (TLSA selector 1, matching type 1)."""
    pem = openssl("x509", "-in", cert, "-pubkey", "-noout", cwd=cwd)
    return sha256_hex(openssl("pkey", "-pubin", "-outform", "DER", cwd=cwd, stdin=pem))


def cert_sha256(cert, cwd):
    """The SHA2-256 of a whole certificate (TLSA selector 0, matching type 1)."""
    return sha256_hex(openssl("x509", "-in", cert, "-outform", "DER", cwd=cwd))


@unittest.skipUnless(os.getuid() == 0 and shutil.which("unshare") and shutil.which("openssl"),
                     "needs root, unshare and openssl")
class Dane(test_delivery.Delivery):
    def setUp(self):
        self.port = port = free_port()
        d = self.pki = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tmp",
                                    f"dane-{os.getpid()}")
        os.makedirs(d, exist_ok=True)
        self.addCleanup(shutil.rmtree, d, True)
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
                "ca.pem", "-days", "30", "-subj", "/CN=Dane Test CA", cwd=d)
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "ta.key", "-out", "ta.csr",
                "-subj", "/CN=mx.ta.test", cwd=d)
        with open(os.path.join(d, "ext"), "w") as fp:
            fp.write("subjectAltName=DNS:mx.ta.test\n")
        openssl("x509", "-req", "-in", "ta.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", "ta.pem", "-days", "30", "-extfile", "ext", cwd=d)
        with open(os.path.join(d, "ta-chain.pem"), "w") as out:  # the TA goes with the leaf
            for name in ("ta.pem", "ca.pem"):
                with open(os.path.join(d, name)) as fp:
                    out.write(fp.read())
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "self.key",
                "-out", "self.pem", "-days", "30", "-subj", "/CN=some.other.name", cwd=d)

        def context(cert, key):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(os.path.join(d, cert), os.path.join(d, key))
            return ctx

        selfsigned = context("self.pem", "self.key")
        hosts = {"ee": "127.0.0.11", "bad": "127.0.0.12", "ta": "127.0.0.13",
                 "insecure": "127.0.0.14", "only": "127.0.0.15", "sf": "127.0.0.16",
                 "unusable": "127.0.0.17", "nodnssec": "127.0.0.18"}
        self.sinks = {}
        for name, addr in hosts.items():
            tls = context("ta-chain.pem", "ta.key") if name == "ta" else selfsigned
            self.sinks[name] = Sink(host=addr, port=port, tls=tls)
            self.addCleanup(self.sinks[name].close)
        ee = self.ee = spki_sha256("self.pem", d)
        records, secure = {}, set()
        for name, addr in hosts.items():
            domain, mx = f"{name}.test", f"mx.{name}.test"
            records[(domain, "MX")] = [(10, mx)]
            records[(mx, "A")] = [addr]
            if name != "insecure":
                secure |= {domain, mx, f"_{port}._tcp.{mx}"}
        tlsa = {"ee": [(3, 1, 1, ee)], "bad": [(3, 1, 1, "00" * 32)],
                "ta": [(2, 0, 1, cert_sha256("ca.pem", d))], "insecure": [(3, 1, 1, ee)],
                "sf": [(3, 1, 1, ee)], "unusable": [(1, 1, 1, ee), (3, 9, 1, ee)],
                "nodnssec": [(3, 1, 1, ee)]}
        for name, rrs in tlsa.items():
            records[(f"_{port}._tcp.mx.{name}.test", "TLSA")] = rrs
        self.dns = FakeDns(DNS_ADDR, records, secure=secure,
                           servfail=[f"_{port}._tcp.mx.sf.test"])
        self.addCleanup(self.dns.close)
        super().setUp()
        transports = ", ".join(f"{name}.test=smtp:{name}.test:{port}" for name in hosts
                               if name != "nodnssec")
        start_with_resolver(self, DNS_ADDR,
                            f"transport_maps = inline:{{ {transports}, "
                            f"nodnssec.test=plaindns:nodnssec.test:{port} }}\n"
                            "inet_protocols = ipv4\n"
                            "smtp_dns_support_level = dnssec\n"
                            "smtp_tls_security_level = dane\n"
                            "smtp_tls_loglevel = 1\n"
                            f"smtp_tls_policy_maps = inline:{{ only.test:{port}=dane-only }}\n",
                            # for the last case, DNS lookups without DNSSEC
                            "plaindns unix - - y - - smtp -o smtp_dns_support_level=enabled\n")

    def outcome(self, qid):
        self.assertTrue(poll(lambda: f"{qid}: to=<" in self.inst.log(), timeout=30),
                        self.inst.log())
        return [line for line in self.inst.log().splitlines() if f"{qid}: to=<" in line][0]

    def test_dane(self):
        port = self.port
        ids = {name: self.submit("sender@example.org", [f"rcpt@{name}.test"])
               for name in self.sinks}
        lines = {name: self.outcome(qid) for name, qid in ids.items()}
        log = self.inst.log()
        # DANE-EE (3 1 1) and DANE-TA (2 0 1): verified, whatever the certificate's name
        for name, addr in (("ee", "127.0.0.11"), ("ta", "127.0.0.13")):
            self.assertIn(f"relay=mx.{name}.test[{addr}]:{port}", lines[name])
            self.assertIn("status=sent", lines[name])
            self.assertEqual(self.sinks[name].encrypted, [True])
            self.assertIn(f"Verified TLS connection established to mx.{name}.test[{addr}]:"
                          f"{port}: TLSv1.3", log)
        # a certificate that matches no TLSA record
        self.assertIn("dsn=4.7.5, status=deferred (Server certificate not verified)",
                      lines["bad"])
        self.assertEqual(self.sinks["bad"].messages, [])
        self.assertIn(f"server certificate verification failed for mx.bad.test[127.0.0.12]:"
                      f"{port}: num=65:no matching DANE TLSA records", log)
        # answers the resolver does not vouch for: "may"
        self.assertIn("status=sent", lines["insecure"])
        self.assertIn(f"Untrusted TLS connection established to mx.insecure.test[127.0.0.14]:"
                      f"{port}", log)
        # dane-only without TLSA records: not even a connection
        self.assertIn("relay=none, ", lines["only"])
        self.assertIn("dsn=4.7.5, status=deferred (no TLSA records found)", lines["only"])
        self.assertIn(f"warning: TLS policy lookup for only.test:{port}/mx.only.test: no TLSA "
                      "records found", log)
        self.assertEqual(self.sinks["only"].sessions, 0)
        # the TLSA lookup failed: the mail waits, not even sent in clear
        self.assertIn("relay=none, ", lines["sf"])
        self.assertIn(f"dsn=4.7.5, status=deferred (TLSA lookup error for mx.sf.test:{port})",
                      lines["sf"])
        self.assertIn(f"warning: DANE TLSA lookup problem: Host or domain name not found. Name "
                      f"service error for name=_{port}._tcp.mx.sf.test type=TLSA: Host not "
                      "found, try again", log)
        self.assertIn(f"warning: TLS policy lookup for sf.test:{port}/mx.sf.test: TLSA lookup "
                      f"error for mx.sf.test:{port}", log)
        self.assertEqual(self.sinks["sf"].sessions, 0)
        # only unusable records (PKIX-EE, an unknown selector): TLS, unauthenticated
        self.assertIn("status=sent", lines["unusable"])
        self.assertEqual(self.sinks["unusable"].encrypted, [True])
        relay = f"mx.unusable.test[127.0.0.17]:{port}"
        self.assertIn(f"warning: _{port}._tcp.mx.unusable.test unsupported TLSA certificate "
                      f"usage: 1 1 1 {self.ee.upper()}", log)
        self.assertIn(f"warning: {relay}: unusable TLSA RR: 3 9 1 {self.ee.upper()}", log)
        self.assertIn(f"warning: {relay}: all TLSA records unusable, fallback to "
                      "unauthenticated TLS", log)
        # "dane" where DNS lookups are not DNSSEC lookups
        self.assertIn("dsn=4.7.5, status=deferred (client TLS configuration problem)",
                      lines["nodnssec"])
        self.assertIn(f"warning: nodnssec.test:{port}: dane configured with dnssec lookups "
                      "disabled", log)
        # the queries asked for validation; the plain service's did not
        self.assertTrue(self.dns.asked[("mx.ee.test", "A")])
        self.assertTrue(self.dns.asked[(f"_{port}._tcp.mx.ee.test", "TLSA")])
        self.assertFalse(self.dns.asked[("nodnssec.test", "MX")])

    test_maildir_and_mbox_delivery = None
    test_unknown_user_bounces_and_unreachable_transport_defers = None
    test_crash_left_in_active_is_delivered_after_restart = None
    test_mailbox_size_limit = None
    test_bounce_notice_reaches_the_sender = None
    test_expired_mail_returns_to_sender = None
    test_delay_warning_is_sent_once = None


if __name__ == "__main__":
    unittest.main()
