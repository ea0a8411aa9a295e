"""Helpers shared by the command tests: where the built programs are, private scratch
directories, and running a program the way a user would, with bounded time."""
import os
import shutil
import subprocess
import tempfile
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIBEXEC = os.path.join(TOP, "libexec")
BIN = os.path.join(TOP, "bin")
DATA = os.path.join(TOP, "tests", "data")


def program(name):
    """The path of one of our programs in the build tree (never one from PATH)."""
    return os.path.join(TOP, "commands", name, name)


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def __repr__(self):
        return f"rc={self.rc}\nstdout:\n{self.out}\nstderr:\n{self.err}"


def run(args, stdin=None, cwd=None, env=None, timeout=60):
    """Run a program; arguments[0] is a program name of ours or a path."""
    argv = list(args)
    if os.sep not in argv[0]:
        argv[0] = program(argv[0])
    full_env = dict(os.environ)
    full_env.pop("MAIL_CONFIG", None)
    # Sanitizer builds: leaks of a command that exits right away are not errors here.
    full_env.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0")
    full_env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
    if env:
        full_env.update(env)
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, cwd=cwd,
                          env=full_env, timeout=timeout, errors="replace")
    return Result(proc)


class CommandTest(unittest.TestCase):
    """A test case with a private scratch directory."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="postern-test-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def write(self, name, text, mode=None):
        path = self.path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w" if isinstance(text, str) else "wb") as fp:
            fp.write(text)
        if mode is not None:
            os.chmod(path, mode)
        return path

    def read(self, name):
        with open(self.path(name)) as fp:
            return fp.read()

    def copy_data(self, name, dest=None):
        """Copy a tests/data directory or file into the scratch directory."""
        src = os.path.join(DATA, name)
        dst = self.path(dest or os.path.basename(name))
        if os.path.isdir(src):
            shutil.copytree(src, dst)
        else:
            shutil.copy(src, dst)
        return dst

    def assertOk(self, res):
        self.assertEqual(res.rc, 0, repr(res))
        self.assertNotIn("fatal", res.err, repr(res))
        self.assertNotIn("Sanitizer", res.err, repr(res))
        self.assertNotIn("runtime error", res.err, repr(res))

    def assertFailsCleanly(self, res, *phrases):
        """A clear error: exit 1 (not a signal), the phrases in stderr, no sanitizer report."""
        self.assertEqual(res.rc, 1, repr(res))
        self.assertNotIn("Sanitizer", res.err, repr(res))
        self.assertNotIn("runtime error", res.err, repr(res))
        for phrase in phrases:
            self.assertIn(phrase, res.err, repr(res))
