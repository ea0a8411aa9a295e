"""Every program of the build is a hardened executable, as readelf shows it: position
independent, relocations read-only and bound at start (relro, now), a stack that cannot run
code, stack canaries, and (outside sanitizer builds) the fortified libc calls."""
import os
import subprocess
import unittest

from harness import BIN, LIBEXEC, TOP


def programs():
    found = []
    for directory in (BIN, LIBEXEC):
        for name in sorted(os.listdir(directory)):
            path = os.path.realpath(os.path.join(directory, name))
            if path not in found:
                found.append(path)
    return found


def readelf(*args):
    return subprocess.run(["readelf", "-W", *args], capture_output=True, text=True,
                          check=True).stdout


def sanitized():
    with open(os.path.join(TOP, "Makefile")) as makefile:
        return any(line.startswith("SANITIZE") and "-fsanitize" in line for line in makefile)


class Hardening(unittest.TestCase):
    def test_every_program_is_hardened(self):
        progs = programs()
        self.assertGreater(len(progs), 25)
        for path in progs:
            with self.subTest(program=os.path.relpath(path, TOP)):
                dynamic = readelf("-d", path)
                self.assertIn("BIND_NOW", dynamic)
                self.assertRegex(dynamic, r"FLAGS_1\)\s+Flags:.*\bPIE\b")
                segments = readelf("-l", path)
                self.assertIn("GNU_RELRO", segments)
                stack = [line for line in segments.splitlines() if "GNU_STACK" in line]
                self.assertEqual(len(stack), 1)
                self.assertNotIn("E", stack[0].split()[-2])  # flags RW, never RWE

    def test_canaries_and_fortified_calls(self):
        # smtpd faces the network: it must carry the stack protector and, without the
        # sanitizers (which check the same calls), the _chk variants of the libc calls
        symbols = readelf("--dyn-syms", os.path.join(TOP, "smtpd", "smtpd", "smtpd"))
        self.assertIn("__stack_chk_fail", symbols)
        if not sanitized():
            self.assertRegex(symbols, r"__(memcpy|snprintf|vsnprintf|read|memset)_chk")


if __name__ == "__main__":
    unittest.main()
