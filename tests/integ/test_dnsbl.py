"""DNS lists in the restrictions, through a resolver that the test is (tests/tools/fakedns.py,
in the instance's mount namespace): a listed client is rejected with the reference's reply
(its TXT records joined by " / "), a filter that does not match lists nothing and one that
does lists, a failed lookup or one never answered is no listing (warned, bounded in time),
permit_dnswl_client permits, reject_rhsbl_sender names the sender, rbl_reply_maps gives its
own reply with the $rbl_* macros, a missing zone is warned about and skipped. Texts checked
against Postfix 3.7 with the same resolver."""
import os
import shutil
import smtplib
import time
import unittest

import test_delivery
from fakedns import FakeDns
from instance import free_port, poll
from test_dns import start_with_resolver

DNS_ADDR = "127.0.5.59"
CLIENT = "127.0.0.2"  # outside mynetworks

CASES = {  # name: the restriction, in smtpd_client_restrictions unless it says sender
    "listed": "reject_rbl_client,bl.test",
    "notxt": "reject_rbl_client,notxt.test",
    "unmatched": "reject_rbl_client,filtered.test=127.0.0.[2..4]",
    "matched": "reject_rbl_client,filtered.test=127.0.0.[1..3;9]",
    "servfail": "reject_rbl_client,sf.test",
    "silent": "reject_rbl_client,silent.test",
    "noarg": "reject_rbl_client",
    "custom": "reject_rbl_client,custom.test",
    "welcome": "permit_dnswl_client,wl.test,reject",
    "sender": "sender:reject_rhsbl_sender,rhs.test",
    "recipient": "recipient:reject_rhsbl_recipient,rhs.test",
    "helo": "helo:reject_unknown_helo_hostname",
}


