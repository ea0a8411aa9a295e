"""postconf on the seed pages' own main.cf and master.cf: reading, printing, editing, and the
errors a sysadmin gets for bad input."""
import os
import re

from harness import CommandTest, DATA, run

REFERENCE_DEFAULTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))), "shared", "reference",
    "postconf-d-3.7.11.txt")


def main_cf_settings(path):
    """name -> value of a main.cf, following the logical-line rules independently."""
    settings, name = {}, None
    for line in open(path):
        line = line.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0] in " \t" and name:
            settings[name] = (settings[name] + " " + line.strip()).strip()
            continue
        name, _, value = line.partition("=")
        name = name.strip()
        settings[name] = value.strip()
    return settings


def master_cf_services(path):
    services, text = [], open(path).read()
    for line in text.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            fields = line.split()
            services.append((fields[0], fields[1]))
    return services


class SeedConfigurations(CommandTest):
    def check_seed(self, name):
        conf = self.copy_data(name)
        res = run(["postconf", "-c", conf, "-n"])
        self.assertOk(res)
        shown = dict(l.split(" = ", 1) if " = " in l else (l[:-2], "")
                     for l in res.out.splitlines())
        for key, value in main_cf_settings(os.path.join(conf, "main.cf")).items():
            self.assertIn(key, shown)
            self.assertEqual(shown[key], value, key)
        self.assertEqual(shown["config_directory"], conf)
        res = run(["postconf", "-c", conf, "-M"])
        self.assertOk(res)
        listed = [tuple(l.split()[:2]) for l in res.out.splitlines()]
        self.assertEqual(sorted(set(listed)), sorted(set(master_cf_services(
            os.path.join(conf, "master.cf")))))
        return conf, res

    def test_full_mail_server_page(self):
        conf, res = self.check_seed("seed-full")
        self.assertIn("spamass-dovecot unix -   n       n       -       -       pipe flags=DRhu "
                      "user=vmail:mail argv=/usr/bin/spamc", res.out)
        # the seed's per-transport parameter is known through its master.cf service
        res = run(["postconf", "-c", conf, "spamass-dovecot_destination_recipient_limit",
                   "virtual_transport"])
        self.assertOk(res)
        self.assertEqual(res.out, "spamass-dovecot_destination_recipient_limit = 1\n"
                                  "virtual_transport = spamass-dovecot\n")
        self.assertNotIn("unused parameter", res.err)
        res = run(["postconf", "-c", conf, "-P", "submission/inet"])
        self.assertOk(res)
        self.assertIn("submission/inet/smtpd_helo_restrictions =\n", res.out)
        self.assertIn("submission/inet/smtpd_sasl_type = dovecot\n", res.out)
        self.assertIn("submission/inet/syslog_name = postfix/submission\n", res.out)
        res = run(["postconf", "-c", conf, "-F", "uucp/unix/command"])
        self.assertEqual(res.out, "uucp/unix/command = pipe flags=Fqhu user=uucp argv=uux -r -n "
                                  "-z -a$sender - $nexthop!rmail ($recipient)\n")

    def test_basics_page(self):
        conf, res = self.check_seed("seed-basics")
        self.assertIn("127.0.0.1:40025 inet n   -       -       -       -       smtpd "
                      "-o smtpd_tls_security_level=none\n", res.out)
        res = run(["postconf", "-c", conf, "-Mf", "mailman/unix"])
        self.assertEqual(res.out, "mailman    unix  -       n       n       -       -       pipe "
                                  "flags=FR\n    user=list argv=/var/lib/mailman/bin/postfix-to-"
                                  "mailman.py ${nexthop}\n    ${user}\n")
        res = run(["postconf", "-c", conf, "-x", "smtpd_recipient_restrictions"])
        self.assertEqual(res.out, "smtpd_recipient_restrictions = reject_invalid_hostname, "
                                  "reject_unknown_recipient_domain, reject_unauth_destination, "
                                  "reject_rbl_client zen.example.net, permit\n")


