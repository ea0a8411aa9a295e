"""A real Dovecot authentication server for SASL tests: Debian's dovecot-core with a private
configuration (its own base directory, no mail protocols, no failure delay), a passwd-file
passdb, and its auth socket where an instance's smtpd looks for it (private/auth in the
queue directory). Stopped again by stop()."""
import os
import shutil
import signal
import subprocess
import time

from instance import poll


def available():
    return shutil.which("dovecot") is not None


class DovecotAuth:
    def __init__(self, inst, users, socket_path=None, owner="postfix"):
        """users: {login: password}; the socket is inst's private/auth unless given."""
        self.dir = os.path.join(inst.dir, "dovecot")
        os.makedirs(os.path.join(self.dir, "run"), exist_ok=True)
        self.socket = socket_path or os.path.join(inst.queue, "private", "auth")
        passwd = os.path.join(self.dir, "passwd")
        with open(passwd, "w") as fp:
            for login, password in users.items():
                fp.write(f"{login}:{{PLAIN}}{password}\n")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as fp:
            fp.write(f"base_dir = {self.dir}/run\n"
                     f"state_dir = {self.dir}/state\n"
                     f"log_path = {self.dir}/dovecot.log\n"
                     "protocols =\nlisten = 127.0.0.1\nssl = no\n"
                     "auth_mechanisms = plain login\n"
                     "disable_plaintext_auth = no\n"
                     "auth_failure_delay = 0\n"
                     "passdb {\n  driver = passwd-file\n"
                     f"  args = scheme=PLAIN username_format=%u {passwd}\n}}\n"
                     "userdb {\n  driver = static\n  args = uid=nobody gid=nogroup home=/tmp\n}\n"
                     "service auth {\n"
                     f"  unix_listener {self.socket} {{\n"
                     f"    mode = 0660\n    user = {owner}\n    group = {owner}\n  }}\n}}\n")
        # dovecot goes into the background: its output goes to a file, not to a pipe that
        # would stay open as long as it runs
        errors = os.path.join(self.dir, "start.err")
        with open(errors, "w") as err:
            rc = subprocess.run(["dovecot", "-c", self.conf], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err, timeout=30).returncode
        if rc != 0:
            raise AssertionError(f"dovecot did not start: {open(errors).read()}")
        if not poll(lambda: os.path.exists(self.socket), timeout=10):
            raise AssertionError(f"no auth socket {self.socket}: {self.log()}")

    def log(self):
        path = os.path.join(self.dir, "dovecot.log")
        return open(path).read() if os.path.exists(path) else ""

    def stop(self):
        pidfile = os.path.join(self.dir, "run", "master.pid")
        try:
            pid = int(open(pidfile).read())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
