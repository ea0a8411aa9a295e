"""The seed's "Postfix -> Dovecot" entry with the real dovecot-lda (Debian's dovecot-core):
flags=DRhu user=...:mail argv=/usr/lib/dovecot/dovecot-lda -f ${sender} -d ${recipient},
given a private dovecot.conf with -c. dovecot-lda asks Dovecot's auth service for the user,
so the test runs a Dovecot instance of its own (no protocols, sockets under the test's
directory) with a passwd-file userdb. The message lands in the recipient's Maildir with the
Return-Path and Delivered-To lines the D and R flags add; a user Dovecot does not know
makes dovecot-lda exit 67 (EX_NOUSER), which bounces."""
import os
import pwd
import subprocess
import unittest

import test_delivery
from instance import poll
from test_delivery import SERVICES

LDA = "/usr/lib/dovecot/dovecot-lda"


@unittest.skipUnless(os.getuid() == 0 and os.path.exists(LDA), "needs root and dovecot-core")
class DovecotLda(test_delivery.Delivery):
    def setUp(self):
        super().setUp()
        nobody = pwd.getpwnam("nobody")
        run = os.path.join(self.inst.dir, "dovecot-run")
        os.mkdir(run)
        self.conf = os.path.join(self.inst.dir, "dovecot.conf")
        with open(self.conf, "w") as fp:
            fp.write(f"""protocols =
ssl = no
base_dir = {run}
log_path = {self.inst.dir}/dovecot.log
info_log_path = {self.inst.dir}/dovecot.log
mail_location = maildir:{self.vmail}/%d/%n/mail
first_valid_uid = 1
userdb {{
  driver = passwd-file
  args = username_format=%u {self.inst.dir}/dovecot.users
}}
passdb {{
  driver = static
  args = nopassword=y
}}
service auth {{
  unix_listener auth-userdb {{
    mode = 0666
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
""")
        with open(os.path.join(self.inst.dir, "dovecot.users"), "w") as fp:
            fp.write(f"info@example.org::{nobody.pw_uid}:{nobody.pw_gid}::"
                     f"{self.vmail}/example.org/info::\n")
        # dovecot goes to the background; its descriptors must not be pipes we wait on
        res = subprocess.run(["dovecot", "-c", self.conf], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, timeout=30)
        self.assertEqual(res.returncode, 0)
        self.addCleanup(subprocess.run, ["doveadm", "-c", self.conf, "stop"],
                        capture_output=True, timeout=30)
        open(os.path.join(self.inst.dir, "dovecot.log"), "w").close()
        os.chmod(os.path.join(self.inst.dir, "dovecot.log"), 0o666)
        self.inst.write_master(
            SERVICES + "dovecot   unix  -       n       n       -       -       pipe\n"
            f"  flags=DRhu user=nobody:nogroup argv={LDA} -c {self.conf} "
            "-f ${sender} -d ${recipient}\n")
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("virtual_transport = dovecot\nvirtual_mailbox_maps = static:OK\n"
                     "dovecot_destination_recipient_limit = 1\n")
        self.assertTrue(self.inst.reload())

    def test_delivery_through_dovecot_lda(self):
        qid = self.submit("sender@example.net", ["info@example.org", "who@example.org"],
                          body="Hello, Dovecot.\n")
        self.assertTrue(poll(lambda: self.inst.log().count(f"{qid}: to=<") == 2, timeout=20),
                        self.inst.log())
        log = self.inst.log()
        self.assertIn(f"{qid}: to=<info@example.org>, relay=dovecot", log)
        self.assertIn("status=sent (delivered via dovecot service)", log)
        [path] = self.maildir_files("example.org", "info", "mail")
        text = open(path).read()
        self.assertTrue(text.startswith("Return-Path: <sender@example.net>\n"), text)
        self.assertIn("Delivered-To: info@example.org\n", text)
        self.assertTrue(text.endswith("Hello, Dovecot.\n"), text)
        self.assertEqual(os.stat(path).st_uid, pwd.getpwnam("nobody").pw_uid)
        # a user Dovecot does not know: EX_NOUSER, a bounce
        self.assertRegex(log, f"{qid}: to=<who@example.org>, relay=dovecot, .*dsn=5.1.1, "
                              "status=bounced ")
        with open(os.path.join(self.inst.dir, "dovecot.log")) as fp:
            self.assertIn("saved mail to INBOX", fp.read())

    test_maildir_and_mbox_delivery = None
    test_unknown_user_bounces_and_unreachable_transport_defers = None
    test_crash_left_in_active_is_delivered_after_restart = None
    test_mailbox_size_limit = None
    test_bounce_notice_reaches_the_sender = None
    test_expired_mail_returns_to_sender = None
    test_delay_warning_is_sent_once = None
