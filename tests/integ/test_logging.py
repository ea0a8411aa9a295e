"""The log as users and their tools read it: maillog_file written by postlogd in Postfix's
line format, read by Debian's pflogsumm and fail2ban-regex; control characters from clients
never split or forge a line; postfix logrotate under load loses no line; postlog logs from
scripts; with maillog_file empty, lines go to syslog on /dev/log with syslog_facility."""
import glob
import gzip
import os
import pwd
import re
import shutil
import smtplib
import socket
import subprocess
import threading
import time
import unittest

from harness import program, run
from instance import Instance, free_port, poll
from smtpload import Load

# Postfix's maillog_file line: "Mmm dd HH:MM:SS host tag[pid]: text"
LINE = re.compile(r"^[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \S+ [^\s\[\]]+\[\d+\]: \S.*$")


def services(port):
    return (f"127.0.0.1:{port} inet n - y - - smtpd\n"
            "cleanup unix n - y - 0 cleanup\n"
            "qmgr unix n - n 300 1 qmgr\n"
            "rewrite unix - - y - - trivial-rewrite\n"
            "bounce unix - - y - 0 bounce\n"
            "virtual unix - n n - - virtual\n"
            "postlog unix-dgram n - n - 1 postlogd\n")


@unittest.skipUnless(os.getuid() == 0, "privileged agents and chroot need root")
class Logging(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.inst = Instance(services(self.port))
        self.addCleanup(self.inst.cleanup)
        owner = pwd.getpwnam("nobody")
        self.vmail = os.path.join(self.inst.dir, "vmail")
        os.mkdir(self.vmail)
        os.chown(self.vmail, owner.pw_uid, owner.pw_gid)
        # loopback is not in mynetworks: relaying is refused, as to a stranger
        self.inst.write_main(
            "myhostname = mx.example.org\nmyorigin = example.org\n"
            "mydestination = localhost\nalias_maps =\nmynetworks = 192.0.2.0/24\n"
            "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n"
            "virtual_mailbox_domains = example.org\n"
            f"virtual_mailbox_base = {self.vmail}\n"
            "virtual_mailbox_maps = inline:{ info@example.org=example.org/info/ }\n"
            f"virtual_uid_maps = static:{owner.pw_uid}\n"
            f"virtual_gid_maps = static:{owner.pw_gid}\n")
        self.inst.start()

    def send(self, count, rejected=0):
        for i in range(count):
            with smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.example",
                              timeout=20) as c:
                c.sendmail("sender@example.net", ["info@example.org"],
                           f"Subject: {i}\r\nMessage-ID: <m{i}@example.net>\r\n\r\nbody {i}\r\n")
        for i in range(rejected):
            with smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.example",
                              timeout=20) as c:
                c.mail("spammer@example.net")
                code, _ = c.rcpt(f"victim{i}@elsewhere.example")
                self.assertEqual(code, 554)

    def wait_removed(self, count, timeout=30):
        self.assertTrue(poll(lambda: self.inst.log().count(": removed") >= count,
                             timeout=timeout), self.inst.log())

    def test_lines_have_the_syslog_format_and_postlogd_writes_them(self):
        self.send(1)
        self.wait_removed(1)
        lines = self.inst.log().splitlines()
        bad = [line for line in lines if not LINE.match(line)]
        self.assertEqual(bad, [])
        self.assertTrue(any(" mx postfix/smtpd[" in line and "connect from" in line
                            for line in lines), lines)
        self.assertTrue(self.inst.processes("postlogd"), "postlogd is not running")

    @unittest.skipUnless(shutil.which("pflogsumm"), "needs Debian's pflogsumm")
    def test_pflogsumm_counts_what_was_sent(self):
        self.send(5, rejected=3)
        self.wait_removed(5)
        res = subprocess.run(["pflogsumm", self.inst.log_path], capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(res.returncode, 0, res.stderr)
        totals = dict((name, int(n)) for n, name in
                      re.findall(r"^\s+(\d+)\s+(received|delivered|rejected|bounced|deferred)\b",
                                 res.stdout, re.M))
        self.assertEqual(totals, {"received": 5, "delivered": 5, "rejected": 3, "bounced": 0,
                                  "deferred": 0}, res.stdout)

    @unittest.skipUnless(shutil.which("fail2ban-regex"), "needs Debian's fail2ban")
    def test_fail2ban_filters_see_each_rejection(self):
        self.send(1, rejected=3)
        self.wait_removed(1)
        self.assertTrue(poll(lambda: self.inst.log().count("Relay access denied") == 3),
                        self.inst.log())
        for name in ("postfix", "postfix[mode=aggressive]"):
            res = subprocess.run(["fail2ban-regex", self.inst.log_path, name],
                                 capture_output=True, text=True, timeout=120)
            self.assertEqual(res.returncode, 0, res.stderr)
            self.assertRegex(res.stdout, r"Failregex: 3 total", f"{name}:\n{res.stdout}")

    def test_control_characters_never_forge_a_line(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=20)
        self.addCleanup(s.close)
        f = s.makefile("rb")

        def command(line):
            if line is not None:
                s.sendall(line + b"\r\n")
            while True:
                reply = f.readline()
                if reply[3:4] != b"-":
                    return reply

        command(None)
        forged = b"Dec 05 00:00:00 mx postfix/smtpd[1]: forged"
        command(b"HELO evil\rX" + forged)
        command(b"MAIL FROM:<a\x01b\x7f@example.net>")  # refused: control characters
        self.assertTrue(command(b"MAIL FROM:<sender@example.net>").startswith(b"250"))
        self.assertTrue(command(b"RCPT TO:<x\x00y\rz" + forged + b"@elsewhere.example>")
                        .startswith(b"5"))
        self.assertTrue(command(b"RCPT TO:<victim@elsewhere.example>").startswith(b"554"))
        self.assertTrue(command(b"RCPT TO:<info@example.org>").startswith(b"250"))
        command(b"DATA")
        self.assertTrue(command(b"Message-ID:\r\n <folded\x02@example.net>\r\n"
                                b"Subject: x\r\n\r\nbody\r\n.").startswith(b"250"))
        command(b"QUIT")
        self.wait_removed(1)
        lines = self.inst.log().splitlines()
        self.assertEqual([line for line in lines if not LINE.match(line)], [])
        self.assertEqual([line for line in lines if "forged" in line and "reject" not in line],
                         [], "a client's text began a line of its own")
        self.assertEqual([line for line in lines if re.search(r"[\x00-\x1f\x7f]", line)], [])
        # the HELO name with its CR is in the reject line, as one line
        rejects = [line for line in lines if "Relay access denied" in line]
        self.assertEqual(len(rejects), 1, lines)
        self.assertIn("helo=<evil?XDec 05 00:00:00 mx postfix/smtpd[1]: forged>", rejects[0])
        message_ids = [line for line in lines if "message-id=" in line]
        self.assertEqual(len(message_ids), 1, lines)
        self.assertIn("folded?@example.net>", message_ids[0])

    def test_logrotate_under_load_loses_no_line(self):
        count, rounds = 250, 3
        for round in range(rounds):
            # the rotated file's name has seconds: one rotation per second
            second = int(time.time())
            poll(lambda: int(time.time()) != second, timeout=2, interval=0.01)
            load = Load("127.0.0.1", self.port, count, 8, lambda n: "info@example.org")
            thread = threading.Thread(target=load.run)
            thread.start()
            poll(lambda: len(load.accepted) >= count // 5, timeout=30, interval=0.01)
            res = self.inst.postfix("logrotate")  # while the load goes on
            thread.join(120)
            self.assertEqual(res.rc, 0, res)
            self.assertFalse(thread.is_alive())
            self.assertEqual(len(load.accepted), count, load.refused)
        count *= rounds
        rotated = glob.glob(self.inst.log_path + ".*")
        self.assertEqual(len(rotated), rounds)
        self.assertTrue(all(path.endswith(".gz") for path in rotated), rotated)

        def whole():
            text = ""
            for path in sorted(rotated):
                with gzip.open(path, "rt", errors="replace") as fp:
                    text += fp.read()
            return text + self.inst.log()

        if not poll(lambda: whole().count(": removed") == count, timeout=60):
            text = whole()
            ids = set(re.findall(r" (\w+): client=", text))
            lost = [i for i in ids if f" {i}: removed" not in text]
            self.fail(f"{text.count(': removed')} of {count}; no removed line for {lost}:\n" +
                      "\n".join(line for line in text.splitlines()
                                if any(i in line for i in lost)))
        text = whole()
        for event in (": client=localhost[127.0.0.1]", ": message-id=", "status=sent"):
            self.assertEqual(text.count(event), count, event)
        self.assertEqual([line for line in text.splitlines() if not LINE.match(line)], [])

    def test_postlog_logs_from_scripts(self):
        env = {"MAIL_CONFIG": self.inst.etc}
        res = run(["postlog", "-t", "backup/script", "-p", "warn", "disk", "almost", "full"],
                  env=env)
        self.assertEqual(res.rc, 0, res)
        res = run(["postlog"], stdin="first line\nsecond\x01line\n", env=env)
        self.assertEqual(res.rc, 0, res)
        self.assertEqual(run(["postlog", "-p", "loud", "x"], env=env).rc, 1)
        self.assertTrue(poll(lambda: "postfix/postlog[" in self.inst.log() and
                             "second?line" in self.inst.log()), self.inst.log())
        log = self.inst.log()
        self.assertRegex(log, r" mx backup/script\[\d+\]: warning: disk almost full\n")
        self.assertRegex(log, r" mx postfix/postlog\[\d+\]: first line\n")
        # without postlogd (the system is stopped), the line is appended directly
        self.inst.postfix("stop")
        self.assertEqual(run(["postlog", "after the stop"], env=env).rc, 0)
        self.assertRegex(self.inst.log(), r" mx postfix/postlog\[\d+\]: after the stop\n")


@unittest.skipUnless(os.getuid() == 0, "privileged agents and chroot need root")
class Stdout(unittest.TestCase):
    """maillog_file = /dev/stdout with postfix start-fg, as in a container: postlogd writes to
    master's standard output."""

    def test_start_fg_logs_to_stdout(self):
        port = free_port()
        inst = Instance(services(port))
        self.addCleanup(inst.cleanup)
        with open(os.path.join(inst.etc, "main.cf")) as fp:
            main = fp.read()
        main = re.sub(r"^maillog_file = .*$", "maillog_file = /dev/stdout", main, flags=re.M)
        main = re.sub(r"^maillog_file_prefixes = .*$", "", main, flags=re.M)
        with open(os.path.join(inst.etc, "main.cf"), "w") as fp:
            fp.write(main + "myhostname = mx.example.org\nmydestination = localhost\n"
                     "alias_maps =\n")
        env = dict(os.environ, **inst.sanitizer_env())
        proc = subprocess.Popen([program("postfix"), "-c", inst.etc, "start-fg"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self.assertTrue(poll(lambda: inst.postfix("status").rc == 0, timeout=15))
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as c:
            c.noop()
        inst.postfix("stop")
        # ends when master and its children are gone
        out = proc.communicate(timeout=30)[0].decode(errors="replace")
        lines = out.splitlines()
        self.assertTrue(any(re.match(r"^[A-Z][a-z]{2} \d\d [\d:]{8} mx postfix/smtpd\[\d+\]: "
                                     r"connect from localhost\[127\.0\.0\.1\]$", line)
                            for line in lines), out)
        self.assertIn("terminating on signal 15", out)


@unittest.skipUnless(os.getuid() == 0 and shutil.which("unshare"), "needs root and unshare")
class Syslog(unittest.TestCase):
    """maillog_file empty: records go to /dev/log, here a socket of the test's own, mounted
    over /dev in a mount namespace that only this instance sees."""

    def test_records_go_to_dev_log_with_the_facility(self):
        port = free_port()
        inst = Instance(services(port))
        self.addCleanup(inst.cleanup)
        with open(os.path.join(inst.etc, "main.cf")) as fp:
            main = fp.read()
        main = re.sub(r"^maillog_file = .*$", "maillog_file =", main, flags=re.M)
        with open(os.path.join(inst.etc, "main.cf"), "w") as fp:
            fp.write(main + "myhostname = mx.example.org\nmydestination = localhost\nalias_maps =\n"
                     "syslog_facility = local3\nsyslog_name = edge\n")
        dev = os.path.join(inst.dir, "dev")
        os.mkdir(dev)
        receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(receiver.close)
        receiver.bind(os.path.join(dev, "log"))
        os.chmod(os.path.join(dev, "log"), 0o666)
        receiver.settimeout(10)
        for node in ("null", "zero", "urandom", "random"):
            open(os.path.join(dev, node), "w").close()
        binds = " && ".join(f"mount --bind /dev/{n} {dev}/{n}"
                            for n in ("null", "zero", "urandom", "random"))
        env = dict(os.environ, **inst.sanitizer_env())
        res = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             f"{binds} && mount --rbind {dev} /dev && "
             f"exec {program('postfix')} -c {inst.etc} start"],
            env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(res.returncode, 0, res.stderr)
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as c:
            c.noop()
        records = []
        while not any("connect from" in r for r in records):
            records.append(receiver.recv(4096).decode(errors="replace"))
        # local3 (19) * 8 + info (6)
        connect = [r for r in records if "connect from" in r][0]
        self.assertRegex(connect, r"^<158>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d "
                                  r"edge/smtpd\[\d+\]: connect from localhost\[127\.0\.0\.1\]$")
        self.assertEqual(os.path.getsize(inst.log_path), 0, "maillog_file is empty: no file")


if __name__ == "__main__":
    unittest.main()
