"""The parameter table against the code and against postfix check, generated from the table
itself (lib/config/cfparams_list.h): every parameter marked implemented is read by some program,
none marked unimplemented is, and every unimplemented one set to a value other than its default
is refused as its entry says: a warning, or an error naming the services that will not start.
Bad values are errors with the file and line."""
import glob
import os
import re

from harness import CommandTest, TOP, run

LIST = os.path.join(TOP, "lib", "config", "cfparams_list.h")
ROW = re.compile(r'^PN_PARAM\(([A-Za-z0-9_]+), (\w+), ([^,]+), ([^,]+), ("(?:[^"\\]|\\.)*"|PN_\w+), '
                 r'([^,]+), (\w+), (-?\d+), (-?\d+), (NULL|"[^"]*")\)$')
# the programs a master.cf can run here, by the names PN_R() uses
PROGRAMS = {"SMTPD": "smtpd", "CLEANUP": "cleanup", "PICKUP": "pickup", "QMGR": "qmgr",
            "FLUSH": "flush", "SHOWQ": "showq", "TREWRITE": "trivial-rewrite",
            "LOCAL": "local", "VIRTUAL": "virtual", "PIPE": "pipe", "SMTP": "smtp",
            "LMTP": "lmtp", "ERROR": "error", "DISCARD": "discard", "BOUNCE": "bounce",
            "POSTLOGD": "postlogd"}
AGENTS = {"LOCAL", "VIRTUAL", "PIPE", "SMTP", "LMTP", "ERROR", "DISCARD"}
# a refusal that depends on the value: these values are the refused ones
FATAL_VALUES = {"smtpd_tls_security_level": "encrypt", "smtp_tls_security_level": "encrypt",
                "lmtp_tls_security_level": "encrypt"}
# opportunistic TLS asked for: no requirement, so a warning although the entry says FATAL
WARN_ONLY = {"smtpd_use_tls", "smtp_use_tls", "lmtp_use_tls"}


def table():
    rows = {}
    for line in open(LIST):
        if line.startswith("PN_PARAM("):
            m = ROW.match(line.strip())
            assert m, line
            name, typ, unit, flags, dflt, readers, status, lo, hi, words = m.groups()
            rows[name] = dict(type=typ, default=dflt.strip('"'), readers=readers,
                              status=status, min=int(lo), max=int(hi),
                              words=None if words == "NULL" else words.strip('"'))
    return rows


def reader_programs(readers):
    """The master.cf programs among the readers of an entry."""
    names = set()
    for part in readers.split("|"):
        part = part.strip()
        if part in ("PN_R_ALL", "PN_R_DAEMONS"):
            names |= set(PROGRAMS)
        elif part == "PN_R_AGENTS":
            names |= AGENTS
        else:
            m = re.fullmatch(r"PN_R\((\w+)\)", part)
            assert m, readers
            names.add(m.group(1))
    return {PROGRAMS[n] for n in names if n in PROGRAMS}


def code_references():
    """Parameter names the code reads: PN_P(name), SMTP_PARAM(suffix) as both smtp_ and lmtp_,
    and the per-transport suffixes that qmgr and pipe build at run time."""
    names, suffixes = set(), set()
    sources = [f for pattern in ("lib/*/*.c", "lib/*/*.h", "*/*/*.c", "*/*/*.h")
               for f in glob.glob(os.path.join(TOP, pattern))]
    for path in sources:
        if path.endswith(("cfparams_list.h", "cfparams_table.h", "cfcheck.c")) or "/tests/" in path:
            continue
        text = open(path, errors="replace").read()
        names |= set(re.findall(r"\bPN_P\(([A-Za-z0-9_]+)\)", text))
        for suffix in re.findall(r"\bSMTP_PARAM\(([A-Za-z0-9_]+)\)", text):
            names |= {"smtp_" + suffix, "lmtp_" + suffix}
        for suffix in re.findall(r'"%s_([a-z_]+)"', text):
            suffixes.add(suffix)
        for suffix in re.findall(r'param_or_default\([^,]+, "([a-z_]+)"', text):
            suffixes.add(suffix)
        for suffix in re.findall(r'rate_delay\([^,]+, "([a-z_]+)"', text):
            suffixes.add(suffix)
    return names, suffixes


