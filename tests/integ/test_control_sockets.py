"""Every socket a daemon listens on, public or private, fed what a broken or hostile client
would send: random bytes, a frame that claims 4 GB, a frame cut short, a well-formed frame of
nonsense, a megabyte of tiny attributes. Each ends that client's connection; no daemon dies
(master logs no exit status and no signal), and mail still flows afterwards."""
import os
import random
import socket
import stat
import struct
import unittest

import test_delivery
from instance import poll

SERVICES = (test_delivery.SERVICES +
            "pickup unix n - n 60 1 pickup\n"
            "showq unix n - n - - showq\n"
            "flush unix n - n 1000? 0 flush\n"
            "anvil unix - - n - 1 anvil\n"
            "error unix - - n - - error\n"
            "discard unix - - n - - discard\n"
            "local unix - n n - - local\n")


def attr(kind, name, value):
    raw = value if isinstance(value, bytes) else value.encode()
    return kind + bytes([len(name)]) + name.encode() + struct.pack(">I", len(raw)) + raw


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


def attacks(seed):
    rnd = random.Random(seed)
    tiny = b"".join(attr(b"S", f"n{i}", "") for i in range(100000))
    return [
        bytes(rnd.randrange(256) for _ in range(4096)),
        b"\xff\xff\xff\xff" + b"x" * 100,
        frame(attr(b"S", "req", "open"))[:7],
        frame(attr(b"S", "req", "no-such-request") + attr(b"I", "flags", b"\0" * 8)),
        frame(attr(b"S", "req", "open") + attr(b"S", "req", "open")),
        frame(attr(b"G", "rcpt", attr(b"G", "rcpt", b"\xff" * 10))),
        frame(tiny),
        b"\0" * 64,
    ]


@unittest.skipUnless(os.getuid() == 0, "the delivery agents need root")
class ControlSockets(test_delivery.Delivery):
    def setUp(self):
        super().setUp()
        self.inst.write_master(SERVICES)
        with open(os.path.join(self.inst.etc, "main.cf"), "a") as fp:
            fp.write("alias_maps =\n")
        self.assertTrue(self.inst.reload())

    def sockets(self):
        found = []
        for sub in ("public", "private"):
            directory = os.path.join(self.inst.queue, sub)
            for name in sorted(os.listdir(directory)):
                path = os.path.join(directory, name)
                if name != "postlog" and os.path.exists(path):
                    found.append(path)
        return found

    def test_garbage_on_every_socket_ends_the_client_not_the_daemon(self):
        paths = self.sockets()
        self.assertGreater(len(paths), 10, paths)
        for i, path in enumerate(paths):
            for data in attacks(i):
                if stat.S_ISFIFO(os.stat(path).st_mode):  # a trigger FIFO (public/qmgr)
                    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
                    try:
                        os.write(fd, data[:512])
                    except BlockingIOError:
                        pass
                    os.close(fd)
                    continue
                s = socket.socket(socket.AF_UNIX)
                s.settimeout(10)
                try:
                    s.connect(path)
                    s.sendall(data)
                    s.shutdown(socket.SHUT_WR)
                    while s.recv(65536):  # until the daemon ends the connection
                        pass
                except (ConnectionError, socket.timeout, OSError):
                    pass
                finally:
                    s.close()
        # every daemon lived through it, and mail still flows
        qid = self.submit("s@example.com", ["info@example.org"])
        self.assertTrue(poll(lambda: f"{qid}: removed" in self.inst.log(), timeout=20),
                        self.inst.log())
        log = self.inst.log()
        self.assertNotIn("exit status", log)
        self.assertNotIn("killed by signal", log)
        self.assertNotIn("panic:", log)
        self.assertEqual(self.inst.sanitizer_reports(), [])

    test_maildir_and_mbox_delivery = None
    test_unknown_user_bounces_and_unreachable_transport_defers = None
    test_crash_left_in_active_is_delivered_after_restart = None
    test_mailbox_size_limit = None
    test_bounce_notice_reaches_the_sender = None
    test_expired_mail_returns_to_sender = None
    test_delay_warning_is_sent_once = None
