"""postmap, postalias and newaliases: building Berkeley DB tables that are interchangeable with
the reference's, querying every table type, and clear errors for bad input."""
import os
import pwd
import shutil
import stat
import subprocess

from harness import CommandTest, run, program

DB_DUMP = shutil.which("db5.3_dump") or shutil.which("db_dump")


def dump(path):
    """Key/value pairs of a .db file exactly as stored (db_dump -p escapes)."""
    out = subprocess.run([DB_DUMP, "-p", path], capture_output=True, text=True, check=True).stdout
    body = out.split("HEADER=END\n", 1)[1].split("DATA=END", 1)[0].splitlines()
    return {body[i].strip(): body[i + 1].strip() for i in range(0, len(body) - 1, 2)}


SOURCE = ("# /etc/postfix/vmailbox\n"
          "Info@Example.org    example.org/info/\n"
          "sales@example.org   example.org/sales/\n"
          "   # comment inside\n"
          "\tmore\n"
          "@example.net        example.net/catchall/\n"
          '"a quoted key"      v3\n')


class Postmap(CommandTest):
    def setUp(self):
        super().setUp()
        self.write("main.cf", "")
        self.env = {"MAIL_CONFIG": self.dir}
        self.src = self.write("vmailbox", SOURCE, mode=0o640)

    def postmap(self, *args, **kw):
        return run(["postmap"] + list(args), env=self.env, cwd=self.dir, **kw)

    def test_build_and_query(self):
        self.assertOk(self.postmap(self.src))
        res = self.postmap("-q", "INFO@example.ORG", self.src)
        self.assertOk(res)
        self.assertEqual(res.out, "example.org/info/\n")
        res = self.postmap("-q", "nobody@example.org", "hash:" + self.src)
        self.assertEqual((res.rc, res.out), (1, ""))
        res = self.postmap("-q", "sales@example.org", self.src)
        self.assertEqual(res.out, "example.org/sales/\tmore\n")
        res = self.postmap("-q", "-", self.src, stdin="@example.net\nnone\n\"a quoted key\"\n")
        self.assertOk(res)
        self.assertEqual(res.out, "@example.net\texample.net/catchall/\n"
                                  "\"a quoted key\"\tv3\n")
        res = self.postmap("-s", self.src)
        self.assertEqual(sorted(res.out.splitlines()),
                         sorted(["info@example.org\texample.org/info/",
                                 "sales@example.org\texample.org/sales/\tmore",
                                 "@example.net\texample.net/catchall/",
                                 "\"a quoted key\"\tv3"]))

    def test_nul_convention_and_mode(self):
        if DB_DUMP is None:
            self.skipTest("db_dump not installed")
        self.assertOk(self.postmap(self.src))
        pairs = dump(self.src + ".db")
        self.assertEqual(pairs["info@example.org\\00"], "example.org/info/\\00")
        self.assertEqual(len(pairs), 4)
        self.assertEqual(stat.S_IMODE(os.stat(self.src + ".db").st_mode), 0o640)
        os.unlink(self.src + ".db")
        self.assertOk(self.postmap("-p", self.src))
        self.assertEqual(stat.S_IMODE(os.stat(self.src + ".db").st_mode), 0o644)
        self.assertOk(self.postmap("-f", "btree:" + self.src))
        self.assertIn("Info@Example.org\\00", dump(self.src + ".db"))

    def test_rebuild_replaces_the_file_atomically(self):
        self.assertOk(self.postmap(self.src))
        before = os.stat(self.src + ".db").st_ino
        with open(self.src, "a") as fp:
            fp.write("new@example.org new/\n")
        self.assertOk(self.postmap(self.src))
        self.assertNotEqual(os.stat(self.src + ".db").st_ino, before)
        self.assertEqual(self.postmap("-q", "new@example.org", self.src).out, "new/\n")
        self.assertEqual([f for f in os.listdir(self.dir) if "tmp" in f], [])

    def test_duplicates(self):
        self.write("dups", "k first\nK second\n")
        res = self.postmap(self.path("dups"))
        self.assertOk(res)
        self.assertIn(f"{self.dir}/dups, line 2: duplicate entry: \"k\"", res.err)
        self.assertEqual(self.postmap("-q", "k", self.path("dups")).out, "first\n")
        res = self.postmap("-r", self.path("dups"))
        self.assertNotIn("duplicate", res.err)
        self.assertEqual(self.postmap("-q", "k", self.path("dups")).out, "second\n")
        res = self.postmap("-w", self.path("dups"))
        self.assertEqual(res.err, "")

    def test_delete_and_incremental(self):
        self.assertOk(self.postmap(self.src))
        self.assertOk(self.postmap("-d", "sales@example.org", self.src))
        self.assertEqual(self.postmap("-q", "sales@example.org", self.src).rc, 1)
        self.assertEqual(self.postmap("-d", "sales@example.org", self.src).rc, 1)
        self.assertOk(self.postmap("-i", self.src, stdin="added@example.org box/\n"))
        self.assertEqual(self.postmap("-q", "added@example.org", self.src).out, "box/\n")
        self.assertEqual(self.postmap("-q", "info@example.org", self.src).out,
                         "example.org/info/\n")

    def test_other_table_types(self):
        self.write("re", "/^(.+)@example\\.com$/ local:$1\n")
        self.assertEqual(self.postmap("-q", "joe@example.com", "regexp:" + self.path("re")).out,
                         "local:joe\n")
        self.assertEqual(self.postmap("-q", "joe@example.com", "pcre:" + self.path("re")).out,
                         "local:joe\n")
        self.write("nets", "192.0.2.0/24 OK\n")
        self.assertEqual(self.postmap("-q", "192.0.2.9", "cidr:" + self.path("nets")).out, "OK\n")
        self.assertEqual(self.postmap("-q", "INFO@example.org", "texthash:" + self.src).out,
                         "example.org/info/\n")
        self.assertEqual(self.postmap("-q", "b", "inline:{a=1, b=2}").out, "2\n")
        self.assertEqual(self.postmap("-q", "x", "static:{ all the same }").out, "all the same\n")
        # tables are searched in order; the first that has the key wins
        self.assertEqual(self.postmap("-q", "a", "inline:{a=one}", "inline:{a=two}").out, "one\n")
        res = run(["postconf", "-m"])
        self.assertEqual(res.out.split(), ["btree", "cidr", "fail", "hash", "inline", "pcre",
                                           "regexp", "static", "texthash", "unix"])

    def test_missing_source(self):
        res = self.postmap(self.path("absent"))
        self.assertFailsCleanly(res, f"postmap: fatal: open {self.dir}/absent: "
                                     "No such file or directory")
        res = self.postmap("-q", "x", self.path("absent"))
        self.assertFailsCleanly(res, f"{self.dir}/absent.db")

    def test_corrupt_and_unreadable_databases(self):
        self.write("junk.db", os.urandom(8192))
        res = self.postmap("-q", "key", self.path("junk"))
        self.assertFailsCleanly(res, f"open database {self.dir}/junk.db")
        self.write("empty.db", "")
        res = self.postmap("-s", self.path("empty"))
        self.assertFailsCleanly(res, f"open database {self.dir}/empty.db")

    def test_binary_source(self):
        self.assertOk(self.postmap(self.src))
        before = os.stat(self.src + ".db").st_ino
        self.write("vmailbox", b"good line\n" + bytes(range(256)) * 16)
        res = self.postmap(self.src)
        self.assertFailsCleanly(res, f"{self.src}, line 2: line contains a NUL byte")
        # the old table is still in place and no temporary file is left behind
        self.assertEqual(os.stat(self.src + ".db").st_ino, before)
        self.assertEqual([f for f in os.listdir(self.dir) if "tmp" in f], [])

    def test_long_lines(self):
        value = "v" * 150000
        self.write("long", "key " + value + "\n")
        self.assertOk(self.postmap(self.path("long")))
        self.assertEqual(self.postmap("-q", "key", self.path("long")).out, value + "\n")

    def test_db_config_in_cwd_is_ignored(self):
        # CVE-2017-10140: libdb must not read DB_CONFIG from the current directory.
        self.write("DB_CONFIG", "set_data_dir /nonexistent/postern\nset_lg_dir /nonexistent\n")
        self.assertOk(self.postmap(self.src))
        self.assertEqual(self.postmap("-q", "info@example.org", self.src).out,
                         "example.org/info/\n")

    def test_runs_as_the_source_owner(self):
        if os.getuid() != 0:
            self.skipTest("needs root")
        nobody = pwd.getpwnam("nobody")
        os.chmod(self.dir, 0o777)
        os.chown(self.src, nobody.pw_uid, nobody.pw_gid)
        self.assertOk(self.postmap(self.src))
        self.assertEqual(os.stat(self.src + ".db").st_uid, nobody.pw_uid)
        os.unlink(self.src + ".db")
        self.assertOk(self.postmap("-o", self.src))
        self.assertEqual(os.stat(self.src + ".db").st_uid, 0)

    def test_reference_interoperability(self):
        reference = "/usr/sbin/postmap"
        if not os.path.exists(reference) or not os.path.exists("/etc/postfix/main.cf"):
            self.skipTest("reference postmap not installed")
        ref_src = self.write("ref", SOURCE)
        subprocess.run([reference, ref_src], check=True, capture_output=True)
        self.assertEqual(self.postmap("-q", "info@example.org", ref_src).out,
                         "example.org/info/\n")
        self.assertOk(self.postmap(self.src))
        res = subprocess.run([reference, "-q", "sales@example.org", self.src],
                             capture_output=True, text=True)
        self.assertEqual(res.stdout, "example.org/sales/\tmore\n")