def nondefault(name, row, rows=None, expanded=None):
    """A value other than the default that is valid for the parameter's type, and other than
    that of any parameter whose value it defaults to (itself set the same way). expanded: the
    defaults as postconf -x shows them with the test's compatibility_level."""
    unique = sum(map(ord, name)) % 97
    default = expanded.get(name, row["default"]) if expanded else row["default"]
    ref = re.fullmatch(r"\$\{?([A-Za-z0-9_]+)\}?", row["default"])
    if ref and rows and ref.group(1) in rows:
        other = rows[ref.group(1)]
        set_too = other["status"] in ("WARN", "FATAL")
        default = (nondefault(ref.group(1), other, rows, expanded) if set_too else default) or ""
    if name in FATAL_VALUES:
        return FATAL_VALUES[name]
    if row["words"]:
        words = row["words"].lstrip("*").split()
        # (None when the only allowed word is the default: nothing to refuse)
        return next((w for w in words if [w] != default.replace(",", " ").split()), None)
    if row["type"] == "BOOL":
        return "no" if default in ("yes", "true") else "yes"
    if row["type"] == "INT":
        value = 401 + unique if row["min"] == 400 else 1001 + unique
        return str(value + 1 if str(value) == default else value)
    if row["type"] == "TIME":
        return f"{1001 + unique}s"
    return "nondefault:" + name


