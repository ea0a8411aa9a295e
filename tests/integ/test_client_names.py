"""Client names, as smtpd finds them before its greeting: the PTR name when it resolves back
to the client's address, else "unknown" (with a warning when the forward lookup disagrees),
and never a session stalled by a DNS server that does not answer. A real DNS server
(dnsmasq on a loopback address) answers, reached through /etc/resolv.conf replaced in a
private mount namespace; clients connect from several loopback addresses."""
import os
import pwd
import re
import shutil
import smtplib
import socket
import subprocess
import time
import unittest

from harness import program
from instance import Instance, free_port, poll

DNS_ADDR = "127.0.5.53"
SILENT_ADDR = "127.0.5.54"  # a "DNS server" that reads queries and never answers


def services(port):
    return (f"127.0.0.1:{port} inet n - y - - smtpd\n"
            "cleanup unix n - y - 0 cleanup\n"
            "qmgr unix n - n 300 1 qmgr\n"
            "rewrite unix - - y - - trivial-rewrite\n"
            "virtual unix - n n - - virtual\n")


@unittest.skipUnless(os.getuid() == 0 and shutil.which("dnsmasq") and shutil.which("unshare"),
                     "needs root, dnsmasq and unshare")
class ClientNames(unittest.TestCase):
    def setUp(self):
        self.silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.silent.bind((SILENT_ADDR, 53))
        self.addCleanup(self.silent.close)
        dns = subprocess.Popen(
            ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
             f"--listen-address={DNS_ADDR}", "--bind-interfaces", "--port=53", "--pid-file=",
             "--host-record=good.example,127.0.0.7",
             "--ptr-record=8.0.0.127.in-addr.arpa,liar.example",
             "--host-record=liar.example,127.0.0.99",
             "--ptr-record=10.0.0.127.in-addr.arpa,nowhere.example",
             f"--server=/9.0.0.127.in-addr.arpa/{SILENT_ADDR}",
             "--local=/example/", "--local=/0.0.127.in-addr.arpa/"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(lambda: (dns.terminate(), dns.wait(10)))
        self.port = free_port()
        self.inst = Instance(services(self.port))
        self.addCleanup(self.inst.cleanup)
        owner = pwd.getpwnam("nobody")
        vmail = os.path.join(self.inst.dir, "vmail")
        os.mkdir(vmail)
        os.chown(vmail, owner.pw_uid, owner.pw_gid)
        self.inst.write_main(
            "myhostname = mx.example.org\nmydestination = localhost\nalias_maps =\n"
            "mynetworks = 127.0.0.0/8\nsmtpd_timeout = 3s\n"
            "virtual_mailbox_domains = example.org\n"
            f"virtual_mailbox_base = {vmail}\n"
            "virtual_mailbox_maps = inline:{ info@example.org=example.org/info/ }\n"
            f"virtual_uid_maps = static:{owner.pw_uid}\n"
            f"virtual_gid_maps = static:{owner.pw_gid}\n")
        resolv = os.path.join(self.inst.dir, "resolv.conf")
        with open(resolv, "w") as fp:
            # left alone, the resolver would wait 3 x 5 s for the silent server
            fp.write(f"nameserver {DNS_ADDR}\noptions attempts:3 timeout:5\n")
        env = dict(os.environ, **self.inst.sanitizer_env())
        res = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             f"mount --bind {resolv} /etc/resolv.conf && "
             f"exec {program('postfix')} -c {self.inst.etc} start"],
            env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(res.returncode, 0, res.stderr)

    def session(self, source):
        """One message from source; returns the time to the greeting and the message."""
        started = time.monotonic()
        client = smtplib.SMTP(timeout=30, local_hostname="helo.example",
                              source_address=(source, 0))
        client.connect("127.0.0.1", self.port)
        greeted = time.monotonic() - started
        client.sendmail("a@example.net", ["info@example.org"], f"Subject: from {source}\r\n\r\nx\r\n")
        client.quit()
        return greeted

    def received_header(self, source):
        new = os.path.join(self.inst.dir, "vmail", "example.org", "info", "new")

        def find():
            for name in os.listdir(new) if os.path.isdir(new) else []:
                with open(os.path.join(new, name)) as fp:
                    text = fp.read()
                if f"Subject: from {source}" in text:
                    return re.search(r"^Received: from .*$", text, re.M).group(0)
            return None

        return poll(find, timeout=20)

    def test_a_name_that_verifies(self):
        self.session("127.0.0.7")
        self.assertTrue(poll(lambda: "disconnect from good.example[127.0.0.7]" in self.inst.log()),
                        self.inst.log())
        self.assertIn("connect from good.example[127.0.0.7]", self.inst.log())
        self.assertRegex(self.inst.log(), r": client=good\.example\[127\.0\.0\.7\]\n")
        self.assertEqual(self.received_header("127.0.0.7"),
                         "Received: from helo.example (good.example [127.0.0.7])")

    def test_a_name_that_does_not_verify(self):
        self.session("127.0.0.8")
        log = self.inst.log()
        self.assertTrue(poll(lambda: "disconnect from unknown[127.0.0.8]" in self.inst.log()), log)
        self.assertIn("warning: hostname liar.example does not resolve to address 127.0.0.8\n",
                      self.inst.log())
        self.assertEqual(self.received_header("127.0.0.8"),
                         "Received: from helo.example (unknown [127.0.0.8])")

    def test_a_name_that_does_not_exist(self):
        self.session("127.0.0.10")
        self.assertTrue(poll(lambda: "disconnect from unknown[127.0.0.10]" in self.inst.log()),
                        self.inst.log())
        self.assertIn("warning: hostname nowhere.example does not resolve to address 127.0.0.10: "
                      "Name or service not known", self.inst.log())

    def test_a_ptr_lookup_that_times_out_does_not_stall_the_session(self):
        greeted = self.session("127.0.0.9")
        # smtpd_timeout (3 s) bounds the wait; the resolver alone would wait 15 s
        self.assertLess(greeted, 8)
        self.assertTrue(poll(lambda: "disconnect from unknown[127.0.0.9]" in self.inst.log()),
                        self.inst.log())

    def test_restrictions_see_both_names(self):
        self.inst.postfix("stop")
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("smtpd_client_restrictions = reject_unknown_reverse_client_hostname\n"
                     "smtpd_helo_required = no\n"
                     "smtpd_sender_restrictions = reject_unknown_client_hostname\n"
                     "unknown_client_reject_code = 550\n")
        resolv = os.path.join(self.inst.dir, "resolv.conf")
        env = dict(os.environ, **self.inst.sanitizer_env())
        res = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             f"mount --bind {resolv} /etc/resolv.conf && "
             f"exec {program('postfix')} -c {self.inst.etc} start"],
            env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(res.returncode, 0, res.stderr)

        def rcpt_reply(source):
            client = smtplib.SMTP(timeout=30, source_address=(source, 0))
            self.addCleanup(client.close)
            client.connect("127.0.0.1", self.port)
            client.ehlo("helo.example")
            client.mail("a@example.net")
            return client.rcpt("info@example.org")

        self.assertEqual(rcpt_reply("127.0.0.7")[0], 250)
        # a PTR name that does not verify: the reverse name exists, the verified one not
        self.assertEqual(rcpt_reply("127.0.0.8"),
                         (550, b"5.7.25 Client host rejected: "
                               b"cannot find your hostname, [127.0.0.8]"))
        # no PTR name at all
        self.assertEqual(rcpt_reply("127.0.0.11"),
                         (550, b"5.7.25 Client host rejected: "
                               b"cannot find your reverse hostname, [127.0.0.11]"))

    def test_port_logging_and_no_lookup(self):
        self.inst.postfix("stop")
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("smtpd_peername_lookup = no\nsmtpd_client_port_logging = yes\n")
        self.inst.start()
        self.session("127.0.0.7")
        self.assertTrue(poll(lambda: re.search(r"disconnect from unknown\[127\.0\.0\.7\]:\d+ ",
                                               self.inst.log())), self.inst.log())


if __name__ == "__main__":
    unittest.main()