class Printing(CommandTest):
    def setUp(self):
        super().setUp()
        self.write("main.cf", "compatibility_level = 3.6\n"
                              "mydomain = example.com\n"
                              "myhostname = mail.$mydomain\n"
                              "mua_client_restrictions = permit_sasl_authenticated, reject\n"
                              "foo = bar # not a comment\n")
        self.write("master.cf", "submission inet n - y - - smtpd\n"
                                "  -o smtpd_client_restrictions=$mua_client_restrictions\n"
                                "  -o no_such_thing=1\n")

    def test_values_defaults_and_expansion(self):
        res = run(["postconf", "-c", self.dir, "myhostname", "mydestination", "relay_domains"])
        self.assertOk(res)
        self.assertEqual(res.out, "myhostname = mail.$mydomain\n"
                                  "mydestination = $myhostname, localhost.$mydomain, localhost\n"
                                  "relay_domains = ${{$compatibility_level} <level {2} ? "
                                  "{$mydestination} : {}}\n")
        res = run(["postconf", "-c", self.dir, "-x", "mydestination", "relay_domains",
                   "mynetworks_style"])
        self.assertEqual(res.out, "mydestination = mail.example.com, localhost.example.com, "
                                  "localhost\nrelay_domains =\nmynetworks_style = host\n")
        res = run(["postconf", "-c", self.dir, "-h", "mail_version"])
        self.assertEqual(res.out, "3.7.11\n")
        res = run(["postconf", "-c", self.dir, "-H", "-d", "mail_version"])
        self.assertEqual(res.out, "mail_version\n")
        res = run(["postconf", "-c", self.dir, "-d", "mydestination", "message_size_limit"])
        self.assertEqual(res.out, "mydestination = $myhostname, localhost.$mydomain, localhost\n"
                                  "message_size_limit = 10240000\n")
        res = run(["postconf", "-c", self.dir, "-o", "message_size_limit=5", "message_size_limit"])
        self.assertEqual(res.out, "message_size_limit = 5\n")

    def test_unused_and_unknown(self):
        res = run(["postconf", "-c", self.dir, "-n"])
        self.assertOk(res)
        # user-defined names referenced from master.cf count as used, others are reported
        self.assertIn("mua_client_restrictions = permit_sasl_authenticated, reject", res.out)
        self.assertIn(f"warning: {self.dir}/main.cf: unused parameter: foo=bar # not a comment",
                      res.err)
        self.assertNotIn("unused parameter: mua_client", res.err)
        self.assertIn(f"warning: {self.dir}/master.cf: unused parameter: no_such_thing=1", res.err)
        res = run(["postconf", "-c", self.dir, "no_such_parameter"])
        self.assertEqual(res.rc, 0)
        self.assertIn("warning: no_such_parameter: unknown parameter", res.err)
        self.assertEqual(res.out, "")

    def test_bounce_templates(self):
        # -t: the built-in templates as written; -b: expanded with this main.cf
        res = run(["postconf", "-c", self.dir, "-t"])
        self.assertOk(res)
        names = re.findall(r"^(\w+) = <<EOF$", res.out, re.M)
        self.assertEqual(names, ["failure_template", "delay_template", "success_template",
                                 "verify_template"])
        self.assertIn("This is the mail system at host $myhostname.\n", res.out)
        res = run(["postconf", "-c", self.dir, "-b"])
        self.assertOk(res)
        self.assertIn("This is the mail system at host mail.example.com.\n", res.out)
        # a template file: its templates where it has them, built-in ones elsewhere
        path = self.write("bounce.cf", "# ours\ndelay_template = <<END\nSubject: Late\n\n"
                                       "Still trying, for ${maximal_queue_lifetime_hours} "
                                       "hours in all.\nEND\n")
        res = run(["postconf", "-c", self.dir, "-b", path])
        self.assertOk(res)
        self.assertIn("delay_template = <<EOF\nSubject: Late\n\nStill trying, for 120 hours "
                      "in all.\nEOF\n", res.out)
        self.assertIn("Subject: Undelivered Mail Returned to Sender", res.out)
        # without an argument, main.cf's bounce_template_file
        with open(self.path("main.cf"), "a") as fp:
            fp.write(f"bounce_template_file = {path}\n")
        res = run(["postconf", "-c", self.dir, "-t"])
        self.assertIn("delay_template = <<EOF\nSubject: Late\n", res.out)
        bad = self.write("bad.cf", "failure_template = <<EOF\nSubject: x\n")
        res = run(["postconf", "-c", self.dir, "-t", bad])
        self.assertNotEqual(res.rc, 0)
        self.assertIn(f"{bad}, line 1: template without its closing \"EOF\"", res.err)

    def test_defaults_list_is_the_table(self):
        res = run(["postconf", "-d"])
        self.assertOk(res)
        lines = res.out.splitlines()
        self.assertGreater(len(lines), 800)
        self.assertEqual(lines, sorted(lines, key=lambda l: l.split(" =")[0]))
        values = dict(l.split(" = ", 1) for l in lines if " = " in l)
        self.assertEqual(values["mail_name"], "Postern")
        self.assertEqual(values["smtpd_forbid_bare_newline"], "normalize")
        self.assertEqual(values["smtpd_forbid_unauth_pipelining"], "yes")
        self.assertEqual(values["default_database_type"], "hash")
        self.assertEqual(values["smtpd_timeout"], "${stress?{10}:{300}}s")

    def test_defaults_match_the_reference(self):
        if not os.path.exists(REFERENCE_DEFAULTS):
            self.skipTest("reference defaults list not available")
        self.write("empty/main.cf", "")
        self.write("empty/master.cf", open(os.path.join(DATA, "..", "..", "conf",
                                                        "master.cf")).read())
        res = run(["postconf", "-c", self.path("empty"), "-d"])
        ours = dict(l.split(" =", 1) for l in res.out.splitlines())
        deviations = {"mail_name", "smtpd_forbid_bare_newline",
                      "smtpd_forbid_bare_newline_exclusions", "smtpd_forbid_unauth_pipelining",
                      "process_id", "myhostname", "mydomain", "mynetworks", "config_directory"}
        derived = re.compile(r"^(bsmtp|ifmail|maildrop|mailman|scalemail-backend|uucp)_")
        missing = []
        for line in open(REFERENCE_DEFAULTS):
            if line.startswith("#") or " =" not in line:
                continue
            name, value = line.rstrip("\n").split(" =", 1)
            if name in deviations or derived.match(name):
                continue
            if name not in ours:
                missing.append(name)
            else:
                self.assertEqual(ours[name], value, name)
        self.assertEqual(missing, [])


