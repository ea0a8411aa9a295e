"""Address rewriting in cleanup, end to end: canonical mapping and masquerading of the envelope
and of header addresses (display names and comments kept), and which clients' headers are
rewritten at all (local_header_rewrite_clients, remote_header_rewrite_domain)."""
import unittest

from instance import poll
from test_smtp import Smtp


class Rewriting(Smtp):
    extra = ("masquerade_domains = !keep.example.org, example.org\n"
             "masquerade_exceptions = root\n"
             "sender_canonical_maps = inline:{ a@example.com=alice@mail.example.org }\n")

    def send(self, sender, headers):
        c = self.smtp()
        self.assertEqual(c.sendmail(sender, ["info@example.org"],
                                    headers + "Subject: t\r\n\r\nx\r\n"), {})
        self.assertTrue(poll(lambda: len(self.delivered()) == 1, timeout=15), self.inst.log())
        return self.delivered()[0]

    def test_envelope_and_headers_are_mapped_and_masqueraded(self):
        text = self.send("a@example.com",
                         "From: Alice <a@example.com> (home)\r\n"
                         "To: info@example.org, Bob <bob@host.example.org>\r\n"
                         "Cc: root@host.example.org, x@keep.example.org, info\r\n")
        # canonical first (a@example.com -> alice@mail.example.org), then masquerading
        self.assertTrue(text.startswith("Return-Path: <alice@example.org>\n"), text)
        self.assertIn("\nFrom: Alice <alice@example.org> (home)\n", text)
        # recipient headers: masqueraded (header_recipient is a default class); root is an
        # exception, keep.example.org is excluded, and "info" gets $myorigin
        self.assertIn("\nTo: info@example.org, Bob <bob@example.org>\n", text)
        self.assertIn("\nCc: root@host.example.org, x@keep.example.org, info@example.org\n",
                      text)


class RemoteClients(Smtp):
    extra = ("local_header_rewrite_clients =\n"
             "masquerade_domains = example.org\n")

    def test_a_remote_clients_headers_are_left_alone(self):
        c = self.smtp()
        self.assertEqual(c.sendmail("user@host.example.org", ["info@example.org"],
                                    "From: user@host.example.org\r\nTo: info\r\n\r\nx\r\n"), {})
        self.assertTrue(poll(lambda: len(self.delivered()) == 1, timeout=15), self.inst.log())
        text = self.delivered()[0]
        self.assertTrue(text.startswith("Return-Path: <user@example.org>\n"), text)  # envelope
        self.assertIn("\nFrom: user@host.example.org\nTo: info\n", text)


class RemoteDomain(Smtp):
    extra = ("local_header_rewrite_clients =\n"
             "remote_header_rewrite_domain = domain.invalid\n")

    def test_incomplete_addresses_get_the_remote_domain(self):
        c = self.smtp()
        self.assertEqual(c.sendmail("user@example.com", ["info@example.org"],
                                    "From: user\r\nTo: info, x@y.example\r\n\r\nx\r\n"), {})
        self.assertTrue(poll(lambda: len(self.delivered()) == 1, timeout=15), self.inst.log())
        text = self.delivered()[0]
        self.assertIn("\nFrom: user@domain.invalid\nTo: info@domain.invalid, x@y.example\n", text)


class StaticAll(RemoteClients):
    extra = ("local_header_rewrite_clients = static:all\n"
             "masquerade_domains = example.org\n")

    def test_a_remote_clients_headers_are_left_alone(self):
        c = self.smtp()
        self.assertEqual(c.sendmail("user@host.example.org", ["info@example.org"],
                                    "From: user@host.example.org\r\nTo: info\r\n\r\nx\r\n"), {})
        self.assertTrue(poll(lambda: len(self.delivered()) == 1, timeout=15), self.inst.log())
        self.assertIn("\nFrom: user@example.org\nTo: info@example.org\n", self.delivered()[0])


class Extensions(Smtp):
    extra = "recipient_delimiter = +\n"

    def send_tagged(self):
        c = self.smtp()
        self.assertEqual(c.sendmail("a@example.com", ["alias+tag@example.org"],
                                    "Subject: t\r\n\r\nx\r\n"), {})
        self.assertTrue(poll(lambda: len(self.delivered()) == 1, timeout=15), self.inst.log())
        # the agent logs its line after the file is in place: wait for it too
        self.assertTrue(poll(lambda: "relay=virtual" in self.inst.log(), timeout=15),
                        self.inst.log())

    def test_an_unmatched_extension_goes_along(self):
        # alias@example.org=info@example.org matched alias+tag: the target keeps +tag
        self.send_tagged()
        self.assertIn("to=<info+tag@example.org>, orig_to=<alias+tag@example.org>, "
                      "relay=virtual", self.inst.log())


class ExtensionsNotPropagated(Extensions):
    extra = "recipient_delimiter = +\npropagate_unmatched_extensions = canonical\n"

    def test_an_unmatched_extension_goes_along(self):
        self.send_tagged()
        self.assertIn("to=<info@example.org>, orig_to=<alias+tag@example.org>, relay=virtual",
                      self.inst.log())


class QuotedLocalParts(Smtp):
    """Addresses the rewrite service calls malformed get 501 at MAIL and RCPT; an '@' in a
    quoted local part routes as if unquoted (resolve_dequoted_address)."""

    def test_malformed_addresses_and_quoted_routing(self):
        c = self.smtp()
        c.ehlo()
        self.assertEqual(c.mail("<user@>"), (501, b"5.1.7 Bad sender address syntax"))
        self.assertEqual(c.mail("<user@192.0.2.1>"), (501, b"5.1.7 Bad sender address syntax"))
        self.assertEqual(c.mail("<a@example.com>")[0], 250)
        for rcpt in ("<user@>", "<\"user@\"@localhost>", "<@>"):
            self.assertEqual(c.rcpt(rcpt), (501, b"5.1.3 Bad recipient address syntax"), rcpt)
        # looked into, the quoted local part routes to remote.example: relayed for mynetworks
        self.assertEqual(c.rcpt("<\"info@remote.example\"@localhost>")[0], 250)
        # quotes where they are needed, and where they are not
        code, text = c.rcpt("<\"no one\"@localhost>")
        self.assertEqual(code, 550, text)
        self.assertIn(b"User unknown in local recipient table", text)
        self.assertEqual(c.rcpt("<\"info\"@example.org>")[0], 250)
        self.assertEqual(c.rcpt("<info@example.org>")[0], 250)
        code, text = c.data(b"Subject: quoted\r\n\r\nx\r\n")
        self.assertEqual(code, 250, text)
        self.assertTrue(poll(lambda: len(self.delivered()) == 1, timeout=15), self.inst.log())
        self.assertEqual(len(self.delivered()), 1)  # "info" and info are one recipient


class QuotedLocalPartsKept(Smtp):
    extra = "resolve_dequoted_address = no\nresolve_null_domain = yes\n"

    def test_quoted_local_parts_stay_local_and_the_null_domain_is_ours(self):
        c = self.smtp()
        c.ehlo()
        self.assertEqual(c.mail("<a@example.com>")[0], 250)
        code, text = c.rcpt("<\"info@remote.example\"@localhost>")
        self.assertEqual(code, 550, text)
        self.assertIn(b"User unknown in local recipient table", text)
        # "user@" is user@$myhostname, relayed for mynetworks like any other address
        self.assertEqual(c.rcpt("<someone@>")[0], 250)
