"""One unreachable destination does not hold up the rest: while a server that never greets
keeps the first deliveries waiting, mail for another destination is delivered; once the
agent reports the destination dead, its other messages are deferred at once ("delivery
temporarily suspended: ...") without a connection each; postqueue -f tries it again."""
import os
import socket
import time
import unittest

import test_delivery
from harness import BIN, run
from instance import poll
from smtpsink import Sink


@unittest.skipUnless(os.getuid() == 0, "the delivery agents need root")
class DeadDestination(test_delivery.Delivery):
    def setUp(self):
        super().setUp()
        self.silent = socket.socket()  # accepts connections (the kernel does) and never talks
        self.silent.bind(("127.0.0.1", 0))
        self.silent.listen(64)
        self.addCleanup(self.silent.close)
        self.sink = Sink()
        self.addCleanup(self.sink.close)
        self.inst.write_master(test_delivery.SERVICES + "smtp unix - - n - - smtp\n")
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("transport_maps = inline:{ "
                     f"dead.example=smtp:[127.0.0.1]:{self.silent.getsockname()[1]}, "
                     f"good.example=smtp:[127.0.0.1]:{self.sink.port} }}\n"
                     "smtp_helo_timeout = 3s\nsmtp_destination_concurrency_limit = 2\n")
        self.assertTrue(self.inst.reload())

    def test_dead_destination(self):
        dead = [self.submit("s@example.org", [f"u{n}@dead.example"]) for n in range(8)]
        start = time.monotonic()
        good = self.submit("s@example.org", ["u@good.example"])
        self.assertTrue(poll(lambda: f"{good}: removed" in self.inst.log(), timeout=10),
                        self.inst.log())
        self.assertLess(time.monotonic() - start, 3)  # before the first greeting timed out

        def all_deferred():
            return all(f"{q}: to=<" in self.inst.log() for q in dead)

        self.assertTrue(poll(all_deferred, timeout=20), self.inst.log())
        log = self.inst.log()
        tried = log.count("dsn=4.4.1, status=deferred (conversation with 127.0.0.1[127.0.0.1] "
                          "timed out while receiving the initial server greeting)")
        suspended = log.count("dsn=4.3.0, status=deferred (delivery temporarily suspended: "
                              "conversation with 127.0.0.1[127.0.0.1] timed out while receiving "
                              "the initial server greeting)")
        self.assertEqual((tried, suspended), (2, 6), log)  # only the first two were tried
        self.assertEqual(log.count(" is not reachable: deferring its mail for 300s"), 1, log)
        # postqueue -f forgets that the destination was dead: every message is tried again
        self.silent.close()
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("transport_maps = inline:{ "
                     f"dead.example=smtp:[127.0.0.1]:{self.sink.port} }}\n")
        self.assertTrue(self.inst.reload())
        self.assertEqual(run([os.path.join(BIN, "postqueue"), "-f"],
                             env={"MAIL_CONFIG": self.inst.etc}).rc, 0)
        self.assertTrue(poll(lambda: all(f"{q}: removed" in self.inst.log() for q in dead),
                             timeout=20), self.inst.log())
        self.assertEqual(len(self.sink.messages), 9)

    test_maildir_and_mbox_delivery = None
    test_unknown_user_bounces_and_unreachable_transport_defers = None
    test_crash_left_in_active_is_delivered_after_restart = None
    test_mailbox_size_limit = None
    test_bounce_notice_reaches_the_sender = None
    test_expired_mail_returns_to_sender = None
    test_delay_warning_is_sent_once = None
