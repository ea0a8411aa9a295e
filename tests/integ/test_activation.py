"""How new mail reaches qmgr: cleanup names each complete file in a notice, and qmgr opens
exactly that file, without reading incoming/ (watched with strace); queue scans clear away
what killed writers leave: a partial file is removed, a whole file whose mode change a crash
lost is delivered, and a file whose writer still holds it is left alone."""
import fcntl
import os
import pwd
import re
import shutil
import subprocess
import time
import unittest

import test_delivery
from instance import poll



@unittest.skipUnless(os.getuid() == 0 and shutil.which("strace"),
                     "needs root (virtual) and strace")
class Activation(unittest.TestCase):
    # the set-up of the delivery tests, not their tests
    setUp = test_delivery.Delivery.setUp
    submit = test_delivery.Delivery.submit

    def test_notice_opens_one_file_and_no_directory(self):
        self.submit("s@example.com", ["info@example.org"])  # qmgr runs from here on
        self.assertTrue(poll(lambda: self.inst.processes("qmgr"), timeout=10))
        [qmgr] = self.inst.processes("qmgr")
        trace = os.path.join(self.inst.dir, "qmgr.trace")
        strace = subprocess.Popen(["strace", "-f", "-p", str(qmgr), "-o", trace,
                                   "-e", "trace=openat,getdents64"],
                                  stderr=subprocess.PIPE, text=True)
        try:
            self.assertIn("attached", strace.stderr.readline())
            ids = [self.submit("s@example.com", ["info@example.org"]) for _ in range(10)]
            self.assertTrue(poll(lambda: all(f"{i}: removed" in self.inst.log() for i in ids),
                                 timeout=20), self.inst.log())
        finally:
            strace.terminate()
            strace.wait(timeout=10)
        calls = open(trace).read()
        self.assertEqual(calls.count("getdents64("), 0, calls)
        opened = re.findall(r'openat\([^"]*"(incoming[^"]*)"', calls)
        self.assertEqual(sorted(opened), sorted(f"incoming/{i}" for i in ids), calls)

    def old_file(self, name, data=b"", mode=0o600):
        path = os.path.join(self.inst.queue, "incoming", name)
        with open(path, "wb") as fp:
            fp.write(data)
        owner = pwd.getpwnam("postfix")
        os.chown(path, owner.pw_uid, owner.pw_gid)
        os.chmod(path, mode)
        past = time.time() - 600
        os.utime(path, (past, past))
        return path

    def test_scans_clear_debris(self):
        # a whole queue file: one that was deferred, moved back as a crash would leave it
        whole = self.submit("s@example.com", ["far@remote.example"])
        deferred = os.path.join(self.inst.queue, "deferred", whole[0], whole)
        self.assertTrue(poll(lambda: os.path.exists(deferred), timeout=15), self.inst.log())
        data = open(deferred, "rb").read()
        os.unlink(deferred)
        self.old_file(whole, data)
        partial = self.old_file("AB12CD34EF5", data[:100])
        empty = self.old_file("AB12CD34EF6")
        temporary = self.old_file("123456.789.0")
        held = self.old_file("AB12CD34EF7")
        with open(held) as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # as a live cleanup holds its file
            res = subprocess.run([os.path.join(test_delivery.BIN, "postqueue"), "-c",
                                  self.inst.etc, "-f"], capture_output=True, text=True)
            self.assertEqual(res.returncode, 0, res.stderr)
            self.assertTrue(poll(lambda: not os.path.exists(partial) and
                                 not os.path.exists(empty) and
                                 not os.path.exists(temporary), timeout=15), self.inst.log())
            self.assertTrue(poll(lambda: self.inst.log().count(f"{whole}: from=") >= 2,
                                 timeout=15), self.inst.log())
            self.assertTrue(os.path.exists(held))
        log = self.inst.log()
        self.assertIn(f"{whole}: complete queue file with mode 0600: made complete", log)
        self.assertIn("AB12CD34EF5: removing a partial queue file left by a writer that is gone "
                      "(100 bytes)", log)
        self.assertIn("removing incoming/123456.789.0 left by a writer that is gone", log)
        self.assertNotIn("AB12CD34EF7", log)


if __name__ == "__main__":
    unittest.main()
