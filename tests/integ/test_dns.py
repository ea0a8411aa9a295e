"""Delivery by MX records from a real DNS server (dnsmasq on a loopback address), reached the
way production reaches DNS: /etc/resolv.conf, replaced for this instance only inside a private
mount namespace. The first MX (by preference) gets the mail; when it is down, or answers a
recipient with 4xx, the next one; a 5xx is final."""
import os
import shutil
import subprocess
import unittest

import test_delivery
from harness import program
from instance import free_port, poll
from smtpsink import Sink

DNS_ADDR = "127.0.5.53"


def start_with_resolver(test, nameserver, main_cf, master_cf=""):
    """Restart test.inst with an smtp service (and the services of master_cf), main_cf
    added, and nameserver as the only resolver, in a mount namespace of its own (so
    /etc/resolv.conf changes for it alone)."""
    test.inst.postfix("stop")
    test.inst.write_master(test_delivery.SERVICES + "smtp unix - - y - - smtp\n" + master_cf)
    with open(os.path.join(test.inst.etc, "main.cf"), "a") as fp:
        fp.write(main_cf)
    resolv = os.path.join(test.inst.dir, "resolv.conf")
    with open(resolv, "w") as fp:
        fp.write(f"nameserver {nameserver}\noptions attempts:2 timeout:2 trust-ad\n")
    env = dict(os.environ, **test.inst.sanitizer_env())
    res = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         f"mount --bind {resolv} /etc/resolv.conf && "
         f"exec {program('postfix')} -c {test.inst.etc} start"],
        env=env, capture_output=True, text=True, timeout=60)
    test.assertEqual(res.returncode, 0, res.stderr)


@unittest.skipUnless(os.getuid() == 0 and shutil.which("dnsmasq") and shutil.which("unshare"),
                     "needs root, dnsmasq and unshare")
class MxDelivery(test_delivery.Delivery):
    def setUp(self):
        self.port = free_port()
        self.sink1 = Sink(host="127.0.0.3", port=self.port, data_reply="250 2.0.0 Ok: mx1",
                          rcpt_replies={"busy@mx.example": "450 4.2.1 busy, try later",
                                        "gone@mx.example": "550 5.1.1 gone"})
        self.sink2 = Sink(host="127.0.0.4", port=self.port, data_reply="250 2.0.0 Ok: mx2")
        self.addCleanup(self.sink2.close)
        # many.example: thirty MX hosts, none of them listening
        many = [f"--mx-host=many.example,mx{i:02d}.many.example,{10 * i}" for i in range(1, 31)]
        many += [f"--host-record=mx{i:02d}.many.example,127.0.0.9" for i in range(1, 31)]
        self.queries = f"/tmp/postern-dns-queries-{os.getpid()}"
        self.addCleanup(lambda: os.path.exists(self.queries) and os.unlink(self.queries))
        dns = subprocess.Popen(
            ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-dhcp-interface=",
             f"--listen-address={DNS_ADDR}", "--bind-interfaces", "--port=53",
             "--mx-host=mx.example,mx1.mx.example,10", "--mx-host=mx.example,mx2.mx.example,20",
             "--host-record=mx1.mx.example,127.0.0.3", "--host-record=mx2.mx.example,127.0.0.4",
             "--host-record=plain.example,127.0.0.4", "--local=/example/", "--pid-file=",
             "--log-queries", f"--log-facility={self.queries}"] + many,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(lambda: (dns.terminate(), dns.wait(10)))
        super().setUp()
        start_with_resolver(self, DNS_ADDR,
                            f"transport_maps = inline:{{ mx.example=smtp:mx.example:{self.port}, "
                            f"plain.example=smtp:plain.example:{self.port}, "
                            f"many.example=smtp:many.example:{self.port} }}\n"
                            "smtp_mx_address_limit = 2\nsmtp_connect_timeout = 2s\n")

    def test_4xx_tries_the_next_mx_and_5xx_is_final(self):
        qid = self.submit("info@example.org", ["ok@mx.example", "busy@mx.example",
                                               "gone@mx.example"])
        self.assertTrue(poll(lambda: f"{qid}: to=<busy@mx.example>" in self.inst.log() and
                             f"{qid}: to=<gone@mx.example>" in self.inst.log(), timeout=20),
                        self.inst.log())
        self.assertEqual([(m, r) for m, r, _ in self.sink1.messages],
                         [("info@example.org", ["ok@mx.example"])])
        self.assertEqual([(m, r) for m, r, _ in self.sink2.messages],
                         [("info@example.org", ["busy@mx.example"])])
        log = self.inst.log()
        self.assertIn(f"{qid}: to=<ok@mx.example>, relay=mx1.mx.example[127.0.0.3]:"
                      f"{self.port}", log)
        self.assertIn(f"{qid}: to=<busy@mx.example>, relay=mx2.mx.example[127.0.0.4]:"
                      f"{self.port}", log)
        self.assertIn("dsn=5.1.1, status=bounced (host mx1.mx.example[127.0.0.3] said: "
                      "550 5.1.1 gone (in reply to RCPT TO command))", log)

    def test_only_the_mx_hosts_within_the_address_limit_are_looked_up(self):
        # a domain of thirty MX hosts costs the lookups smtp_mx_address_limit needs, not thirty
        qid = self.submit("info@example.org", ["someone@many.example"])
        self.assertTrue(poll(lambda: f"{qid}: to=<someone@many.example>" in self.inst.log(),
                             timeout=30), self.inst.log())
        looked_up = set()
        for line in open(self.queries, errors="replace"):
            for word in line.split():
                if word.endswith(".many.example"):
                    looked_up.add(word)
        self.assertEqual(looked_up, {"mx01.many.example", "mx02.many.example"})

    def test_mx_preference_and_fallback(self):
        qid = self.submit("info@example.org", ["someone@mx.example"])
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=20),
                        self.inst.log())
        self.assertEqual(len(self.sink1.messages), 1)
        self.assertIn(f"relay=mx1.mx.example[127.0.0.3]:{self.port}", self.inst.log())
        self.sink1.close()  # the preferred MX goes down
        qid = self.submit("info@example.org", ["other@mx.example"])
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=20),
                        self.inst.log())
        self.assertEqual(len(self.sink2.messages), 1)
        self.assertIn(f"{qid}: to=<other@mx.example>, relay=mx2.mx.example[127.0.0.4]:"
                      f"{self.port}", self.inst.log())
        # no MX: the domain's own address
        qid = self.submit("info@example.org", ["x@plain.example"])
        self.assertTrue(poll(lambda: len(self.sink2.messages) == 2, timeout=20), self.inst.log())

    test_maildir_and_mbox_delivery = None
    test_unknown_user_bounces_and_unreachable_transport_defers = None
    test_crash_left_in_active_is_delivered_after_restart = None
    test_mailbox_size_limit = None
    test_bounce_notice_reaches_the_sender = None
    test_expired_mail_returns_to_sender = None
    test_delay_warning_is_sent_once = None
