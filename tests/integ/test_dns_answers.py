"""DNS answers a real server gives rarely: an MX host that is this very system (its address
is one of inet_interfaces) is a loop, bounced when no better MX exists and skipped when one
does; a truncated answer with no TCP service behind it defers with the reference's "try
again" text; inet_protocols = ipv4 never asks for AAAA records; smtp_address_preference =
ipv6 tries an MX host's IPv6 address first."""
import os
import shutil
import socket
import unittest

import test_delivery
from fakedns import FakeDns
from instance import free_port, poll
from smtpsink import Sink
from test_dns import start_with_resolver

DNS_ADDR = "127.0.5.54"


@unittest.skipUnless(os.getuid() == 0 and shutil.which("unshare"), "needs root and unshare")
class DnsAnswers(test_delivery.Delivery):
    def setUp(self):
        self.port = free_port()
        self.sink = Sink(host="127.0.0.3", port=self.port)
        self.addCleanup(self.sink.close)
        self.dns = FakeDns(DNS_ADDR, {
            ("loop.example", "MX"): [(10, "self.loop.example")],
            ("self.loop.example", "A"): ["127.0.0.1"],
            ("backup.example", "MX"): [(10, "mx.backup.example"), (20, "self.loop.example")],
            ("mx.backup.example", "A"): ["127.0.0.3"],
            ("mx.backup.example", "AAAA"): ["::1"],
            ("direct.example", "MX"): [(10, "mx.elsewhere.example")],
            ("mx.elsewhere.example", "A"): ["127.0.0.9"],
            ("direct.example", "A"): ["127.0.0.3"],
        }, truncated=["trunc.example"])
        self.addCleanup(self.dns.close)
        super().setUp()
        nexthops = ", ".join(f"{d}=smtp:{d}:{self.port}"
                             for d in ("loop.example", "backup.example", "trunc.example"))
        nexthops += f", direct.example=nodns:direct.example:{self.port}"
        start_with_resolver(self, DNS_ADDR, f"transport_maps = inline:{{ {nexthops} }}\n"
                                            "inet_protocols = ipv4\n",
                            "nodns unix - - y - - smtp -o smtp_dns_support_level=disabled\n")

    def test_loops_truncation_and_protocols(self):
        loop = self.submit("info@example.org", ["a@loop.example"])
        backup = self.submit("info@example.org", ["b@backup.example"])
        trunc = self.submit("info@example.org", ["c@trunc.example"])
        self.assertTrue(poll(lambda: all(f"{q}: to=<" in self.inst.log()
                                         for q in (loop, backup, trunc)), timeout=30),
                        self.inst.log())
        log = self.inst.log()
        self.assertIn(f"{loop}: to=<a@loop.example>, relay=none", log)
        self.assertIn("dsn=5.4.6, status=bounced (mail for loop.example loops back to myself)",
                      log)
        self.assertIn(f"{backup}: to=<b@backup.example>, relay=mx.backup.example[127.0.0.3]:"
                      f"{self.port}", log)
        self.assertEqual([r for _, r, _ in self.sink.messages], [["b@backup.example"]])
        self.assertIn(f"{trunc}: to=<c@trunc.example>, relay=none", log)
        self.assertIn("status=deferred (Host or domain name not found. Name service error for "
                      "name=trunc.example type=MX: Host not found, try again)", log)
        self.assertTrue(os.path.exists(os.path.join(self.inst.queue, "deferred", trunc[0],
                                                    trunc)))
        self.assertIn(("mx.backup.example", "A"), self.dns.queries)
        self.assertNotIn(("mx.backup.example", "AAAA"), self.dns.queries)

    def test_dns_support_level_disabled(self):
        # no MX lookup: the next hop's own address, as the system's resolver library has it
        qid = self.submit("info@example.org", ["d@direct.example"])
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=30),
                        self.inst.log())
        self.assertIn(f"{qid}: to=<d@direct.example>, relay=direct.example[127.0.0.3]:"
                      f"{self.port}", self.inst.log())
        self.assertEqual([r for _, r, _ in self.sink.messages], [["d@direct.example"]])
        self.assertNotIn(("direct.example", "MX"), self.dns.queries)

    test_maildir_and_mbox_delivery = None
    test_unknown_user_bounces_and_unreachable_transport_defers = None
    test_crash_left_in_active_is_delivered_after_restart = None
    test_mailbox_size_limit = None
    test_bounce_notice_reaches_the_sender = None
    test_expired_mail_returns_to_sender = None
    test_delay_warning_is_sent_once = None