@unittest.skipUnless(os.getuid() == 0 and shutil.which("unshare"), "needs root and unshare")
class Dnsbl(test_delivery.Delivery):
    def setUp(self):
        self.dns = FakeDns(DNS_ADDR, {
            ("2.0.0.127.bl.test", "A"): ["127.0.0.2"],
            ("2.0.0.127.bl.test", "TXT"): ["listed, see http://bl.test/?127.0.0.2", "second"],
            ("2.0.0.127.notxt.test", "A"): ["127.0.0.2"],
            ("2.0.0.127.filtered.test", "A"): ["127.0.0.9"],
            ("2.0.0.127.custom.test", "A"): ["127.0.0.2"],
            ("2.0.0.127.custom.test", "TXT"): ["why not"],
            ("2.0.0.127.wl.test", "A"): ["127.0.0.2"],
            ("spam.example.rhs.test", "A"): ["127.0.0.2"],
            ("listed.example.rhs.test", "A"): ["127.0.0.2"],
            ("mail.known.example", "A"): ["127.0.0.9"],
            ("spam.example", "MX"): [(10, "mx.bad.example")],
            ("mx.bad.example", "A"): ["127.0.0.66"],
            ("listed.example", "NS"): ["ns.bad.example"],
            ("backup.example", "MX"): [(10, "primary.elsewhere"), (20, "mx.local.example")],
            ("primary.example", "MX"): [(10, "mx.local.example")],
            ("mx.local.example", "A"): ["127.0.0.1"],
            ("primary.elsewhere", "A"): ["192.0.2.7"],
        }, servfail=["2.0.0.127.sf.test", "sf.example"], silent=["2.0.0.127.silent.test"])
        self.addCleanup(self.dns.close)
        super().setUp()
        etc = self.inst.etc
        with open(os.path.join(etc, "servers.cidr"), "w") as fp:
            fp.write("127.0.0.66 REJECT bad mx\n127.0.0.9 REJECT helo address\n")
        with open(os.path.join(etc, "servers"), "w") as fp:
            fp.write("ns.bad.example REJECT bad ns\nbad.example REJECT mx name\n"
                     "b@sf.example REJECT refused anyway\n")
        cases = dict(CASES, **{
            "sender_mx": f"sender:check_sender_mx_access,cidr:{etc}/servers.cidr",
            "sender_mx_name": f"sender:check_sender_mx_access,texthash:{etc}/servers",
            "recipient_ns": f"recipient:check_recipient_ns_access,texthash:{etc}/servers",
            "helo_a": f"helo:check_helo_a_access,cidr:{etc}/servers.cidr",
            "backup": "recipient:permit_mx_backup,reject",
            "tempfail": "recipient:reject_unknown_recipient_domain,"
                        f"check_recipient_access,texthash:{etc}/servers"})
        self.ports = {name: free_port() for name in cases}
        master = ""
        for name, spec in cases.items():
            param = "smtpd_client_restrictions"
            if ":" in spec.split(",")[0]:
                stage, spec = spec.split(":", 1)
                param = f"smtpd_{stage}_restrictions"
            master += (f"127.0.0.1:{self.ports[name]} inet n - n - - smtpd "
                       f"-o {param}={spec}\n")
        replies = os.path.join(self.inst.etc, "rbl_replies")
        with open(replies, "w") as fp:  # a file: main.cf would expand the macros itself
            fp.write("custom.test 521 4.7.9 custom: $rbl_class [$rbl_what] in $rbl_domain "
                     "($rbl_txt) for $client_address\n")
        start_with_resolver(self, DNS_ADDR, "mynetworks = 127.0.0.1/32\nalias_maps =\n"
                                            "smtpd_relay_restrictions = check_client_access "
                                            "inline:{ 127.0.0.2=OK }, reject\n"
                                            f"rbl_reply_maps = texthash:{replies}\n", master)

    def rcpt(self, name, helo="client.example", to="info@example.org"):
        c = smtplib.SMTP(source_address=(CLIENT, 0), timeout=30)
        c.connect("127.0.0.1", self.ports[name])
        c.ehlo(helo)
        self.assertEqual(c.docmd("MAIL FROM:<x@spam.example>")[0], 250)
        reply = c.docmd(f"RCPT TO:<{to}>")
        try:
            c.quit()
        except smtplib.SMTPServerDisconnected:
            reply += ("closed",)
        return reply

    def test_lists(self):
        self.assertEqual(self.rcpt("listed"),
                         (554, b"5.7.1 Service unavailable; Client host [127.0.0.2] blocked using "
                               b"bl.test; listed, see http://bl.test/?127.0.0.2 / second"))
        self.assertEqual(self.rcpt("notxt"),
                         (554, b"5.7.1 Service unavailable; Client host [127.0.0.2] blocked using "
                               b"notxt.test"))
        self.assertEqual(self.rcpt("unmatched")[0], 250)
        self.assertEqual(self.rcpt("matched")[0], 554)
        self.assertEqual(self.rcpt("servfail")[0], 250)
        started = time.monotonic()
        self.assertEqual(self.rcpt("silent")[0], 250)
        self.assertLess(time.monotonic() - started, 20)
        self.assertEqual(self.rcpt("noarg")[0], 250)
        self.assertEqual(self.rcpt("custom"),
                         (521, b"5.7.9 custom: Client host [127.0.0.2] in custom.test (why not) "
                               b"for 127.0.0.2", "closed"))
        self.assertEqual(self.rcpt("welcome")[0], 250)
        self.assertEqual(self.rcpt("sender"),
                         (554, b"5.7.1 Service unavailable; Sender address [x@spam.example] "
                               b"blocked using rhs.test"))
        self.assertEqual(self.rcpt("recipient", to="someone@listed.example"),
                         (554, b"5.7.1 Service unavailable; Recipient address "
                               b"[someone@listed.example] blocked using rhs.test"))
        self.assertEqual(self.rcpt("recipient")[0], 250)
        # reject_unknown_helo_hostname: no address and no MX record for the name
        self.assertEqual(self.rcpt("helo"),
                         (450, b"4.7.1 <client.example>: Helo command rejected: Host not found"))
        self.assertEqual(self.rcpt("helo", helo="mail.known.example")[0], 250)
        self.assertEqual(self.rcpt("helo", helo="[127.0.0.2]")[0], 250)
        # check_*_{a,mx,ns}_access: the servers of a name and their addresses
        self.assertEqual(self.rcpt("sender_mx"),
                         (554, b"5.7.1 <x@spam.example>: Sender address rejected: bad mx"))
        self.assertEqual(self.rcpt("sender_mx_name"),
                         (554, b"5.7.1 <x@spam.example>: Sender address rejected: mx name"))
        self.assertEqual(self.rcpt("recipient_ns", to="a@sub.listed.example"),
                         (554, b"5.7.1 <a@sub.listed.example>: Recipient address rejected: bad ns"))
        self.assertEqual(self.rcpt("recipient_ns")[0], 250)
        self.assertEqual(self.rcpt("helo_a", helo="mail.known.example"),
                         (554, b"5.7.1 <mail.known.example>: Helo command rejected: helo address"))
        self.assertEqual(self.rcpt("helo_a")[0], 250)
        # a DNS failure is held back (defer_if_permit): a later rejection wins over it
        self.assertEqual(self.rcpt("tempfail", to="a@sf.example"),
                         (450, b"4.1.2 <a@sf.example>: Recipient address rejected: Domain not found"))
        self.assertEqual(self.rcpt("tempfail", to="b@sf.example"),
                         (554, b"5.7.1 <b@sf.example>: Recipient address rejected: refused anyway"))
        # permit_mx_backup: a backup MX (127.0.0.1 is this system's), not the best one
        self.assertEqual(self.rcpt("backup", to="a@backup.example")[0], 250)
        self.assertEqual(self.rcpt("backup", to="a@primary.example")[0], 554)
        self.assertEqual(self.rcpt("backup", to="a@spam.example")[0], 554)
        log = self.inst.log()
        self.assertRegex(log, r"NOQUEUE: reject: RCPT from \S+\[127\.0\.0\.2\]: 554 5\.7\.1 Service "
                              r"unavailable; Client host \[127\.0\.0\.2\] blocked using bl\.test; "
                              r"listed, see http://bl\.test/\?127\.0\.0\.2 / second; "
                              r"from=<x@spam\.example> to=<info@example\.org> proto=ESMTP "
                              r"helo=<client\.example>\n")
        self.assertIn("warning: 2.0.0.127.sf.test: RBL lookup error: Host or domain name not found. "
                      "Name service error for name=2.0.0.127.sf.test type=A: Host not found, try "
                      "again", log)
        self.assertIn("warning: restriction reject_rbl_client requires domain name argument", log)
        # the answers are kept: one query per name however often it is asked
        self.assertEqual(self.dns.queries.count(("2.0.0.127.bl.test", "A")), 1)

    test_maildir_and_mbox_delivery = None
    test_unknown_user_bounces_and_unreachable_transport_defers = None
    test_crash_left_in_active_is_delivered_after_restart = None
    test_mailbox_size_limit = None
    test_bounce_notice_reaches_the_sender = None
    test_expired_mail_returns_to_sender = None
    test_delay_warning_is_sent_once = None


if __name__ == "__main__":
    unittest.main()
