"""The queue under pressure, on a queue file system of its own (a small tmpfs): MAIL is refused
with 452 4.3.1 while there is no room for queue_minfree or 1.5 messages; without those limits a
message that fills the disk half-way through DATA gets a 4xx at the end of DATA and leaves
nothing half-written; every message that was acknowledged is delivered once there is room."""
import os
import pwd
import smtplib
import subprocess
import unittest

from harness import run
from instance import Instance, free_port, poll
from test_smtp import services

MB = 1024 * 1024


@unittest.skipUnless(os.getuid() == 0, "mounting a file system needs root")
class FullQueue(unittest.TestCase):
    def start(self, extra):
        self.port = free_port()
        self.inst = Instance(services(self.port))
        self.addCleanup(self.inst.cleanup)
        os.makedirs(self.inst.queue)
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", self.inst.queue],
                             capture_output=True, text=True)
        if res.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs here: {res.stderr.strip()}")
        self.addCleanup(self.unmount)  # runs before inst.cleanup: postfix stops first
        owner = pwd.getpwnam("nobody")
        self.vmail = os.path.join(self.inst.dir, "vmail")
        os.mkdir(self.vmail)
        os.chown(self.vmail, owner.pw_uid, owner.pw_gid)
        self.inst.write_main(
            "myhostname = mail.example.org\nmyorigin = example.org\n"
            "mydestination = localhost\nalias_maps =\n"
            "virtual_mailbox_domains = example.org\n"
            f"virtual_mailbox_base = {self.vmail}\n"
            "virtual_mailbox_maps = inline:{ info@example.org=example.org/info/ }\n"
            f"virtual_uid_maps = static:{owner.pw_uid}\n"
            f"virtual_gid_maps = static:{owner.pw_gid}\n"
            "defer_transports = virtual\n" + extra)  # mail stays queued until a flush
        self.inst.start()

    def unmount(self):
        self.inst.postfix("stop")
        poll(lambda: not self.inst.processes(), timeout=10)
        subprocess.run(["umount", "-l", self.inst.queue], capture_output=True)

    def delivered(self):
        new = os.path.join(self.vmail, "example.org", "info", "new")
        return sorted(os.listdir(new)) if os.path.isdir(new) else []

    def send(self, size, subject):
        """The replies to MAIL and to the end of DATA (None when MAIL was refused)."""
        c = smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.example", timeout=60)
        self.addCleanup(c.close)
        c.ehlo()
        mail = c.mail("a@example.com")
        if mail[0] != 250:
            c.quit()
            return mail, None
        self.assertEqual(c.rcpt("info@example.org")[0], 250)
        line = b"x" * 998 + b"\r\n"
        data = c.data(f"Subject: {subject}\r\n\r\n".encode() + line * (size // len(line)))
        c.quit()
        return mail, data

    def queued(self):
        return [f for d in ("incoming", "active", "deferred", "hold")
                for _, _, files in os.walk(os.path.join(self.inst.queue, d)) for f in files]

    def test_mail_is_refused_at_mail_when_there_is_no_room(self):
        self.start("message_size_limit = 1000000\n")  # 1.5 MB of room needed
        accepted = 0
        for i in range(6):
            mail, data = self.send(900 * 1024, f"m{i}")
            if mail[0] == 452:
                break
            self.assertEqual(data[0], 250, data)
            accepted += 1
        self.assertEqual(mail, (452, b"4.3.1 Insufficient system storage"))
        self.assertGreaterEqual(accepted, 1)
        self.assertIn("warning: not enough free space in mail queue", self.inst.log())
        self.assertEqual(run(["postqueue", "-c", self.inst.etc, "-f"]).rc, 0)
        self.assertTrue(poll(lambda: len(self.delivered()) == accepted, timeout=30),
                        self.inst.log())
        self.assertEqual(self.send(900 * 1024, "after")[1][0], 250)  # room again

    def test_a_disk_that_fills_during_data_gets_a_temporary_error(self):
        # (no notice to the postmaster about the write errors: it would be queued too)
        self.start("message_size_limit = 0\nqueue_minfree = 0\nnotify_classes =\n")
        replies = [self.send(int(1.5 * MB), f"big{i}") for i in range(4)]
        codes = [data[0] for mail, data in replies]
        self.assertEqual(codes[0], 250)
        self.assertIn(451, codes, replies)
        refused = [data for _, data in replies if data[0] != 250]
        self.assertTrue(all(d == (451, b"4.3.0 Error: queue file write error") for d in refused),
                        refused)
        accepted = codes.count(250)
        # nothing half-written stays behind: only the acknowledged messages are queued
        self.assertTrue(poll(lambda: len(self.queued()) == accepted, timeout=10),
                        (self.queued(), self.inst.log()))
        self.assertEqual(run(["postqueue", "-c", self.inst.etc, "-f"]).rc, 0)
        self.assertTrue(poll(lambda: len(self.delivered()) == accepted, timeout=30),
                        self.inst.log())
        self.assertEqual(self.send(int(1.5 * MB), "after")[1][0], 250)
