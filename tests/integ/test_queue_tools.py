"""The seed page's queue commands on a real queue: mailq / postqueue -p and -j, qshape
deferred, postsuper -h/-H/-r ALL/-d ALL, postqueue -f, postfix flush, sendmail -q, postcat -q."""
import json
import os
import re
import unittest

import test_delivery
from harness import BIN, run
from instance import poll


@unittest.skipUnless(os.getuid() == 0, "the delivery agents need root")
class QueueTools(test_delivery.Delivery):
    def setUp(self):
        super().setUp()
        self.inst.write_master(test_delivery.SERVICES + "pickup unix n - n 60 1 pickup\n"
                               "showq unix n - n - - showq\n")
        self.assertTrue(self.inst.reload())

    def tool(self, *args, stdin=None):
        argv = list(args)
        if argv[0] == "mailq":
            argv[0] = os.path.join(BIN, "mailq")  # postqueue under its other name
        return run(argv, env={"MAIL_CONFIG": self.inst.etc}, stdin=stdin)

    def deferred_ids(self):
        found = []
        for _, _, files in os.walk(os.path.join(self.inst.queue, "deferred")):
            found += files
        return found

    def test_seed_queue_commands(self):
        qid = self.submit("sender@example.com", ["far@remote.example"])
        self.assertTrue(poll(lambda: self.deferred_ids() == [qid], timeout=15), self.inst.log())
        res = self.tool("mailq")
        self.assertEqual(res.rc, 0, res)
        lines = res.out.split("\n")
        self.assertEqual(lines[0], "-Queue ID-  --Size-- ----Arrival Time---- "
                                   "-Sender/Recipient-------")
        self.assertRegex(lines[1], r"^" + qid + r" +\d+ \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d  "
                                   r"sender@example\.com$")
        # the reason of the last attempt; longer than 76 columns, so not right-aligned
        self.assertEqual(lines[2], "(delivery temporarily suspended: connect to private/smtp: "
                                   "No such file or directory)")
        self.assertEqual(lines[3], " " * 41 + "far@remote.example")
        self.assertEqual(lines[4:], ["", "-- 0 Kbytes in 1 Request.", ""])
        [obj] = [json.loads(l) for l in self.tool("postqueue", "-j").out.splitlines()]
        self.assertEqual((obj["queue_name"], obj["queue_id"], obj["sender"]),
                         ("deferred", qid, "sender@example.com"))
        self.assertEqual(obj["recipients"], [{
            "address": "far@remote.example",
            "delay_reason": "delivery temporarily suspended: connect to private/smtp: "
                            "No such file or directory"}])
        # postcat -q shows the file: envelope, message, section labels
        res = self.tool(os.path.join(BIN, "postcat"), "-q", qid)
        self.assertEqual(res.rc, 0, res)
        where = f"deferred/{qid[0]}/{qid}"
        out = res.out.splitlines()
        self.assertEqual(out[0], f"*** ENVELOPE RECORDS {where} ***")
        self.assertIn("sender: sender@example.com", out)
        self.assertIn("recipient: far@remote.example", out)
        body = out.index(f"*** MESSAGE CONTENTS {where} ***")
        self.assertEqual(out[body + 1], "Subject: test")
        self.assertEqual(out[-2:], [f"*** HEADER EXTRACTED {where} ***",
                                    f"*** MESSAGE FILE END {where} ***"])
        res = self.tool(os.path.join(BIN, "postcat"), "-bq", qid)
        self.assertEqual(res.out, f"*** MESSAGE CONTENTS {where} ***\n\nHello.\n"
                                  f"*** MESSAGE FILE END {where} ***\n")
        res = self.tool(os.path.join(BIN, "postcat"), "-q", "B0B0B0B0B0")
        self.assertEqual((res.rc, res.err), (1, "postcat: warning: open queue file B0B0B0B0B0: "
                                                "No such file or directory\n"))
        shape = self.tool("qshape", "deferred").out.splitlines()
        self.assertEqual(shape[0].split(), ["T", "5", "10", "20", "40", "80", "160", "320",
                                            "640", "1280", "1280+"])
        self.assertEqual(shape[1].split(), ["TOTAL", "1", "1"] + ["0"] * 9)
        self.assertEqual(shape[2].split(), ["remote.example", "1", "1"] + ["0"] * 9)
        # hold and release
        res = self.tool("postsuper", "-h", qid)
        self.assertIn("postsuper: Placed on hold: 1 message", res.err)
        self.assertIn(qid + "!", self.tool("mailq").out)
        res = self.tool("postsuper", "-H", qid)
        self.assertIn("postsuper: Released from hold: 1 message", res.err)
        # requeue: a new queue ID through pickup and cleanup
        res = self.tool("postsuper", "-r", "ALL")
        self.assertIn("postsuper: Requeued: 1 message", res.err)
        self.assertTrue(poll(lambda: len(self.deferred_ids()) == 1 and
                             self.deferred_ids() != [qid], timeout=15), self.inst.log())
        self.assertIn(f"{qid}: requeued", self.inst.log())
        # make the destination reachable, flush: exactly one copy goes out
        self.inst.write_master(test_delivery.SERVICES + "pickup unix n - n 60 1 pickup\n"
                               "showq unix n - n - - showq\nsmtp unix - - n - - discard\n")
        self.assertTrue(self.inst.reload())
        self.assertEqual(self.tool("postqueue", "-f").rc, 0)
        self.assertTrue(poll(lambda: "Mail queue is empty" in self.tool("mailq").out,
                             timeout=15), self.inst.log())
        sent = re.findall(r"to=<far@remote\.example>, relay=none.*status=sent", self.inst.log())
        self.assertEqual(len(sent), 1)

    def test_sendmail_q_flushes(self):
        qid = self.submit("s@example.com", ["r@remote.example"])
        self.assertTrue(poll(lambda: self.deferred_ids() == [qid], timeout=15), self.inst.log())
        self.inst.write_master(test_delivery.SERVICES + "pickup unix n - n 60 1 pickup\n"
                               "showq unix n - n - - showq\nsmtp unix - - n - - discard\n")
        self.assertTrue(self.inst.reload())
        res = self.tool(os.path.join(BIN, "sendmail"), "-q30m")
        self.assertEqual(res.rc, 0, res)
        self.assertIn("-q30m: queue runs are periodic already", res.err)
        self.assertEqual(self.deferred_ids(), [qid])  # the backoff time still holds it
        res = self.tool(os.path.join(BIN, "sendmail"), "-q")
        self.assertEqual(res.rc, 0, res)
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=15),
                        self.inst.log())
        self.assertIn(f"{qid}: to=<r@remote.example>, relay=none", self.inst.log())

    def test_postfix_flush(self):
        qid = self.submit("s@example.com", ["r@remote.example"])
        self.assertTrue(poll(lambda: self.deferred_ids() == [qid], timeout=15), self.inst.log())
        self.inst.write_master(test_delivery.SERVICES + "smtp unix - - n - - discard\n")
        self.assertTrue(self.inst.reload())
        self.assertEqual(self.deferred_ids(), [qid])  # the backoff time still holds it
        res = self.inst.postfix("flush")
        self.assertEqual(res.rc, 0, res)
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=15),
                        self.inst.log())

    def test_delete_all(self):
        for n in range(3):
            self.submit("s@example.com", [f"r{n}@remote.example"])
        self.assertTrue(poll(lambda: len(self.deferred_ids()) == 3, timeout=15))
        res = self.tool("postsuper", "-d", "ALL")
        self.assertIn("postsuper: Deleted: 3 messages", res.err)
        self.assertEqual(self.tool("mailq").out, "Mail queue is empty\n")
        self.assertEqual(self.tool("qshape", "deferred").out.splitlines()[1].split()[1], "0")

    def test_mailq_takes_sendmail_options(self):
        # mailq is sendmail: -C names the configuration (no MAIL_CONFIG), -Ac is accepted
        qid = self.submit("s@example.com", ["far@remote.example"])
        self.assertTrue(poll(lambda: self.deferred_ids() == [qid], timeout=15), self.inst.log())
        res = run([os.path.join(BIN, "mailq"), "-Ac", "-C", self.inst.etc])
        self.assertEqual(res.rc, 0, res)
        self.assertIn(qid, res.out)
        self.assertIn("far@remote.example", res.out)

    def test_forced_expiry(self):
        qid = self.submit("info@example.org", ["far@remote.example"])
        self.assertTrue(poll(lambda: self.deferred_ids() == [qid], timeout=15), self.inst.log())
        res = self.tool("postsuper", "-e", qid)
        self.assertIn("postsuper: Expired: 1 message", res.err)
        self.assertTrue(self.tool("mailq").out.splitlines()[1].startswith(qid + "#"))
        self.assertEqual(self.tool("postqueue", "-f").rc, 0)
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=15),
                        self.inst.log())
        self.assertIn(f"{qid}: from=<info@example.org>, status=force-expired, returned to "
                      "sender", self.inst.log())
        # the notice gives the reason of the last attempt, not a generic one; it is a
        # message of its own, delivered after the original is removed
        self.assertTrue(poll(lambda: self.maildir_files("example.org", "info"), timeout=15),
                        self.inst.log())
        [notice] = [open(f).read() for f in self.maildir_files("example.org", "info")]
        self.assertIn("<far@remote.example>: delivery temporarily suspended: connect to "
                      "private/smtp: No such file or directory", notice)

    def test_structure_repair(self):
        moved = self.submit("s@example.com", ["a@remote.example"])
        copied = self.submit("s@example.com", ["b@remote.example"])
        self.assertTrue(poll(lambda: sorted(self.deferred_ids()) == sorted([moved, copied]),
                             timeout=15))
        self.assertEqual(self.inst.postfix("stop").rc, 0)
        deferred = os.path.join(self.inst.queue, "deferred")
        # a file in the wrong hash subdirectory, and one restored from a copy (a new inode)
        os.rename(os.path.join(deferred, moved[0], moved), os.path.join(deferred, moved))
        path = os.path.join(deferred, copied[0], copied)
        data = open(path, "rb").read()
        st = os.stat(path)
        with open(path + ".tmp", "wb") as fp:  # while the old inode is still taken
            fp.write(data)
        os.chown(path + ".tmp", st.st_uid, st.st_gid)
        os.chmod(path + ".tmp", st.st_mode)
        os.rename(path + ".tmp", path)
        res = self.tool("postsuper", "-s")
        self.assertEqual(res.rc, 0, res.err)
        self.assertIn(f"deferred/{moved}: moved to deferred/{moved[0]}/{moved}", res.err)
        self.assertIn(f"deferred/{copied[0]}/{copied}: renamed to deferred/", res.err)
        renamed = re.search(r"renamed to deferred/\w/(\w+),", res.err).group(1)
        self.assertNotEqual(renamed, copied)
        self.assertEqual(sorted(self.deferred_ids()), sorted([moved, renamed]))
        # the defer log followed its message (mailq's reason)
        self.assertTrue(os.path.exists(os.path.join(self.inst.queue, "defer", renamed[0],
                                                    renamed)))
        self.assertEqual(self.inst.postfix("start").rc, 0)
        # qmgr may be moving the renamed file (now due) between queues while showq lists
        # them, so look until the listing settles
        self.assertTrue(poll(lambda: "-- 0 Kbytes in 2 Requests." in self.tool("mailq").out,
                             timeout=15), self.tool("mailq").out)
        out = self.tool("mailq").out
        self.assertIn(renamed, out)
        self.assertIn("b@remote.example", out)
        # a second run finds nothing to do
        self.assertEqual(self.tool("postsuper", "-s").err, "")

    test_maildir_and_mbox_delivery = None
    test_unknown_user_bounces_and_unreachable_transport_defers = None
    test_crash_left_in_active_is_delivered_after_restart = None
    test_mailbox_size_limit = None
    test_bounce_notice_reaches_the_sender = None
    test_expired_mail_returns_to_sender = None
    test_delay_warning_is_sent_once = None