@unittest.skipUnless(os.getuid() == 0 and shutil.which("unshare") and socket.has_ipv6,
                     "needs root, unshare and IPv6")
class AddressPreference(test_delivery.Delivery):
    """inet_protocols = all with smtp_address_preference = ipv6: of an MX host's two
    addresses the IPv6 one is tried first."""

    def setUp(self):
        self.port = free_port()
        try:
            self.sink6 = Sink(host="::1", port=self.port)
        except OSError:
            self.skipTest("no IPv6 loopback")
        self.addCleanup(self.sink6.close)
        self.sink4 = Sink(host="127.0.0.3", port=self.port)
        self.addCleanup(self.sink4.close)
        self.dns = FakeDns(DNS_ADDR, {("dual.example", "MX"): [(10, "mx.dual.example")],
                                      ("mx.dual.example", "A"): ["127.0.0.3"],
                                      ("mx.dual.example", "AAAA"): ["::1"]})
        self.addCleanup(self.dns.close)
        super().setUp()
        start_with_resolver(self, DNS_ADDR,
                            f"transport_maps = inline:{{ dual.example=smtp:dual.example:"
                            f"{self.port} }}\ninet_protocols = all\n"
                            "smtp_address_preference = ipv6\n")

    def test_ipv6_first(self):
        qid = self.submit("info@example.org", ["a@dual.example"])
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=20),
                        self.inst.log())
        self.assertEqual(len(self.sink6.messages), 1)
        self.assertEqual(self.sink4.messages, [])
        self.assertIn(f"relay=mx.dual.example[::1]:{self.port}", self.inst.log())

    test_maildir_and_mbox_delivery = None
    test_unknown_user_bounces_and_unreachable_transport_defers = None
    test_crash_left_in_active_is_delivered_after_restart = None
    test_mailbox_size_limit = None
    test_bounce_notice_reaches_the_sender = None
    test_expired_mail_returns_to_sender = None
    test_delay_warning_is_sent_once = None


@unittest.skipUnless(os.getuid() == 0 and shutil.which("unshare"), "needs root and unshare")
class BestMxTransport(DnsAnswers):
    """best_mx_transport: mail for a domain whose best MX host is this system goes to that
    transport instead of bouncing as a loop."""

    def setUp(self):
        super().setUp()
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("best_mx_transport = virtual\n"
                     "virtual_mailbox_maps = inline:{ info@example.org=example.org/info/, "
                     "a@loop.example=loop/a/ }\n")
        self.assertTrue(self.inst.reload())

    test_dns_support_level_disabled = None

    def test_loops_truncation_and_protocols(self):
        qid = self.submit("info@example.org", ["a@loop.example"])
        new = os.path.join(self.vmail, "loop", "a", "new")
        self.assertTrue(poll(lambda: os.path.isdir(new) and len(os.listdir(new)) == 1 and
                             f"{qid}: removed" in self.inst.log(), timeout=30), self.inst.log())
        log = self.inst.log()
        self.assertRegex(log, f"postfix/virtual\\[\\d+\\]: {qid}: to=<a@loop\\.example>, "
                              r"relay=virtual, .*status=sent \(delivered to maildir\)")
        self.assertNotIn("loops back to myself", log)
        self.assertNotIn("status=bounced", log)
