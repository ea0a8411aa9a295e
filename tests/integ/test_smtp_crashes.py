"""Mail out under SIGKILL: while smtp agents and qmgr are killed at random moments, every
message handed to cleanup still reaches the remote server, and none arrives twice more
often than processes were killed (a kill between the server's 250 and the done mark is the
one way to send twice)."""
import os
import random
import re
import signal
import threading
import time
import unittest

import test_delivery
from instance import poll
from smtpsink import Sink


@unittest.skipUnless(os.getuid() == 0, "the delivery agents need root")
class SmtpCrashes(test_delivery.Delivery):
    def setUp(self):
        super().setUp()
        self.sink = Sink()
        self.addCleanup(self.sink.close)
        self.inst.write_master(test_delivery.SERVICES.replace("qmgr unix n - n 300 1 qmgr",
                                                              "qmgr unix n - n 1 1 qmgr") +
                               "smtp unix - - n - - smtp\n")
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write(f"relayhost = [127.0.0.1]:{self.sink.port}\n"
                     "minimal_backoff_time = 1s\nmaximal_backoff_time = 2s\n"
                     "queue_run_delay = 1s\n")
        self.assertTrue(self.inst.reload())

    def test_killed_agents_lose_nothing(self):
        kills = [0]
        stop = threading.Event()

        def killer():
            rng = random.Random(7)
            while not stop.is_set():
                time.sleep(rng.uniform(0.01, 0.08))
                pids = self.inst.processes(rng.choice(["smtp", "smtp", "qmgr"]))
                if pids:
                    try:
                        os.kill(rng.choice(pids), signal.SIGKILL)
                        kills[0] += 1
                    except OSError:
                        pass

        k = threading.Thread(target=killer)
        k.start()
        subjects = []
        for n in range(60):
            subjects.append(f"out-{n}")
            self.submit("info@example.org", [f"r{n}@remote.example"],
                        headers=(f"Subject: out-{n}",))
            time.sleep(0.02)
        time.sleep(2)
        stop.set()
        k.join()
        self.assertGreater(kills[0], 5)

        def received():
            return [re.search(rb"^Subject: (.*?)\r$", data, re.M).group(1).decode()
                    for _, _, data in list(self.sink.messages)]

        self.assertTrue(poll(lambda: set(subjects) <= set(received()), timeout=60,
                             interval=0.5), set(subjects) - set(received()))
        found = received()
        self.assertLessEqual(len(found) - len(set(found)), kills[0])
        self.assertTrue(poll(self.queue_empty, timeout=30), self.inst.log()[-3000:])

    test_maildir_and_mbox_delivery = None
    test_unknown_user_bounces_and_unreachable_transport_defers = None
    test_crash_left_in_active_is_delivered_after_restart = None
    test_mailbox_size_limit = None
    test_bounce_notice_reaches_the_sender = None
    test_expired_mail_returns_to_sender = None
    test_delay_warning_is_sent_once = None