class Editing(CommandTest):
    ORIGINAL = ("# top comment\n"
                "myorigin = /etc/mailname\n"
                "smtpd_recipient_restrictions = reject_invalid_hostname,\n"
                "# a comment inside the entry\n"
                "        permit\n"
                "\n"
                "# trailing comment\n"
                "smtpd_use_tls = yes\n"
                "smtp_use_tls = no\n")

    def setUp(self):
        super().setUp()
        self.write("main.cf", self.ORIGINAL)
        self.write("master.cf", "smtp inet n - y - - smtpd\n")

    def postconf(self, *args):
        return run(["postconf", "-c", self.dir] + list(args))

    def test_set_replace_and_append(self):
        ino = os.stat(self.path("main.cf")).st_ino
        res = self.postconf("-e", "myorigin = example.org", "relay_domains =,,", " newp = x ")
        self.assertOk(res)
        text = self.read("main.cf")
        self.assertEqual(text, self.ORIGINAL.replace("myorigin = /etc/mailname",
                                                     "myorigin = example.org")
                         + "relay_domains = ,,\nnewp = x\n")
        self.assertNotEqual(os.stat(self.path("main.cf")).st_ino, ino)  # renamed into place
        self.assertFalse(os.path.exists(self.path("main.cf.tmp")))
        res = self.postconf("-e", "smtpd_recipient_restrictions = permit_mynetworks, reject")
        self.assertOk(res)
        text = self.read("main.cf")
        self.assertIn("smtpd_recipient_restrictions = permit_mynetworks, reject\n"
                      "# a comment inside the entry\n\n# trailing comment\n", text)
        self.assertNotIn("        permit\n", text)
        res = self.postconf("-h", "smtpd_recipient_restrictions", "relay_domains")
        self.assertEqual(res.out, "permit_mynetworks, reject\n,,\n")
        # an argument with '=' edits even without -e
        self.assertOk(self.postconf("myorigin=other.example"))
        self.assertEqual(self.postconf("-h", "myorigin").out, "other.example\n")

    def test_remove_and_comment_out(self):
        self.assertOk(self.postconf("-X", "smtp_use_tls"))
        self.assertNotIn("smtp_use_tls", self.read("main.cf"))
        self.assertOk(self.postconf("-#", "smtpd_recipient_restrictions"))
        text = self.read("main.cf")
        self.assertIn("#smtpd_recipient_restrictions = reject_invalid_hostname, permit\n", text)
        self.assertIn("# a comment inside the entry\n", text)
        self.assertEqual(self.postconf("-n", "smtpd_recipient_restrictions").out, "")

    def test_seed_forms_that_the_reference_rejects(self):
        # postconf -e smtpd_use_tls: back to the default (doc/decisions.md, D5)
        res = self.postconf("-e", "smtpd_use_tls")
        self.assertOk(res)
        self.assertIn("smtpd_use_tls", res.err)
        self.assertNotIn("smtpd_use_tls", self.read("main.cf"))
        # postconf -e smtp_use_tls = yes: three words, one setting
        res = self.postconf("-e", "smtp_use_tls", "=", "yes")
        self.assertOk(res)
        self.assertIn("smtp_use_tls = yes\n", self.read("main.cf"))
        self.assertNotIn("smtp_use_tls = no", self.read("main.cf"))
        res = self.postconf("-e", "smtpd_tls_security_level=encrypt")
        self.assertOk(res)
        self.assertEqual(self.postconf("-h", "smtpd_tls_security_level").out, "encrypt\n")

    def test_master_cf_edits(self):
        self.write("master.cf", "# header\nsmtp inet n - y - - smtpd\n"
                                "submission inet n - y - - smtpd\n"
                                "#  -o kept_comment=1\n"
                                "  -o syslog_name=postfix/submission\n"
                                "pickup unix n - y 60 1 pickup\n")
        self.assertOk(self.postconf("-P", "submission/inet/smtpd_sasl_auth_enable=yes"))
        self.assertOk(self.postconf("-P", "submission/inet/syslog_name=postfix/sub2"))
        res = self.postconf("-P", "submission/inet")
        self.assertEqual(res.out, "submission/inet/smtpd_sasl_auth_enable = yes\n"
                                  "submission/inet/syslog_name = postfix/sub2\n")
        self.assertIn("#  -o kept_comment=1\n", self.read("master.cf"))
        self.assertOk(self.postconf("-PX", "submission/inet/syslog_name"))
        self.assertEqual(self.postconf("-P", "submission/inet").out,
                         "submission/inet/smtpd_sasl_auth_enable = yes\n")
        self.assertOk(self.postconf("-F", "pickup/unix/process_limit=2"))
        self.assertEqual(self.postconf("-F", "pickup/unix/process_limit").out,
                         "pickup/unix/process_limit = 2\n")
        self.assertOk(self.postconf("-M", "smtps/inet=smtps inet n - y - - smtpd "
                                          "-o smtpd_tls_wrappermode=yes"))
        self.assertOk(self.postconf("-M#", "smtp/inet"))
        self.assertOk(self.postconf("-MX", "pickup/unix"))
        self.assertEqual(self.postconf("-M").out,
                         "submission inet  n       -       y       -       -       smtpd "
                         "-o smtpd_sasl_auth_enable=yes\n"
                         "smtps      inet  n       -       y       -       -       smtpd "
                         "-o smtpd_tls_wrappermode=yes\n")
        self.assertIn("#smtp inet n - y - - smtpd\n", self.read("master.cf"))
        self.assertTrue(self.read("master.cf").startswith("# header\n"))
        res = self.postconf("-F", "pickup/unix/process_limit=abc")
        self.assertEqual(res.rc, 0)  # pickup is gone: nothing to change
        self.assertIn("unmatched request", res.err)
        res = self.postconf("-F", "smtps/inet/process_limit=abc")
        self.assertFailsCleanly(res, 'invalid process_limit field "abc"')


