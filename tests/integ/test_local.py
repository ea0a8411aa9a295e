"""local delivery: "root: user" aliasing into the user's ~/Maildir/, forwarding aliases that go
back through cleanup, a ~/.forward with a backslashed copy, an alias command, and unknown local
users rejected at RCPT time; a verification (sendmail -bv) reports where each address would
go without delivering."""
import grp
import os
import pwd
import smtplib
import subprocess
import unittest

import socket

from attr import frame, get, read_frame
from harness import run
from instance import Instance, free_port, poll
from test_cleanup import rcpt, record

USER = "postern-lucas"


@unittest.skipUnless(os.getuid() == 0, "local delivery and test users need root")
class Local(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.inst = Instance(
            f"127.0.0.1:{self.port} inet n - y - - smtpd\n"
            "cleanup unix n - y - 0 cleanup\n"
            "qmgr unix n - n 300 1 qmgr\n"
            "rewrite unix - - y - - trivial-rewrite\n"
            "local unix - n n - - local\n"
            "virtual unix - n n - - virtual\n"
            "bounce unix - - n - 0 bounce\n")
        self.addCleanup(self.inst.cleanup)
        self.home = os.path.join(self.inst.dir, "home")
        os.mkdir(self.home)
        subprocess.run(["userdel", "-r", USER], capture_output=True)
        subprocess.run(["useradd", "-m", "-d", os.path.join(self.home, USER), "-s",
                        "/usr/sbin/nologin", USER], check=True)
        self.addCleanup(subprocess.run, ["userdel", "-r", USER], capture_output=True)
        self.user = pwd.getpwnam(USER)
        nobody = pwd.getpwnam("nobody")
        self.vmail = os.path.join(self.inst.dir, "vmail")
        os.mkdir(self.vmail)
        os.chown(self.vmail, nobody.pw_uid, nobody.pw_gid)
        self.out = os.path.join(self.inst.dir, "command-output")
        open(self.out, "w").close()
        os.chown(self.out, nobody.pw_uid, nobody.pw_gid)
        aliases = os.path.join(self.inst.etc, "aliases")
        with open(aliases, "w") as fp:
            fp.write(f"postmaster: root\nroot: {USER}\nfwd: info@example.org\n"
                     f"cmd: \"|cat >> {self.out}\"\nboth: {USER}, info@example.org\n")
        self.assertEqual(run(["postalias", aliases]).rc, 0)
        self.inst.write_main(
            "myhostname = mail.example.org\nmyorigin = $myhostname\n"
            "mydestination = localhost, $myhostname\n"
            f"alias_maps = hash:{aliases}\nhome_mailbox = Maildir/\n"
            "mynetworks = 127.0.0.0/8\n"
            "virtual_mailbox_domains = example.org\n"
            f"virtual_mailbox_base = {self.vmail}\n"
            "virtual_mailbox_maps = inline:{ info@example.org=example.org/info/ }\n"
            f"virtual_uid_maps = static:{nobody.pw_uid}\n"
            f"virtual_gid_maps = static:{nobody.pw_gid}\n")
        self.inst.start()

    def send(self, rcpt, subject):
        c = smtplib.SMTP("127.0.0.1", self.port, timeout=20)
        c.ehlo("client.example")
        code, text = c.mail("sender@example.com")
        code, text = c.rcpt(rcpt)
        if code != 250:
            c.quit()
            return code, text
        code, text = c.data(f"Subject: {subject}\r\n\r\nHello.\r\n".encode())
        c.quit()
        return code, text

    def maildir(self, path):
        new = os.path.join(path, "new")
        return [open(os.path.join(new, f)).read() for f in sorted(os.listdir(new))] \
            if os.path.isdir(new) else []

    def user_mail(self):
        return self.maildir(os.path.join(self.user.pw_dir, "Maildir"))

    def virtual_mail(self):
        return self.maildir(os.path.join(self.vmail, "example.org", "info"))

    def test_root_alias_reaches_the_users_maildir(self):
        self.assertEqual(self.send("root@localhost", "to-root")[0], 250)
        self.assertTrue(poll(lambda: len(self.user_mail()) == 1, timeout=15), self.inst.log())
        msg = self.user_mail()[0]
        self.assertIn("Delivered-To: root@localhost\n", msg)
        self.assertIn("Subject: to-root\n", msg)
        new = os.path.join(self.user.pw_dir, "Maildir", "new")
        st = os.stat(os.path.join(new, os.listdir(new)[0]))
        self.assertEqual((st.st_uid, st.st_gid), (self.user.pw_uid, self.user.pw_gid))
        # the worker writes the file before the agent logs the delivery
        self.assertTrue(poll(lambda: "status=sent (delivered to maildir)" in self.inst.log(),
                             timeout=15), self.inst.log())
        self.assertIn("to=<root@localhost>, relay=local", self.inst.log())

    def test_forwarding_command_and_both(self):
        self.assertEqual(self.send("fwd@mail.example.org", "forwarded")[0], 250)
        self.assertEqual(self.send("cmd@localhost", "to-command")[0], 250)
        self.assertEqual(self.send("both@localhost", "to-both")[0], 250)
        self.assertTrue(poll(lambda: len(self.virtual_mail()) == 2 and
                             len(self.user_mail()) == 1 and
                             "to-command" in open(self.out).read(), timeout=20),
                        self.inst.log())
        forwarded = [m for m in self.virtual_mail() if "Subject: forwarded" in m][0]
        self.assertIn("Delivered-To: fwd@mail.example.org\n", forwarded)
        # the deliveries are logged after they are done
        self.assertTrue(poll(lambda: "status=sent (forwarded as " in self.inst.log() and
                             "status=sent (delivered to command: cat >> " in self.inst.log(),
                             timeout=15), self.inst.log())

    def test_verification_reports_without_delivering(self):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(self.inst.unix_path("cleanup", private=False))
        read_frame(s)
        s.sendall(frame([("req", "open"), ("flags", 0)]))
        get(read_frame(s), "queue_id")
        data = record("A", "rewrite_context=local") + record("A", "trace_flags=verify")
        data += record("S", "info@example.org")
        for r in ("root@localhost", "cmd@localhost", "fwd@localhost"):
            data += rcpt(r)
        s.sendall(data + record("M") + record("H", "Subject: probe") + record("B", "") +
                  record("."))
        self.assertEqual(get(read_frame(s), "status"), 0)
        s.close()
        self.assertTrue(poll(lambda: len(self.virtual_mail()) == 1, timeout=20), self.inst.log())
        report = self.virtual_mail()[0]
        self.assertIn("Subject: Mail Delivery Status Report", report)
        self.assertIn("<root@localhost>: delivers to maildir\n", report)
        self.assertIn(f"<cmd@localhost>: delivers to command: cat >> {self.out}\n", report)
        self.assertIn("<fwd@localhost>: aliased to info@example.org\n", report)
        self.assertEqual(self.user_mail(), [])
        self.assertEqual(open(self.out).read(), "")

    def test_dot_forward_and_unknown_user(self):
        forward = os.path.join(self.user.pw_dir, ".forward")
        with open(forward, "w") as fp:
            fp.write(f"\\{USER}, info@example.org\n")
        os.chown(forward, self.user.pw_uid, self.user.pw_gid)
        self.assertEqual(self.send(f"{USER}@localhost", "dot-forward")[0], 250)
        self.assertTrue(poll(lambda: len(self.user_mail()) == 1 and len(self.virtual_mail()) == 1,
                             timeout=20), self.inst.log())
        code, text = self.send("no-such-user@localhost", "x")
        self.assertEqual((code, text), (550, b"5.1.1 <no-such-user@localhost>: Recipient "
                                             b"address rejected: User unknown in local recipient "
                                             b"table"))


@unittest.skipUnless(os.getuid() == 0, "local delivery and test users need root")
class Restrictions(Local):
    def test_commands_only_where_allowed_and_unknown_users_relayed(self):
        forward = os.path.join(self.user.pw_dir, ".forward")
        with open(forward, "w") as fp:
            fp.write(f"\"|cat >> {self.out}\"\n")
        os.chown(forward, self.user.pw_uid, self.user.pw_gid)
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("allow_mail_to_commands = alias\n"
                     "local_recipient_maps =\n"
                     "recipient_delimiter = +\n"
                     "luser_relay = info+$user@example.org\n")
        self.assertTrue(self.inst.reload())
        self.assertEqual(self.send(f"{USER}@localhost", "from-forward")[0], 250)
        self.assertEqual(self.send("cmd@localhost", "from-alias")[0], 250)
        self.assertEqual(self.send("stranger@localhost", "to-a-stranger")[0], 250)
        self.assertTrue(poll(lambda: "from-alias" in open(self.out).read() and
                             len(self.virtual_mail()) == 1, timeout=20), self.inst.log())
        self.assertNotIn("from-forward", open(self.out).read())
        self.assertRegex(self.inst.log(), f"to=<{USER}@localhost>, relay=local, .*dsn=5\\.7\\.1, "
                                          r"status=bounced \(mail to command is restricted\)")
        stranger = [m for m in self.virtual_mail() if "Subject: to-a-stranger" in m]
        self.assertEqual(len(stranger), 1, self.virtual_mail())
        self.assertIn("Delivered-To: stranger@localhost\n", stranger[0])
        self.assertRegex(self.inst.log(), r"to=<stranger@localhost>, relay=local, .*"
                                          r"status=sent \(forwarded as ")


    def test_a_missing_home_directory_defers(self):
        subprocess.run(["userdel", "postern-nohome"], capture_output=True)
        subprocess.run(["useradd", "-M", "-d", os.path.join(self.home, "gone"), "-s",
                        "/usr/sbin/nologin", "postern-nohome"], check=True)
        self.addCleanup(subprocess.run, ["userdel", "postern-nohome"], capture_output=True)
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("require_home_directory = yes\n")
        self.assertTrue(self.inst.reload())
        self.assertEqual(self.send("postern-nohome@localhost", "no-home")[0], 250)
        self.assertTrue(poll(lambda: "to=<postern-nohome@localhost>, relay=local" in
                             self.inst.log(), timeout=15), self.inst.log())
        self.assertRegex(self.inst.log(), r"dsn=4\.3\.0, status=deferred \(cannot access home "
                                          r"directory .*/gone: No such file or directory\)")

    def test_a_users_own_mailbox_command(self):
        os.chown(self.out, self.user.pw_uid, self.user.pw_gid)
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write(f"mailbox_command_maps = inline:{{ {{ {USER} = cat >> {self.out} }} }}\n")
        self.assertTrue(self.inst.reload())
        self.assertEqual(self.send(f"{USER}@localhost", "by-command")[0], 250)
        self.assertTrue(poll(lambda: "by-command" in open(self.out).read(), timeout=20),
                        self.inst.log())
        self.assertEqual(self.user_mail(), [])  # the command comes before home_mailbox
        self.assertIn(f"status=sent (delivered to command: cat >> {self.out})", self.inst.log())


    def test_mailbox_and_fallback_transports(self):
        # the recipient is handed to the virtual agent, which knows these addresses
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("mailbox_transport = virtual\n"
                     "fallback_transport = virtual\n"
                     "local_recipient_maps =\n"
                     "virtual_mailbox_maps = inline:{ info@example.org=example.org/info/, "
                     f"{USER}@localhost=example.org/lucas/, "
                     "stranger@localhost=example.org/stranger/ }\n")
        self.assertTrue(self.inst.reload())
        self.assertEqual(self.send(f"{USER}@localhost", "handed-over")[0], 250)
        self.assertEqual(self.send("root@localhost", "via-alias")[0], 250)
        self.assertEqual(self.send("stranger@localhost", "unknown-user")[0], 250)
        boxes = lambda name: self.maildir(os.path.join(self.vmail, "example.org", name))
        self.assertTrue(poll(lambda: len(boxes("lucas")) == 2 and len(boxes("stranger")) == 1,
                             timeout=20), self.inst.log())
        self.assertEqual(self.user_mail(), [])
        log = self.inst.log()
        # the agent that took the recipient logs it; local does not log it again
        self.assertRegex(log, f"postfix/virtual\\[\\d+\\]: [0-9A-F]+: to=<{USER}@localhost>, "
                              r"relay=virtual, .*status=sent \(delivered to maildir\)")
        self.assertNotRegex(log, f"postfix/local\\[\\d+\\]: [0-9A-F]+: to=<{USER}@localhost>")
        self.assertRegex(log, r"postfix/virtual\[\d+\]: [0-9A-F]+: to=<stranger@localhost>, "
                              r"relay=virtual, .*status=sent")
        # and the queue is empty: each recipient was marked done once, by the agent that took it
        queued = lambda: [f for d in ("incoming", "active", "deferred")
                          for _, _, files in os.walk(os.path.join(self.inst.queue, d))
                          for f in files]
        self.assertTrue(poll(lambda: queued() == [], timeout=10), queued())


@unittest.skipUnless(os.getuid() == 0, "local delivery and test users need root")
class Concurrency(Local):
    def test_a_slow_delivery_does_not_stall_others(self):
        aliases = os.path.join(self.inst.etc, "aliases")
        with open(aliases, "a") as fp:
            fp.write("slow: \"|sleep 4\"\n")
        self.assertEqual(run(["postalias", aliases]).rc, 0)
        import time
        self.assertEqual(self.send("slow@localhost", "slow")[0], 250)

        def slow_command_running():
            for entry in os.listdir("/proc"):
                try:
                    with open(f"/proc/{entry}/cmdline", "rb") as fp:
                        if fp.read() == b"sleep\x004\x00":
                            return True
                except OSError:
                    pass
            return False
        self.assertTrue(poll(slow_command_running, timeout=10))
        start = time.monotonic()
        self.assertEqual(self.send("info@example.org", "fast")[0], 250)
        self.assertTrue(poll(lambda: len(self.virtual_mail()) == 1, timeout=10))
        self.assertLess(time.monotonic() - start, 3.0)  # not behind the 4 s command
        self.assertTrue(poll(lambda: "delivered to command: sleep 4" in self.inst.log(),
                             timeout=15))

    test_root_alias_reaches_the_users_maildir = None
    test_forwarding_command_and_both = None
    test_dot_forward_and_unknown_user = None
    test_verification_reports_without_delivering = None


@unittest.skipUnless(os.getuid() == 0, "local delivery and test users need root")
class Policy(Local):
    """forward_path with its $names, the commands' environment and shell, owner- aliases,
    the duplicate filter and strict_mailbox_ownership."""

    def add_aliases(self, text):
        aliases = os.path.join(self.inst.etc, "aliases")
        with open(aliases, "a") as fp:
            fp.write(text)
        self.assertEqual(run(["postalias", aliases]).rc, 0)

    def configure(self, text):
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write(text)
        self.assertTrue(self.inst.reload())

    def user_file(self, name, text):
        path = os.path.join(self.user.pw_dir, name)
        with open(path, "w") as fp:
            fp.write(text)
        os.chown(path, self.user.pw_uid, self.user.pw_gid)
        return path

    def test_a_command_inherits_no_descriptor(self):
        # nothing of the mail system reaches a user's command: not the alias database local
        # has open, nor any socket or pipe of master's
        open(self.out, "w").close()
        os.chown(self.out, self.user.pw_uid, self.user.pw_gid)
        script = self.user_file("fds", "#!/usr/bin/python3\nimport os\n"
                                "fds = sorted(os.listdir('/proc/self/fd'), key=int)\n"
                                f"open('{self.out}', 'w').write(' '.join(fds))\n")
        os.chmod(script, 0o755)
        self.user_file(".forward", f"|{script}\n")
        c = smtplib.SMTP("127.0.0.1", self.port, timeout=20)
        self.assertEqual(c.sendmail("a@example.com", [f"{USER}@localhost"],
                                    b"Subject: fds\r\n\r\nHello.\r\n"), {})
        c.quit()
        self.assertTrue(poll(lambda: open(self.out).read(), timeout=20), self.inst.log())
        # standard input, output and error, and the listing's own descriptor (3)
        self.assertEqual(open(self.out).read(), "0 1 2 3")

    def test_forward_path_names_and_the_command_environment(self):
        open(self.out + ".env", "w").close()
        for path in (self.out, self.out + ".env"):
            os.chown(path, self.user.pw_uid, self.user.pw_gid)
        # the default forward_path: .forward+ext for user+ext, .forward otherwise
        self.user_file(".forward+ext", f"\"|env | sort > {self.out}.env; pwd >> {self.out}.env;"
                                       f" cat > {self.out}\"\n")
        self.user_file(".forward", f"\\{USER}\n")
        self.configure("recipient_delimiter = +\ncommand_execution_directory = $home\n"
                       "mydestination = localhost, $myhostname, ex[am]ple.test\n")
        c = smtplib.SMTP("127.0.0.1", self.port, timeout=20)
        c.ehlo("[192.0.2.1]")
        self.assertEqual(c.sendmail("odd#sender@example.com", [f"{USER}+ext@localhost"],
                                    b"Subject: with-extension\r\n\r\nHello.\r\n"), {})
        self.assertEqual(c.sendmail("sender@example.com", [f"{USER}+other@localhost"],
                                    b"Subject: other-extension\r\n\r\nHello.\r\n"), {})
        c.quit()
        self.assertTrue(poll(lambda: "with-extension" in open(self.out).read() and
                             len(self.user_mail()) == 1, timeout=20), self.inst.log())
        self.assertIn("Subject: other-extension\n", self.user_mail()[0])
        message = open(self.out).read()
        self.assertRegex(message, r"^From odd#sender@example.com  \w{3} \w{3} [ \d]\d ")
        self.assertIn("\nReturn-Path: <odd#sender@example.com>\n"
                      f"X-Original-To: {USER}+ext@localhost\n"
                      f"Delivered-To: {USER}+ext@localhost\n", message)
        env = open(self.out + ".env").read().splitlines()
        for line in (f"HOME={self.user.pw_dir}", f"USER={USER}", f"LOGNAME={USER}",
                     "SHELL=/usr/sbin/nologin", "EXTENSION=ext", "DOMAIN=localhost",
                     f"LOCAL={USER}+ext", f"RECIPIENT={USER}+ext@localhost",
                     f"ORIGINAL_RECIPIENT={USER}+ext@localhost",
                     # command_expansion_filter: characters outside it become '_'
                     "SENDER=odd_sender@example.com", "CLIENT_HELO=_192.0.2.1_",
                     "CLIENT_ADDRESS=127.0.0.1", "PATH=/usr/bin:/bin",
                     self.user.pw_dir):  # command_execution_directory = $home
            self.assertIn(line, env)
        names = {line.split("=")[0] for line in env if "=" in line}
        self.assertEqual(names - {"HOME", "USER", "LOGNAME", "SHELL", "EXTENSION", "DOMAIN",
                                  "LOCAL", "RECIPIENT", "ORIGINAL_RECIPIENT", "SENDER", "PATH",
                                  "PWD", "SHLVL", "_", "OLDPWD", "LANG", "TZ", "MAIL_CONFIG",
                                  "CLIENT_ADDRESS", "CLIENT_HOSTNAME", "CLIENT_HELO",
                                  "CLIENT_PROTOCOL"}, set())
        self.assertTrue(poll(lambda: f"to=<{USER}+ext@localhost>, relay=local" in self.inst.log(),
                             timeout=10))
        self.assertRegex(self.inst.log(), f"to=<{USER}\\+ext@localhost>, relay=local, .*"
                                          r"status=sent \(delivered to command: env \| sort")

    def test_local_command_shell_and_exit_status(self):
        shell = os.path.join(self.inst.dir, "shell")
        with open(shell, "w") as fp:
            fp.write(f"#!/bin/sh\necho \"$@\" >> {self.out}.shell\nshift\nexec /bin/sh -c \"$1\"\n")
        os.chmod(shell, 0o755)
        open(self.out + ".shell", "w").close()
        os.chmod(self.out + ".shell", 0o666)
        self.add_aliases("tempfail: \"|exit 75\"\nnouser: \"|exit 67\"\n")
        self.configure(f"local_command_shell = {shell} -c\n")
        for rcpt in ("cmd@localhost", "tempfail@localhost", "nouser@localhost"):
            self.assertEqual(self.send(rcpt, "via-shell")[0], 250)
        self.assertTrue(poll(lambda: "via-shell" in open(self.out).read() and
                             "to=<nouser@localhost>" in self.inst.log() and
                             "to=<tempfail@localhost>" in self.inst.log(), timeout=20),
                        self.inst.log())
        self.assertIn(f"-c cat >> {self.out}\n", open(self.out + ".shell").read())
        log = self.inst.log()
        self.assertRegex(log, r"to=<tempfail@localhost>, relay=local, .*dsn=4\.3\.0, "
                              r"status=deferred \(temporary failure\)")
        self.assertRegex(log, r"to=<nouser@localhost>, relay=local, .*dsn=5\.1\.1, "
                              r"status=bounced \(user unknown\)")

    def test_a_list_with_an_owner_is_sent_on_with_the_owner_as_sender(self):
        self.add_aliases(f"list: {USER}\nowner-list: listmaster@example.org\n"
                         f"plain: {USER}\n")
        self.assertEqual(self.send("list@localhost", "to-the-list")[0], 250)
        self.assertEqual(self.send("plain@localhost", "no-owner")[0], 250)
        self.assertTrue(poll(lambda: len(self.user_mail()) == 2, timeout=20), self.inst.log())
        by_subject = {m.split("Subject: ")[1].split("\n")[0]: m for m in self.user_mail()}
        self.assertIn("Return-Path: <owner-list@mail.example.org>\n",
                      by_subject["to-the-list"])
        self.assertIn("Return-Path: <sender@example.com>\n", by_subject["no-owner"])
        self.assertRegex(self.inst.log(), r"from=<owner-list@mail\.example\.org>")
        # expand_owner_alias: the owner alias's own expansion becomes the sender
        self.configure("expand_owner_alias = yes\n")
        self.assertEqual(self.send("list@localhost", "expanded-owner")[0], 250)
        self.assertTrue(poll(lambda: len(self.user_mail()) == 3, timeout=20), self.inst.log())
        expanded = [m for m in self.user_mail() if "Subject: expanded-owner" in m][0]
        self.assertIn("Return-Path: <listmaster@example.org>\n", expanded)

    def test_each_target_once_per_recipient(self):
        self.add_aliases(f"team: {USER}, deputy, cmd, again\ndeputy: {USER}\nagain: cmd\n")
        self.assertEqual(self.send("team@localhost", "once")[0], 250)
        self.assertTrue(poll(lambda: "once" in open(self.out).read() and
                             len(self.user_mail()) == 1, timeout=20), self.inst.log())
        self.assertTrue(poll(lambda: "to=<team@localhost>, relay=local" in self.inst.log(),
                             timeout=10), self.inst.log())
        self.assertEqual(len(self.user_mail()), 1)
        self.assertEqual(open(self.out).read().count("Subject: once"), 1)
        # a filter that remembers nothing delivers every copy (an alias is still expanded
        # once: that guards against loops)
        self.configure("duplicate_filter_limit = 0\n")
        self.assertEqual(self.send("team@localhost", "twice")[0], 250)
        self.assertTrue(poll(lambda: self.inst.log().count("to=<team@localhost>, relay=local")
                             == 2, timeout=20), self.inst.log())
        self.assertEqual(len(self.user_mail()), 3)
        self.assertEqual(open(self.out).read().count("Subject: twice"), 1)

    def test_a_mailbox_owned_by_someone_else_is_not_written(self):
        spool = os.path.join(self.inst.dir, "mailspool")
        os.mkdir(spool)
        os.chmod(spool, 0o1777)
        mailbox = os.path.join(spool, USER)
        with open(mailbox, "w") as fp:
            fp.write("")
        os.chmod(mailbox, 0o666)  # writable, but root's
        self.configure(f"home_mailbox =\nmail_spool_directory = {spool}\n")
        self.assertEqual(self.send(f"{USER}@localhost", "not-yours")[0], 250)
        self.assertTrue(poll(lambda: f"to=<{USER}@localhost>, relay=local" in self.inst.log(),
                             timeout=20), self.inst.log())
        self.assertRegex(self.inst.log(), r"dsn=4\.2\.0, status=deferred \(destination "
                                          f"{mailbox} is not owned by recipient\\)")
        self.assertIn("warning: specify \"strict_mailbox_ownership = no\" to ignore mailbox "
                      "ownership mismatch", self.inst.log())
        self.assertEqual(open(mailbox).read(), "")
        self.configure("strict_mailbox_ownership = no\n")
        self.assertEqual(run(["postqueue", "-c", self.inst.etc, "-f"]).rc, 0)
        self.assertTrue(poll(lambda: "Subject: not-yours" in open(mailbox).read(), timeout=20),
                        self.inst.log())
        self.assertTrue(open(mailbox).read().startswith("From sender@example.com "))

    test_root_alias_reaches_the_users_maildir = None
    test_forwarding_command_and_both = None
    test_dot_forward_and_unknown_user = None
    test_verification_reports_without_delivering = None


class Boundaries(Local):
    """What a local user can put where mail is written or read: links, FIFOs, locks held by
    a mail reader, .forward and include files that others could write."""
    test_root_alias_reaches_the_users_maildir = None
    test_forwarding_command_and_both = None
    test_dot_forward_and_unknown_user = None
    test_verification_reports_without_delivering = None
    configure = Policy.configure
    user_file = Policy.user_file

    def spool(self, extra=""):
        spool = os.path.join(self.inst.dir, "mailspool")
        os.makedirs(spool, exist_ok=True)
        os.chmod(spool, 0o1777)
        self.configure(f"home_mailbox =\nmail_spool_directory = {spool}\n"
                       "deliver_lock_attempts = 2\ndeliver_lock_delay = 1s\n" + extra)
        return spool, os.path.join(spool, USER)

    def outcome(self, subject):
        self.assertEqual(self.send(f"{USER}@localhost", subject)[0], 250)
        self.assertTrue(poll(lambda: f"to=<{USER}@localhost>, relay=local" in self.inst.log(),
                             timeout=20), self.inst.log())
        return [line for line in self.inst.log().splitlines()
                if f"to=<{USER}@localhost>, relay=local" in line][-1]

    def test_a_mailbox_that_is_a_link_is_never_written_through(self):
        spool, mailbox = self.spool("strict_mailbox_ownership = no\n")
        victim = os.path.join(self.inst.dir, "victim")
        with open(victim, "w") as fp:
            fp.write("root's\n")
        os.chmod(victim, 0o666)
        os.symlink(victim, mailbox)
        self.assertIn("status=deferred (cannot open mailbox "
                      f"{mailbox}: file is a symbolic link)", self.outcome("via-symlink"))
        os.unlink(mailbox)
        os.link(victim, mailbox)  # a second name for someone else's file
        self.assertEqual(run(["postqueue", "-c", self.inst.etc, "-f"]).rc, 0)
        self.assertTrue(poll(lambda: "file has 2 hard links" in self.inst.log(), timeout=20),
                        self.inst.log())
        self.assertEqual(open(victim).read(), "root's\n")

    def test_a_fifo_as_mailbox_defers_without_blocking_the_agent(self):
        spool, mailbox = self.spool()
        os.mkfifo(mailbox, 0o666)
        os.chown(mailbox, self.user.pw_uid, self.user.pw_gid)
        self.assertIn("status=deferred (cannot open mailbox", self.outcome("to-a-fifo"))
        # with a reader on the FIFO, the open succeeds: it is still no mailbox
        reader = os.open(mailbox, os.O_RDONLY | os.O_NONBLOCK)
        self.addCleanup(os.close, reader)
        self.assertEqual(run(["postqueue", "-c", self.inst.etc, "-f"]).rc, 0)
        self.assertTrue(poll(lambda: "file is not a regular file" in self.inst.log(),
                             timeout=20), self.inst.log())
        self.assertEqual(os.read(reader, 100), b"")

    def test_a_mailbox_held_by_a_reader_waits_for_it(self):
        import fcntl
        spool, mailbox = self.spool()
        with open(mailbox, "w"):
            pass
        os.chown(mailbox, self.user.pw_uid, self.user.pw_gid)
        fd = os.open(mailbox, os.O_RDWR)
        self.addCleanup(os.close, fd)
        fcntl.lockf(fd, fcntl.LOCK_EX)  # a mail reader's fcntl lock
        line = self.outcome("while-locked")
        self.assertIn("status=deferred (cannot lock mailbox", line)
        self.assertIn("the fcntl lock is held by another process", line)
        fcntl.lockf(fd, fcntl.LOCK_UN)
        # a dot lock of a reader, then a stale one: the first defers, the second is removed
        lock = mailbox + ".lock"
        open(lock, "w").close()
        os.chown(lock, self.user.pw_uid, self.user.pw_gid)  # the spool is sticky: the user's
        self.assertEqual(run(["postqueue", "-c", self.inst.etc, "-f"]).rc, 0)
        self.assertTrue(poll(lambda: "the lock file is held by another process" in
                             self.inst.log(), timeout=20), self.inst.log())
        self.assertEqual(open(mailbox).read(), "")
        os.utime(lock, (1, 1))
        self.assertEqual(run(["postqueue", "-c", self.inst.etc, "-f"]).rc, 0)
        self.assertTrue(poll(lambda: "Subject: while-locked" in open(mailbox).read(),
                             timeout=20), self.inst.log())
        self.assertFalse(os.path.exists(lock))

    def test_forward_and_include_files_anyone_could_write_are_not_used(self):
        forward = self.user_file(".forward", "info@example.org\n")
        nobody = pwd.getpwnam("nobody")
        for how, fix in (("writable by anyone", lambda: os.chmod(forward, 0o666)),
                         (f"owned by uid {nobody.pw_uid}",
                          lambda: os.chown(forward, nobody.pw_uid, nobody.pw_gid))):
            os.chmod(forward, 0o644)
            os.chown(forward, self.user.pw_uid, self.user.pw_gid)
            fix()
            before = len(self.user_mail())
            self.assertEqual(self.send(f"{USER}@localhost", how)[0], 250)
            # as if there were no .forward: the mail stays with the user
            self.assertTrue(poll(lambda: len(self.user_mail()) == before + 1, timeout=20),
                            self.inst.log())
            self.assertIn(f"warning: forward file {forward}: {how}: not used", self.inst.log())
        self.assertEqual(self.virtual_mail(), [])
        # a FIFO in its place blocks nothing
        os.unlink(forward)
        os.mkfifo(forward, 0o644)
        os.chown(forward, self.user.pw_uid, self.user.pw_gid)
        self.assertEqual(self.send(f"{USER}@localhost", "fifo")[0], 250)
        self.assertTrue(poll(lambda: len(self.user_mail()) == 3, timeout=20), self.inst.log())
        self.assertIn("not a regular file: not used", self.inst.log())
        # an include file that someone else may write defers the alias that names it
        include = os.path.join(self.inst.dir, "list")
        with open(include, "w") as fp:
            fp.write("info@example.org\n")
        os.chmod(include, 0o666)
        aliases = os.path.join(self.inst.etc, "aliases")
        with open(aliases, "a") as fp:
            fp.write(f"team: :include:{include}\n")
        self.assertEqual(run(["postalias", aliases]).rc, 0)
        self.assertEqual(self.send("team@localhost", "included")[0], 250)
        self.assertTrue(poll(lambda: "to=<team@localhost>, relay=local" in self.inst.log(),
                             timeout=20), self.inst.log())
        self.assertIn(f"status=deferred (cannot use include file {include}: writable by "
                      "anyone)", self.inst.log())
        os.chmod(include, 0o644)
        self.assertEqual(run(["postqueue", "-c", self.inst.etc, "-f"]).rc, 0)
        self.assertTrue(poll(lambda: len(self.virtual_mail()) == 1, timeout=20), self.inst.log())

    def test_virtual_never_writes_with_a_group_of_the_mail_system(self):
        # virtual_gid_maps naming postdrop's group would let a mailbox owner write maildrop/;
        # a uid that wraps round to 0 would be root's
        postdrop = grp.getgrnam("postdrop").gr_gid
        for setting, why in ((f"virtual_gid_maps = static:{postdrop}\n",
                              "a group of the mail system in virtual_gid_maps"),
                             ("virtual_uid_maps = static:4294967296\n",
                              "bad or missing uid in virtual_uid_maps")):
            self.configure(setting)
            self.assertEqual(self.send("info@example.org", why)[0], 250)
            self.assertTrue(poll(lambda: f"mail system configuration error: {why} for "
                                         "\"info@example.org\"" in self.inst.log(), timeout=20),
                            self.inst.log())
        self.assertEqual(self.virtual_mail(), [])

    def test_two_forward_files_naming_each_other_deliver_once(self):
        other = "postern-mia"
        subprocess.run(["userdel", "-r", other], capture_output=True)
        subprocess.run(["useradd", "-m", "-d", os.path.join(self.home, other), "-s",
                        "/usr/sbin/nologin", other], check=True)
        self.addCleanup(subprocess.run, ["userdel", "-r", other], capture_output=True)
        mia = pwd.getpwnam(other)
        self.user_file(".forward", f"{other}\n")
        forward = os.path.join(mia.pw_dir, ".forward")
        with open(forward, "w") as fp:
            fp.write(f"{USER}\n")
        os.chown(forward, mia.pw_uid, mia.pw_gid)
        self.assertEqual(self.send(f"{USER}@localhost", "ping-pong")[0], 250)
        self.assertTrue(poll(lambda: f"to=<{USER}@localhost>, relay=local" in self.inst.log(),
                             timeout=20), self.inst.log())
        # at its second visit a user's .forward is not followed again: one copy, in the
        # mailbox of the user the chain came back to
        self.assertEqual(len(self.user_mail()), 1)
        self.assertEqual(self.maildir(os.path.join(mia.pw_dir, "Maildir")), [])
