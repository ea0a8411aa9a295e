"""Commands under their other names and options, as Postfix 3.7 has them: newaliases is
sendmail and takes sendmail's options (-C, -v, -oA); postconf -h prints values alone for
master.cf too; postfix check explains every failure."""
import os

from harness import BIN, CommandTest, program, run


class Newaliases(CommandTest):
    def setUp(self):
        super().setUp()
        self.aliases = self.write("aliases", "postmaster: root\nabuse: postmaster\n")
        self.write("main.cf", f"alias_database = hash:{self.aliases}\nmyhostname = mx.example\n"
                              f"command_directory = {BIN}\n")

    def test_newaliases_takes_sendmail_options(self):
        # no MAIL_CONFIG: -C names the configuration, as sendmail's option does
        res = run([os.path.join(BIN, "newaliases"), "-C", self.dir, "-v"])
        self.assertOk(res)
        self.assertTrue(os.path.exists(self.aliases + ".db"))
        self.assertEqual(run(["postalias", "-q", "abuse", self.aliases],
                             env={"MAIL_CONFIG": self.dir}).out, "postmaster\n")

    def test_oA_names_another_alias_file(self):
        other = self.write("other", "webmaster: root\n")
        res = run([os.path.join(BIN, "newaliases"), "-C", os.path.join(self.dir, "main.cf"),
                   f"-oA{other}"])
        self.assertOk(res)
        self.assertTrue(os.path.exists(other + ".db"))
        self.assertFalse(os.path.exists(self.aliases + ".db"))


class PostconfValues(CommandTest):
    def setUp(self):
        super().setUp()
        self.write("main.cf", "")
        self.write("master.cf",
                   "submission inet n - y - - smtpd\n"
                   "  -o syslog_name=postfix/submission\n"
                   "  -o smtpd_tls_security_level=encrypt\n")
        self.env = {"MAIL_CONFIG": self.dir}

    def test_P_and_F_with_h_print_values_only(self):
        res = run(["postconf", "-P", "-h", "submission/inet/syslog_name"], env=self.env)
        self.assertOk(res)
        self.assertEqual(res.out, "postfix/submission\n")
        res = run(["postconf", "-P", "submission/inet/syslog_name"], env=self.env)
        self.assertEqual(res.out, "submission/inet/syslog_name = postfix/submission\n")
        res = run(["postconf", "-F", "-h", "submission/inet/chroot"], env=self.env)
        self.assertOk(res)
        self.assertEqual(res.out, "y\n")


class PostfixCheck(CommandTest):
    def test_master_cf_without_services_is_explained(self):
        self.write("main.cf", f"queue_directory = {self.path('spool')}\n")
        self.write("master.cf", "# every service commented out\n#smtp inet n - y - - smtpd\n")
        res = run(["postfix", "-c", self.dir, "check"])
        self.assertFailsCleanly(res, f"fatal: no {self.dir}/master.cf file found, "
                                     "or it has no services")

    def test_maillog_file_outside_the_prefixes_is_refused(self):
        self.write("main.cf", f"queue_directory = {self.path('spool')}\n"
                              "maillog_file = /etc/maillog\n")
        self.write("master.cf", "pickup unix n - y 60 1 pickup\n")
        res = run(["postfix", "-c", self.dir, "check"])
        self.assertFailsCleanly(res, "maillog_file (/etc/maillog) does not match "
                                     "maillog_file_prefixes: /var, /dev/stdout")

    def test_logrotate_needs_a_maillog_file(self):
        self.write("main.cf", f"queue_directory = {self.path('spool')}\n")
        res = run(["postfix", "-c", self.dir, "logrotate"])
        self.assertFailsCleanly(res, "empty 'maillog_file' parameter value - logfile rotation "
                                     "failed")


class Postlog(CommandTest):
    def test_without_postlogd_the_line_is_appended(self):
        log = self.path("maillog")
        self.write("main.cf", f"queue_directory = {self.path('spool')}\nmaillog_file = {log}\n"
                              f"maillog_file_prefixes = {self.dir}\nmyhostname = box.example\n")
        res = run(["postlog", "-t", "cron/backup", "done", "in", "3s"],
                  env={"MAIL_CONFIG": self.dir})
        self.assertOk(res)
        self.assertRegex(self.read("maillog"),
                         r"^[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d box cron/backup\[\d+\]: done in 3s\n$")
