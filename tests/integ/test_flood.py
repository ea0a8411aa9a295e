"""A flood never starves the legitimate: 1,000 connections from one address that send nothing,
against an smtpd service of 100 processes with the default limits. From outside mynetworks
anvil's count limit (50) answers the excess with 421; from an address in mynetworks, which
the limits exempt, no client may hold more than four fifths of the processes. Either way a
client from another address gets its greeting within a second. Host names come from a
resolver of the test's own (dnsmasq on loopback), as an ISP's fast local resolver would
answer them."""
import os
import re
import resource
import shutil
import socket
import subprocess
import unittest

from harness import program
from instance import Instance, free_port, poll

DNS_ADDR = "127.0.5.61"
FLOOD = "127.0.0.2"
LEGIT = "127.0.0.3"
CONNECTIONS = 1000


@unittest.skipUnless(os.getuid() == 0 and shutil.which("dnsmasq") and shutil.which("unshare"),
                     "needs root, dnsmasq and unshare")
class Flood(unittest.TestCase):
    def setUp(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < CONNECTIONS + 200:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        dns = subprocess.Popen(
            ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
             "--no-dhcp-interface=", f"--listen-address={DNS_ADDR}", "--bind-interfaces",
             "--port=53", "--local=/127.in-addr.arpa/", "--pid-file="],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (dns.terminate(), dns.wait(10)))
        self.port = free_port()
        self.inst = Instance(f"127.0.0.1:{self.port} inet n - n - - smtpd\n"
                             "cleanup unix n - n - 0 cleanup\n"
                             "qmgr unix n - n 300 1 qmgr\n"
                             "rewrite unix - - n - - trivial-rewrite\n"
                             "discard unix - - n - - discard\n"
                             "anvil unix - - n - 1 anvil\n")
        self.addCleanup(self.inst.cleanup)
        self.socks = []
        self.addCleanup(lambda: [s.close() for s in self.socks])

    def start(self, mynetworks):
        self.inst.write_main("myhostname = mx.example.org\nmydestination = localhost\n"
                             f"alias_maps =\nmynetworks = {mynetworks}\n"
                             "default_transport = discard\n")
        resolv = os.path.join(self.inst.dir, "resolv.conf")
        with open(resolv, "w") as fp:
            fp.write(f"nameserver {DNS_ADDR}\noptions attempts:2 timeout:2\n")
        res = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             f"mount --bind {resolv} /etc/resolv.conf && "
             f"exec {program('postfix')} -c {self.inst.etc} start"],
            env=dict(os.environ, **self.inst.sanitizer_env()), capture_output=True, text=True,
            timeout=60)
        self.assertEqual(res.returncode, 0, res.stderr)

    def flood(self):
        """CONNECTIONS connections from FLOOD that never say a word."""
        for _ in range(CONNECTIONS):
            s = socket.socket()
            s.setblocking(False)
            s.bind((FLOOD, 0))
            try:
                s.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self.socks.append(s)

    def greeting_within_a_second(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=1,
                                      source_address=(LEGIT, 0)) as c:
            data = b""
            while not data.endswith(b"\n"):  # a timeout here fails the test
                chunk = c.recv(512)
                if not chunk:
                    break
                data += chunk
            return data.decode()

    def refusals(self):
        """The counts in the warnings of refused flood connections (each counts the
        connections of the moment, other refused ones among them)."""
        warning = r"warning: Connection concurrency limit exceeded: (\d+) from \S+\[127\.0\.0\.2\]"
        return [int(n) for n in re.findall(warning, self.inst.log())]

    def test_flood_from_outside_mynetworks(self):
        self.start("127.0.0.1/32")
        self.flood()
        # anvil's limit (50) refuses the rest as smtpd gets to each of them
        self.assertTrue(poll(lambda: len(self.refusals()) >= CONNECTIONS - 50, timeout=60),
                        len(self.refusals()))
        self.assertGreaterEqual(min(self.refusals()), 51)
        self.assertEqual(self.greeting_within_a_second(), "220 mx.example.org ESMTP Postern\r\n")

    def test_flood_from_mynetworks(self):
        self.start("127.0.0.0/8")
        self.flood()
        # exempt from the limits, but not from the share of the processes: 80 of 100
        self.assertTrue(poll(lambda: len(self.refusals()) >= CONNECTIONS - 80, timeout=60),
                        len(self.refusals()))
        self.assertGreaterEqual(min(self.refusals()), 81)
        self.assertEqual(self.greeting_within_a_second(), "220 mx.example.org ESMTP Postern\r\n")


if __name__ == "__main__":
    unittest.main()