class BadInput(CommandTest):
    def test_line_without_equals(self):
        self.write("main.cf", "# ok\nmyhostname = a.example\nthis is not a setting\n")
        res = run(["postconf", "-c", self.dir, "-n"])
        self.assertFailsCleanly(res, f"{self.dir}/main.cf, line 3: missing '=' after attribute "
                                     'name: "this is not a setting"')

    def test_expansion_loop(self):
        self.write("main.cf", "myhostname = $mydomain\nmydomain = x.$myhostname\n")
        res = run(["postconf", "-c", self.dir, "-x", "myhostname"])
        self.assertFailsCleanly(res, "expansion loop: $mydomain -> $myhostname -> $mydomain")
        res = run(["postconf", "-c", self.dir, "myhostname"])  # unexpanded is fine
        self.assertOk(res)

    def test_long_line(self):
        long_value = ",".join(f"check_{i}" for i in range(12000))
        self.assertGreater(len(long_value), 100000)
        self.write("main.cf", f"smtpd_client_restrictions = {long_value}\n")
        res = run(["postconf", "-c", self.dir, "-h", "smtpd_client_restrictions"])
        self.assertOk(res)
        self.assertEqual(res.out, long_value + "\n")

    def test_binary_file_as_main_cf(self):
        self.write("main.cf", bytes(range(256)) * 40)
        res = run(["postconf", "-c", self.dir, "-n"])
        self.assertFailsCleanly(res, f"{self.dir}/main.cf, line ")
        self.write("main.cf", b"\x7fELF\x02\x01\x01" + b"\x00" * 64)
        res = run(["postconf", "-c", self.dir, "-n"])
        self.assertFailsCleanly(res, f"{self.dir}/main.cf, line 1: line contains a NUL byte")

    def test_missing_main_cf(self):
        res = run(["postconf", "-c", self.path("nowhere"), "-n"])
        self.assertFailsCleanly(res, f"open {self.dir}/nowhere/main.cf: No such file or directory")

    def test_broken_master_cf(self):
        self.write("main.cf", "")
        self.write("master.cf", "smtp inet n - y - - smtpd\n\nsmtp inet - - y - - smtpd\n")
        res = run(["postconf", "-c", self.dir, "-M"])
        self.assertFailsCleanly(res, f"{self.dir}/master.cf, line 3: inet service cannot be "
                                     "private")
        self.write("master.cf", "relay unix - - y - - smtp\n  -o\n")
        res = run(["postconf", "-c", self.dir, "-M"])
        self.assertFailsCleanly(res, f"{self.dir}/master.cf, line 1: -o option requires "
                                     "name=value")
