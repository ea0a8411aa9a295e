"""A local user without privileges: sendmail -t and sendmail -bs post through the setgid
postdrop, and mailq lists the queue through the setgid postqueue, as on an installed system.
The instance's configuration directory is not the default one, so (as the reference asks)
the default main.cf must list it in alternate_config_directories: the tests give
/etc/postfix that main.cf inside a private mount namespace of their own."""
import grp
import os
import pwd
import shutil
import subprocess
import tempfile
import unittest

import test_delivery
from harness import BIN, program
from instance import poll


@unittest.skipUnless(os.getuid() == 0 and shutil.which("unshare") and shutil.which("setpriv"),
                     "needs root, unshare and setpriv")
class Unprivileged(test_delivery.Delivery):
    def setUp(self):
        super().setUp()
        self.inst.write_master(test_delivery.SERVICES + "pickup unix n - n 60 1 pickup\n"
                               "showq unix n - n - - showq\n")
        # the setgid commands, as make install leaves them
        self.bin = os.path.join(self.inst.dir, "bin")
        os.mkdir(self.bin)
        gid = grp.getgrnam("postdrop").gr_gid
        for name in ("postdrop", "postqueue"):
            path = os.path.join(self.bin, name)
            shutil.copy(os.path.join(BIN, name), path)
            os.chown(path, 0, gid)
            os.chmod(path, 0o2755)
        os.symlink("postqueue", os.path.join(self.bin, "mailq"))
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write(f"command_directory = {self.bin}\n")
        self.assertTrue(self.inst.reload())
        # the default main.cf, seen only inside the namespace
        self.default = tempfile.mkdtemp(prefix="postern-default-")
        os.chmod(self.default, 0o755)
        with open(os.path.join(self.default, "main.cf"), "w") as fp:
            fp.write(f"alternate_config_directories = {self.inst.etc}\n")
        self.addCleanup(shutil.rmtree, self.default)
        if not os.path.isdir("/etc/postfix"):
            os.mkdir("/etc/postfix")
            self.addCleanup(os.rmdir, "/etc/postfix")
        self.user = pwd.getpwnam("nobody")

    def as_user(self, argv, text, config=True):
        """argv run as nobody, with the default main.cf in place when config is true."""
        inner = " ".join(f"'{a}'" for a in argv)
        mount = f"mount --bind '{self.default}' /etc/postfix && " if config else ""
        script = (f"{mount}exec setpriv --reuid={self.user.pw_uid} "
                  f"--regid={self.user.pw_gid} --clear-groups env MAIL_CONFIG='{self.inst.etc}' "
                  f"{inner}")
        return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                              input=text, text=True, capture_output=True, timeout=30)

    def test_sendmail_and_mailq_as_a_user(self):
        res = self.as_user([program("sendmail"), "-t"],
                           "To: info@example.org\nBcc: box@example.org\nSubject: hi\n\nbody\n")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertTrue(poll(lambda: len(self.maildir_files("example.org", "info")) == 1,
                             timeout=15), self.inst.log())
        text = open(self.maildir_files("example.org", "info")[0]).read()
        self.assertIn("Return-Path: <nobody@example.org>", text)
        self.assertIn(f"(Postern, from userid {self.user.pw_uid})", text)
        self.assertNotIn("Bcc:", text)
        self.assertTrue(poll(lambda: os.path.exists(os.path.join(self.vmail, "example.org",
                                                                 "box")), timeout=15))
        # SMTP on standard input, as some programs submit
        res = self.as_user([program("sendmail"), "-bs"],
                           "EHLO me\r\nMAIL FROM:<nobody@example.org>\r\n"
                           "RCPT TO:<info@example.org>\r\nDATA\r\nSubject: bs\r\n\r\n"
                           "..dot\r\n.\r\nQUIT\r\n")
        self.assertEqual(res.returncode, 0, res.stderr)
        replies = res.stdout.splitlines()
        self.assertTrue(replies[0].startswith("220 mail.example.org ESMTP"), replies)
        self.assertIn("250 2.0.0 Ok: queued", replies)
        self.assertEqual(replies[-1], "221 2.0.0 Bye")
        self.assertTrue(poll(lambda: len(self.maildir_files("example.org", "info")) == 2,
                             timeout=15), self.inst.log())
        bodies = [open(f).read() for f in self.maildir_files("example.org", "info")]
        self.assertTrue(any("Subject: bs\n" in b and b.endswith("\n.dot\n") for b in bodies),
                        bodies)
        # mailq: one message waits (its transport does not exist)
        self.submit("sender@example.com", ["far@remote.example"])
        self.assertTrue(poll(lambda: "far@remote.example" in
                             self.as_user([os.path.join(self.bin, "mailq")], "").stdout,
                             timeout=15), self.inst.log())
        res = self.as_user([os.path.join(self.bin, "mailq")], "")
        self.assertIn("-- 0 Kbytes in 1 Request.", res.stdout)
        # without alternate_config_directories the setgid commands refuse the directory
        res = self.as_user([os.path.join(self.bin, "mailq")], "", config=False)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("is not listed in alternate_config_directories", res.stderr)

    test_maildir_and_mbox_delivery = None
    test_unknown_user_bounces_and_unreachable_transport_defers = None
    test_crash_left_in_active_is_delivered_after_restart = None
    test_mailbox_size_limit = None
    test_bounce_notice_reaches_the_sender = None
    test_expired_mail_returns_to_sender = None
    test_delay_warning_is_sent_once = None

    def test_authorized_submit_users_is_read_left_to_right(self):
        listed = os.path.join(self.inst.dir, "submitters")
        with open(listed, "w") as fp:
            fp.write("# who may submit\nalice nobody\n")
        main_cf = os.path.join(self.inst.etc, "main.cf")
        base = open(main_cf).read()
        cases = [("!nobody, static:anyone", False), ("static:anyone, !nobody", True),
                 ("root, nobody", True), ("root", False), ("", False), (listed, True),
                 (f"!{listed}, static:anyone", False), ("inline:{ nobody=yes }", True),
                 ("!inline:{ nobody=yes }, static:anyone", False)]
        for value, allowed in cases:
            with self.subTest(authorized_submit_users=value):
                with open(main_cf, "w") as fp:
                    fp.write(base + f"authorized_submit_users = {value}\n")
                res = self.as_user([program("sendmail"), "-t"],
                                   "To: info@example.org\nSubject: who\n\nbody\n")
                if allowed:
                    self.assertEqual(res.returncode, 0, res.stderr)
                else:
                    self.assertNotEqual(res.returncode, 0)
                    self.assertIn(f"User nobody({self.user.pw_uid}) is not allowed to submit "
                                  "mail", res.stderr)

    def test_tables_are_opened_in_the_queue_directory_not_the_callers(self):
        # Berkeley DB may read DB_CONFIG from the working directory: postdrop and postqueue
        # are in the queue directory before they open a table
        users = os.path.join(self.inst.dir, "users")
        with open(users, "w") as fp:
            fp.write("nobody ok\nroot ok\n")
        self.assertEqual(subprocess.run([program("postmap"), users]).returncode, 0)
        main_cf = os.path.join(self.inst.etc, "main.cf")
        with open(main_cf, "a") as fp:
            fp.write(f"authorized_submit_users = hash:{users}\n"
                     f"authorized_mailq_users = hash:{users}\n")
        caller = tempfile.mkdtemp(prefix="postern-caller-")
        os.chmod(caller, 0o777)
        self.addCleanup(shutil.rmtree, caller)
        for name, args in (("postdrop", []), ("postqueue", ["-p"])):
            trace = os.path.join(caller, f"trace-{name}")
            # as the user, from a directory of the user's (ptrace leaves the set-group-ID
            # bit without effect: what is watched is only the order)
            self.as_user(["sh", "-c", f"cd {caller} && exec strace -f -e trace=chdir,openat "
                                      f"-o {trace} {os.path.join(self.bin, name)} {' '.join(args)}"],
                         "")
            calls = open(trace).read().splitlines()
            entered = [i for i, line in enumerate(calls)
                       if f'chdir("{self.inst.queue}")' in line and "= 0" in line]
            opened = [i for i, line in enumerate(calls) if f"{users}.db" in line]
            self.assertTrue(entered and opened, calls)
            self.assertLess(entered[0], opened[0], name)