class Table(CommandTest):
    def setUp(self):
        super().setUp()
        self.rows = table()

    def test_the_table_is_complete_and_sorted(self):
        names = list(self.rows)
        self.assertEqual(names, sorted(names))
        self.assertGreaterEqual(len(names), 832)
        for name, row in self.rows.items():
            self.assertIn(row["status"], ("IMPL", "INFO", "WARN", "FATAL"), name)
            self.assertTrue(row["readers"] and row["readers"] != "0", name)

    def test_every_implemented_parameter_is_read_and_no_other(self):
        names, suffixes = code_references()
        referenced_by_default = set()
        for row in self.rows.values():
            if row["status"] == "IMPL":
                referenced_by_default |= set(re.findall(r"\$\{?\(?([A-Za-z0-9_]+)",
                                                        row["default"]))
        unread, misread = [], []
        for name, row in self.rows.items():
            read = (name in names or name in referenced_by_default or
                    any(name.endswith("_" + s) for s in suffixes))
            if row["status"] == "IMPL" and not read:
                unread.append(name)
            if row["status"] in ("WARN", "FATAL") and name in names:
                misread.append(name)
        self.assertEqual(unread, [], "marked implemented, read by no code")
        self.assertEqual(misread, [], "marked unimplemented, yet read by the code")

    def write_config(self, main, master):
        conf = self.path("etc")
        os.makedirs(conf, exist_ok=True)
        with open(os.path.join(conf, "main.cf"), "w") as fp:
            fp.write(f"queue_directory = {self.path('spool')}\n"
                     f"data_directory = {self.path('data')}\n"
                     "compatibility_level = 3.6\n" + main)
        with open(os.path.join(conf, "master.cf"), "w") as fp:
            fp.write(master)
        return conf

    def master_cf(self):
        """One service per program Postern has; the line of each, by program."""
        lines, where = [], {}
        for i, program in enumerate(sorted(set(PROGRAMS.values())), 1):
            kind = "inet" if program == "smtpd" else "unix"
            name = "127.0.0.1:10025" if program == "smtpd" else program
            lines.append(f"{name} {kind} n - n - - {program}")
            where[program] = (name, i)
        return "\n".join(lines) + "\n", where

    def test_every_unimplemented_setting_is_refused_as_the_table_says(self):
        master, where = self.master_cf()
        conf = self.write_config("", master)
        res = run(["postconf", "-c", conf, "-x"])
        self.assertEqual(res.rc, 0, res)
        expanded = dict(line.split(" = ", 1) if " = " in line else (line[:-2], "")
                        for line in res.out.splitlines())
        settings = {}
        for name, row in self.rows.items():
            value = nondefault(name, row, self.rows, expanded)
            if row["status"] in ("WARN", "FATAL") and value:
                settings[name] = value
        conf = self.write_config("".join(f"{n} = {v}\n" for n, v in settings.items()), master)
        res = run(["postfix", "-c", conf, "check"])
        self.assertEqual(res.rc, 1, res)
        out = res.err
        for name in settings:
            row = self.rows[name]
            programs = reader_programs(row["readers"])
            text = f"main.cf: parameter {name} is not implemented by Postern"
            if row["status"] == "FATAL" and programs and name not in WARN_ONLY:
                services = ", ".join(f"{where[p][0]} (master.cf, line {where[p][1]})"
                                     for p in sorted(programs, key=lambda p: where[p][1]))
                self.assertIn(f"error: {text}; services that will not start: {services}\n",
                              out, name)
            else:
                self.assertIn(f"warning: {text}; setting ignored\n", out, name)
        # nothing else is refused: implemented and informational settings are left alone
        refused = re.findall(r"parameter (\S+) is not implemented", out)
        self.assertEqual(sorted(set(refused)), sorted(settings))

    def test_defaults_and_equivalent_values_are_not_refused(self):
        master, _ = self.master_cf()
        conf = self.write_config("biff = yes\nsoft_bounce = false\nheader_checks =\n"
                                 "smtpd_tls_security_level = none\nsmtpd_use_tls = no\n"
                                 "readme_directory = no\nsendmail_path = /usr/sbin/sendmail\n"
                                 "masquerade_domains = $empty_thing\nempty_thing =\n", master)
        res = run(["postfix", "-c", conf, "check"])
        self.assertEqual(res.rc, 0, res)
        self.assertNotIn("not implemented", res.err)

    def test_tls_and_sasl_work_and_per_site_refuses(self):
        # TLS and SASL on both sides are implemented: no word about them; the obsolete
        # smtp_tls_per_site table stops the services that would read it
        master, where = self.master_cf()
        conf = self.write_config("smtpd_tls_security_level = may\n"
                                 "smtp_tls_security_level = may\n"
                                 "smtp_sasl_auth_enable = yes\n"
                                 "smtp_tls_per_site = hash:/etc/postfix/tls_per_site\n", master +
                                 "127.0.0.1:10587 inet n - n - - smtpd\n"
                                 "  -o smtpd_tls_security_level=encrypt\n"
                                 "  -o smtpd_sasl_auth_enable=yes\n"
                                 "  -o smtpd_sasl_type=dovecot\n"
                                 "  -o smtpd_sasl_path=private/auth\n")
        res = run(["postfix", "-c", conf, "check"])
        self.assertEqual(res.rc, 1, res)
        self.assertNotIn("smtpd_", res.err)
        self.assertNotIn("smtp_tls_security_level", res.err)
        self.assertNotIn("smtp_sasl", res.err)
        name, line = where["smtp"]
        self.assertIn("error: main.cf: parameter smtp_tls_per_site is not implemented by "
                      f"Postern; services that will not start: {name} (master.cf, line {line})",
                      res.err)
        self.assertEqual(res.err.count("will not start"), 1, res.err)

    def test_bad_values_are_errors_with_file_and_line(self):
        master, _ = self.master_cf()
        conf = self.write_config("smtpd_recipient_limit = many\n"
                                 "smtpd_timeout = 0\n"
                                 "inet_protocols = ipv5\n"
                                 "notify_classes = bounce, mood\n"
                                 "smtpd_helo_required = maybe\n"
                                 "propagate_unmatched_extensions = canonical, alias\n", master)
        main_cf = os.path.join(conf, "main.cf")
        res = run(["postfix", "-c", conf, "check"])
        self.assertEqual(res.rc, 1, res)
        for line, text in ((4, "bad numerical configuration: smtpd_recipient_limit = many"),
                           (5, "invalid smtpd_timeout parameter value 0 < 1"),
                           (6, 'bad inet_protocols value "ipv5": a list of all ipv4 ipv6'),
                           (7, 'bad notify_classes value "bounce, mood": a list of bounce '
                               '2bounce data delay policy protocol resource software'),
                           (8, "bad boolean configuration: smtpd_helo_required = maybe"),
                           # a word of the reference's that Postern does not carry out
                           (9, 'bad propagate_unmatched_extensions value "canonical, alias": '
                               'a list of canonical virtual')):
            self.assertIn(f"error: {main_cf}, line {line}: {text}\n", res.err)
        res = run(["postfix", "-c", conf, "start"])
        self.assertEqual(res.rc, 1, res)
        self.assertIn("fatal: main.cf has errors; the Postfix mail system is not started",
                      res.err)


class SeedPages(CommandTest):
    """The seed pages' configurations start (server TLS and SASL work): what they set that
    Postern does not carry out yet is warned about, nothing is refused."""

    def refused(self, name):
        conf = self.copy_data(name)
        res = run(["postfix", "-c", conf, "check"])
        self.assertEqual(res.rc, 0, res)
        self.err = res.err
        return sorted(set(re.findall(r"error: .*parameter (\S+) is not implemented by Postern; "
                                     r"services that will not start", res.err)))

    def test_basics_page(self):
        self.assertEqual(self.refused("seed-basics"), [])
        # every restriction of the page is carried out (reject_rbl_client too, which the page
        # gives without its zone: smtpd warns then, as the reference does): none is named
        warned = re.findall(r"warning: main\.cf: parameter (\S+): restriction (\S+) is not "
                            r"implemented by Postern", self.err)
        self.assertEqual(warned, [])

    def test_full_mail_server_page(self):
        self.assertEqual(self.refused("seed-full"), [])
