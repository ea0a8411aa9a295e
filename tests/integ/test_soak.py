"""Soak: 30,000 messages over 50 parallel SMTP sessions into Maildirs, with max_use = 5 and
short ipc_idle/ipc_ttl, so that every process retires hundreds of times; for the second
half, postmap adds mailboxes and postfix reload runs every few seconds as well (the first
half shows that retirement alone never stalls: a reload would hide a stall). Every accepted
message must arrive exactly once in the mailbox it was sent to, no session may wait long for
its banner or take long at all, a new mailbox must get its mail (never a bounce), and no
sanitizer may complain. SOAK_MESSAGES makes a shorter run (the sanitizer build uses one)."""
import os
import pwd
import re
import sys
import threading
import time
import unittest

from harness import BIN, run
from instance import Instance, free_port, poll
from smtpload import Load

MESSAGES = int(os.environ.get("SOAK_MESSAGES", 30000))
SESSIONS = 50
BANNER_LIMIT = 5.0    # seconds a session may wait for its banner
SESSION_LIMIT = 20.0  # seconds a whole session may take
CHURN_EVERY = 2.0   # postmap with one more mailbox
RELOAD_EVERY = 3.0 if MESSAGES >= 10000 else 1.5  # postfix reload

MASTER = """\
127.0.0.1:{port} inet n - n - - smtpd
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
virtual unix - n n - - virtual
error unix - - n - - error
discard unix - - n - - discard
"""


@unittest.skipUnless(os.getuid() == 0, "the virtual agent needs root")
class Soak(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.inst = Instance(MASTER.format(port=self.port))
        self.addCleanup(self.inst.cleanup)
        owner = pwd.getpwnam("nobody")
        self.vmail = os.path.join(self.inst.dir, "vmail")
        os.mkdir(self.vmail)
        os.chown(self.vmail, owner.pw_uid, owner.pw_gid)
        self.table = os.path.join(self.inst.etc, "vmailbox")
        self.mailboxes = ["load"] + [f"box{i}" for i in range(10)]
        self.write_table()
        self.inst.write_main(
            "myhostname = mx.soak.example\nmydestination = localhost\nalias_maps =\n"
            "mynetworks = 127.0.0.0/8\n"
            "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n"
            "virtual_mailbox_domains = soak.example\n"
            f"virtual_mailbox_base = {self.vmail}\n"
            f"virtual_mailbox_maps = hash:{self.table}\n"
            f"virtual_uid_maps = static:{owner.pw_uid}\n"
            f"virtual_gid_maps = static:{owner.pw_gid}\n"
            "max_use = 5\nipc_idle = 1s\nipc_ttl = 4s\n")
        self.inst.start()

    def write_table(self):
        with open(self.table + ".tmp", "w") as fp:
            for box in self.mailboxes:
                fp.write(f"{box}@soak.example soak.example/{box}/\n")
        os.rename(self.table + ".tmp", self.table)
        res = run([os.path.join(BIN, "postmap"), self.table])
        self.assertEqual(res.rc, 0, res)

    def churn(self, stop, ready, load):
        """From the second half of the load on: postmap with a new mailbox every CHURN_EVERY
        s, reload every RELOAD_EVERY s; a new mailbox is offered to the load only once
        postmap has finished."""
        while load.next < MESSAGES // 2:
            if stop.wait(0.1):
                return
        next_box, next_reload = time.monotonic(), time.monotonic() + RELOAD_EVERY
        added = 0
        while not stop.wait(0.1):
            now = time.monotonic()
            if now >= next_box:
                self.mailboxes.append(f"new{added}")
                self.write_table()
                ready.append(f"new{added}")
                added += 1
                next_box = now + CHURN_EVERY
            if now >= next_reload:
                self.reloads += self.inst.postfix("reload").rc == 0
                next_reload = now + RELOAD_EVERY

    def test_soak(self):
        base = [f"box{i}" for i in range(10)]
        ready = []  # new mailboxes, once postmap made them known

        def rcpt(n):
            boxes = base + ready
            return f"{boxes[n % len(boxes)]}@soak.example"

        self.reloads = 0
        stop = threading.Event()
        load = Load("127.0.0.1", self.port, MESSAGES, SESSIONS, rcpt)
        churn = threading.Thread(target=self.churn, args=(stop, ready, load))
        churn.start()
        try:
            load.run()
        finally:
            stop.set()
            churn.join()

        self.assertEqual(load.refused[:10], [],
                         f"{len(load.refused)} messages refused; log:\n" +
                         "\n".join(l for l in self.inst.log().splitlines() if "warning" in l)[:3000])
        self.assertEqual(len(load.accepted), MESSAGES)
        slowest = max(load.banner_waits)
        longest = max(load.session_times)
        # the figures, for comparing two builds (the limits below only catch a stall)
        sys.stderr.write(f"slowest banner {slowest:.2f}s, longest session {longest:.2f}s, "
                         f"{self.reloads} reloads\n")
        self.assertLess(slowest, BANNER_LIMIT, f"a session waited {slowest:.1f}s for its banner")
        self.assertLess(longest, SESSION_LIMIT, f"a session took {longest:.1f}s")
        self.assertGreater(len(ready), 3)
        self.assertGreater(self.reloads, 3)

        def delivered():
            count = 0
            for _, _, files in os.walk(self.vmail):
                count += len(files)
            return count
        self.assertTrue(poll(lambda: delivered() >= MESSAGES and self.queue_empty(), timeout=600,
                             interval=1), f"{delivered()} of {MESSAGES} delivered")

        seen = {}
        pattern = re.compile(rb"^X-Soak: (\d+)$", re.M)
        for box in os.listdir(os.path.join(self.vmail, "soak.example")):
            new = os.path.join(self.vmail, "soak.example", box, "new")
            for name in os.listdir(new):
                with open(os.path.join(new, name), "rb") as fp:
                    n = int(pattern.search(fp.read(4096)).group(1))
                self.assertNotIn(n, seen, f"message {n} delivered twice")
                seen[n] = f"{box}@soak.example"
        self.assertEqual(seen, load.accepted)
        self.assertTrue(any(box.startswith("new") for box in seen.values()))
        log = self.inst.log()
        self.assertNotIn("status=bounced", log)
        self.assertNotIn("warning", log)
        # the processes that log each message retired many times
        for program in ("smtpd", "cleanup", "virtual"):
            pids = set(re.findall(rf"postfix/{program}\[(\d+)\]", log))
            self.assertGreater(len(pids), 100, f"{program}: {len(pids)} processes")

    def queue_empty(self):
        for sub in ("incoming", "active", "deferred"):
            for _, _, files in os.walk(os.path.join(self.inst.queue, sub)):
                if files:
                    return False
        return True


if __name__ == "__main__":
    unittest.main()