class Postalias(CommandTest):
    ALIASES = ("# aliases\n"
               "postmaster: root\n"
               "Root:   lucas\n"
               "list: a@example.org,\n"
               "   b@example.org,   \"c d\"@example.org\n"
               "owner-list: :include:/etc/postfix/owners\n"
               "pipe: \"|/usr/bin/procmail\"\n"
               "\"quoted name\": x\n")

    def setUp(self):
        super().setUp()
        self.aliases = self.write("aliases", self.ALIASES)
        self.write("main.cf", f"alias_database = hash:{self.aliases}\nmyhostname = mx.example\n")
        self.env = {"MAIL_CONFIG": self.dir}

    def test_build_and_query(self):
        self.assertOk(run(["postalias", self.aliases], env=self.env))
        res = run(["postalias", "-q", "list", self.aliases], env=self.env)
        self.assertEqual(res.out, "a@example.org, b@example.org, \"c d\"@example.org\n")
        self.assertEqual(run(["postalias", "-q", "ROOT", self.aliases], env=self.env).out,
                         "lucas\n")
        self.assertEqual(run(["postalias", "-q", "quoted name", self.aliases],
                             env=self.env).out, "x\n")
        self.assertEqual(run(["postalias", "-q", "pipe", self.aliases], env=self.env).out,
                         "\"|/usr/bin/procmail\"\n")
        if DB_DUMP:
            pairs = dump(self.aliases + ".db")
            self.assertEqual(pairs["@\\00"], "@\\00")
            self.assertEqual(pairs["YP_MASTER_NAME"], "mx.example")
            self.assertRegex(pairs["YP_LAST_MODIFIED"], r"^\d{10}$")
        res = run(["postalias", "-s", self.aliases], env=self.env)
        self.assertNotIn("YP_", res.out)
        self.assertIn("owner-list\t:include:/etc/postfix/owners\n", res.out)

    def test_newaliases_builds_alias_database(self):
        link = self.path("newaliases")
        os.symlink(program("postalias"), link)
        self.assertOk(run([link], env=self.env))
        self.assertTrue(os.path.exists(self.aliases + ".db"))
        self.assertEqual(run(["postalias", "-q", "postmaster", self.aliases],
                             env=self.env).out, "root\n")

    def test_bad_lines_are_reported(self):
        self.write("aliases", "no colon here\nok: fine\n")
        res = run(["postalias", self.aliases], env=self.env)
        self.assertOk(res)
        self.assertIn(f"{self.aliases}, line 1: need name:value pair", res.err)
        self.assertEqual(run(["postalias", "-q", "ok", self.aliases], env=self.env).out,
                         "fine\n")
