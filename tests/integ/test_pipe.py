"""pipe: the seed's kind of master.cf entries: flags, user=, argv= macros (one argument per
recipient for recipient macros), the message on standard input with the D and R headers, and
exit codes mapped as the reference does."""
import grp
import os
import pwd
import subprocess
import unittest

import test_delivery
from harness import BIN, run
from instance import poll
from test_delivery import SERVICES

SCRIPT = """#!/bin/sh
out=$OUTDIR/call.$$
for a in "$@"; do printf '%s\\n' "$a"; done > $out.args
cat > $out.stdin
id -u > $out.uid
ls -l /proc/$$/fd > $out.fds
grep NoNewPrivs /proc/$$/status > $out.status
case "$2" in
  temp*) exit 75 ;;
  gone*) echo "5.7.1 go away"; exit 1 ;;
  unavail*) exit 69 ;;
esac
exit 0
"""


@unittest.skipUnless(os.getuid() == 0, "pipe needs root to start")
class Pipe(test_delivery.Delivery):
    def setUp(self):
        super().setUp()
        self.outdir = os.path.join(self.inst.dir, "pipe-out")
        os.mkdir(self.outdir)
        nobody = pwd.getpwnam("nobody")
        os.chown(self.outdir, nobody.pw_uid, nobody.pw_gid)
        script = os.path.join(self.inst.dir, "record.sh")
        with open(script, "w") as fp:
            fp.write(SCRIPT.replace("$OUTDIR", self.outdir))
        os.chmod(script, 0o755)
        self.inst.write_master(
            SERVICES +
            f"record unix - n n - - pipe flags=DRhu user=nobody argv={script} ${{sender}} "
            "${recipient} ${nexthop} ${user} ${extension}\n"
            f"single unix - n n - - pipe flags=DRXhu user=nobody:nogroup argv={script} "
            "$sender $recipient\n"
            f"quoted unix - n n - - pipe flags=q user=nobody argv={script} "
            "${sender} ${recipient}\n"
            "showq unix n - n - - showq\nerror unix - - n - - error\n")
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("transport_maps = inline:{ pipe.example=record:, one.example=single:, "
                     "quote.example=quoted: }\n"
                     "single_destination_recipient_limit = 1\nrecipient_delimiter = +\n")
        self.assertTrue(self.inst.reload())

    def calls(self):
        return sorted(f[:-5] for f in os.listdir(self.outdir) if f.endswith(".args"))

    def read(self, call, kind):
        return open(os.path.join(self.outdir, f"{call}.{kind}")).read()

    def test_command_inherits_no_descriptor_of_master(self):
        # master hands its children listeners, a status pipe and a flow pipe: none of them
        # may reach a command (it could accept connections or fake status records)
        qid = self.submit("s@example.com", ["a@pipe.example"])
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=15),
                        self.inst.log())
        [call] = self.calls()
        fds = dict(line.split()[-3::2] for line in self.read(call, "fds").splitlines()
                   if " -> " in line)
        # the shell's own copies of 0-2 aside (it saves them around redirections)
        leaked = {fd: what for fd, what in fds.items()
                  if int(fd) > 2 and what.startswith(("socket:", "pipe:")) and
                  what not in (fds.get("0"), fds.get("1"), fds.get("2"))}
        self.assertEqual(leaked, {}, fds)
        # pipe itself may gain no privileges, but the command it runs still can: a filter
        # that hands the message back through sendmail needs the set-group-ID postdrop
        self.assertEqual(self.read(call, "status").split(), ["NoNewPrivs:", "0"])

    def test_macros_and_one_argument_per_recipient(self):
        qid = self.submit("Sender@Example.com", ["A+Ext@Pipe.Example", "b@pipe.example"])
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=15),
                        self.inst.log())
        [call] = self.calls()
        self.assertEqual(self.read(call, "args").split("\n")[:-1],
                         ["Sender@Example.com", "a+ext@pipe.example", "b@pipe.example",
                          "pipe.example", "a", "b", "ext", ""])
        stdin = self.read(call, "stdin")
        self.assertTrue(stdin.startswith("Return-Path: <Sender@Example.com>\n"), stdin)
        self.assertNotIn("Delivered-To:", stdin)  # only with a single recipient
        self.assertEqual(int(self.read(call, "uid")), pwd.getpwnam("nobody").pw_uid)
        self.assertIn(f"{qid}: to=<A+Ext@Pipe.Example>, relay=record", self.inst.log())
        self.assertIn("status=sent (delivered via record service)", self.inst.log())

    def test_q_flag_quotes_local_parts(self):
        qid = self.submit("first.last.@example.com", ['john "j" doe@quote.example'])
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=15),
                        self.inst.log())
        [call] = self.calls()
        self.assertEqual(self.read(call, "args").split("\n")[:2],
                         ['"first.last."@example.com', '"john \\"j\\" doe"@quote.example'])

    def test_recipient_limit_one_and_exit_codes(self):
        qid = self.submit("s@example.com", ["x@one.example", "temp@one.example",
                                            "gone@one.example", "unavail@one.example"])
        self.assertTrue(poll(lambda: len(self.calls()) == 4, timeout=15), self.inst.log())
        # each recipient is its own destination (limit 1): the calls run side by side, so
        # wait until every one has finished before reading what they were given
        self.assertTrue(poll(lambda: all(f"{qid}: to=<{r}@one.example>" in self.inst.log()
                                         for r in ("x", "temp", "gone", "unavail")),
                             timeout=15), self.inst.log())
        for call in self.calls():
            if self.read(call, "args").split("\n")[1] == "x@one.example":
                self.assertIn("Delivered-To: x@one.example\n", self.read(call, "stdin"))
        log = self.inst.log()
        self.assertIn("to=<x@one.example>, relay=single", log)
        # sysexits codes are told by name, others by number; output follows either
        self.assertIn("dsn=4.3.0, status=deferred (temporary failure)\n", log)
        self.assertRegex(log, r'dsn=5\.7\.1, status=bounced \(Command died with status 1: '
                              r'"[^"]+"\. Command output: 5\.7\.1 go away\)\n')
        self.assertIn("dsn=5.3.0, status=bounced (service unavailable)\n", log)
        # mailq shows a short reason right-aligned, ending in column 78
        res = run([os.path.join(BIN, "mailq")], env={"MAIL_CONFIG": self.inst.etc})
        self.assertIn("\n" + " " * (76 - len("temporary failure")) + "(temporary failure)\n" +
                      " " * 41 + "temp@one.example\n", res.out)

    def test_hostile_addresses_reach_the_command_as_one_argument(self):
        # shell syntax in an address is data: one argv element each, exactly as queued,
        # and no process but the command; an address that starts with '-' could pass for
        # an option and bounces (allow_min_user = no), the command never sees it
        mark = f"/tmp/pn-injected-{os.getpid()}"
        self.addCleanup(lambda: os.path.exists(mark) and os.unlink(mark))
        hostile = ["`touch " + mark + "`@one.example", "$(touch " + mark + ")@one.example",
                   ";touch " + mark + ";@one.example", "a|touch " + mark + "@one.example",
                   "x\\ y@one.example"]
        qid = self.submit("s@example.com", hostile + ["-oxmark@one.example"])
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=15),
                        self.inst.log())
        got = sorted(self.read(call, "args").split("\n")[1] for call in self.calls())
        self.assertEqual(got, sorted(hostile))
        self.assertFalse(os.path.exists(mark))
        self.assertIn("to=<-oxmark@one.example>", self.inst.log())
        self.assertRegex(self.inst.log(), r"to=<-oxmark@one\.example>.*dsn=5\.1\.3, "
                                          r"status=bounced \(bad address syntax\)")

    def test_a_privileged_group_is_refused(self):
        # root's group, mail_owner's and setgid_group's would open the queue to the command
        owner_group = grp.getgrgid(pwd.getpwnam("postfix").pw_gid).gr_name
        groups = {"root": "rootgrp", owner_group: "ownergrp", "postdrop": "dropgrp"}
        script = os.path.join(self.inst.dir, "record.sh")
        self.inst.write_master(
            SERVICES + "error unix - - n - - error\n" +
            "".join(f"{svc} unix - n n - - pipe user=nobody:{g} argv={script} ${{recipient}}\n"
                    for g, svc in groups.items()))
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("transport_maps = inline:{ " +
                     ", ".join(f"{svc}.example={svc}:" for svc in groups.values()) + " }\n")
        self.assertTrue(self.inst.reload())
        self.submit("s@example.com", [f"x@{svc}.example" for svc in groups.values()])
        for g in groups:
            self.assertTrue(poll(lambda: f"user= nobody:{g}: the command must not run with "
                                         f"group id" in self.inst.log(), timeout=15),
                            self.inst.log())
        self.assertEqual(self.calls(), [])

    def test_a_command_that_closes_its_output_still_meets_its_time_limit(self):
        # the command goes quiet but keeps running: at the time limit it (and what it started)
        # is killed and the recipient bounces, once; the agent is not held
        marker = os.path.join(self.outdir, "started")
        self.inst.write_master(
            SERVICES + "error unix - - n - - error\n"
            "sleeper unix - n n - - pipe -o command_time_limit=2s user=nobody argv=/bin/sh -c "
            f"{{touch {marker}; exec >&- 2>&- </dev/null; sleep 31.7}}\n")
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("transport_maps = inline:{ sleep.example=sleeper: }\n")
        self.assertTrue(self.inst.reload())
        qid = self.submit("s@example.com", ["x@sleep.example"])
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=20),
                        self.inst.log())
        self.assertRegex(self.inst.log(), r"to=<x@sleep\.example>, relay=sleeper, .*"
                                          r"dsn=5\.3\.0, status=bounced \(command time limit "
                                          r"exceeded")
        self.assertEqual(self.inst.log().count("to=<x@sleep.example>"), 1)
        self.assertTrue(os.path.exists(marker))
        self.assertTrue(poll(lambda: subprocess.run(["pgrep", "-f", "^sleep 31.7"],
                                                    capture_output=True).returncode != 0,
                             timeout=5))

    def test_x_flag_decides_delivered_or_relayed(self):
        # NOTIFY=SUCCESS: the success notice says "delivered" only for a command flagged X
        qid = self.submit("info@example.org", ["x@one.example"], notify=2)
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=15),
                        self.inst.log())
        qid = self.submit("info@example.org", ["y@pipe.example"], notify=2)
        self.assertTrue(poll(lambda: len(self.maildir_files("example.org", "info")) == 2,
                             timeout=15), self.inst.log())
        notices = "".join(open(f).read() for f in self.maildir_files("example.org", "info"))
        self.assertIn("Final-Recipient: rfc822; x@one.example\nAction: delivered\n", notices)
        self.assertIn("Final-Recipient: rfc822; y@pipe.example\nAction: relayed\n", notices)

    test_maildir_and_mbox_delivery = None
    test_unknown_user_bounces_and_unreachable_transport_defers = None
    test_crash_left_in_active_is_delivered_after_restart = None
    test_mailbox_size_limit = None
    test_bounce_notice_reaches_the_sender = None
    test_expired_mail_returns_to_sender = None
    test_delay_warning_is_sent_once = None
