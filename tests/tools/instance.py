"""A private Postern instance for integration tests: its own configuration, queue and data
directories, the build tree's daemons, a log file, and loopback ports. Every process it
starts is stopped again, even when a test fails."""
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from harness import BIN, LIBEXEC, run


def ensure_mail_users():
    """As root: the postfix user and the postdrop group, as Debian's package creates them."""
    if os.getuid() != 0:
        return
    try:
        grp.getgrnam("postdrop")
    except KeyError:
        subprocess.run(["groupadd", "--system", "postdrop"], check=True)
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--home-dir", "/var/spool/postfix", "--shell", "/usr/sbin/nologin",
                        "postfix"], check=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(condition, timeout=10.0, interval=0.05):
    """Wait until condition() is true, at most timeout seconds; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class Instance:
    def __init__(self, master_cf, main_cf=""):
        ensure_mail_users()
        self.dir = tempfile.mkdtemp(prefix="postern-inst-")
        os.chmod(self.dir, 0o755)
        self.etc = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "spool")
        self.log_path = os.path.join(self.dir, "maillog")
        os.mkdir(self.etc)
        open(self.log_path, "w").close()
        os.chmod(self.log_path, 0o666)
        self.write_main(main_cf)
        self.write_master(master_cf)

    def write_main(self, extra=""):
        with open(os.path.join(self.etc, "main.cf"), "w") as fp:
            fp.write(f"queue_directory = {self.queue}\n"
                     f"data_directory = {self.dir}/data\n"
                     f"daemon_directory = {LIBEXEC}\n"
                     f"command_directory = {BIN}\n"
                     f"maillog_file = {self.log_path}\n"
                     f"maillog_file_prefixes = {self.dir}\n"
                     "compatibility_level = 3.6\n"
                     "inet_interfaces = 127.0.0.1\n"
                     "service_throttle_time = 2s\n"
                     "import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C "
                     "ASAN_OPTIONS UBSAN_OPTIONS\n" + extra)

    def write_master(self, text):
        """master.cf as given, with the postlog service added when it has none (as the
        stock master.cf has it), so that maillog_file is written by postlogd; and anvil, which
        smtpd asks for its client limits, when there is an smtpd and no anvil."""
        names = [line.split()[:1] for line in text.splitlines()]
        if text.strip() and ["postlog"] not in names:
            text = text.rstrip("\n") + "\npostlog unix-dgram n - n - 1 postlogd\n"
        if " smtpd" in text and ["anvil"] not in names:
            text = text.rstrip("\n") + "\nanvil unix - - n - 1 anvil\n"
        with open(os.path.join(self.etc, "master.cf"), "w") as fp:
            fp.write(text)

    def sanitizer_env(self):
        """Sanitizer reports of daemons (whose stderr is /dev/null) go to files here."""
        prefix = os.path.join(self.dir, "sanitizer")
        return {"ASAN_OPTIONS": f"detect_leaks=0:log_path={prefix}",
                "UBSAN_OPTIONS": f"halt_on_error=1:print_stacktrace=1:log_path={prefix}"}

    def sanitizer_reports(self):
        return [name for name in os.listdir(self.dir) if name.startswith("sanitizer")]

    def postfix(self, *args, **kw):
        env = dict(self.sanitizer_env())
        env.update(kw.pop("env", {}) or {})
        return run(["postfix", "-c", self.etc] + list(args), env=env, **kw)

    def start(self):
        res = self.postfix("start")
        if res.rc != 0:
            raise AssertionError(f"postfix start failed: {res}\nlog:\n{self.log()}")
        return res

    def reload(self, timeout=10.0):
        """postfix reload, then wait until master has re-read its files and the processes
        started under the old configuration have retired."""
        before = set(self.processes()) - {self.master_pid()}
        count = self.raw_log().count("reload -- version")
        res = self.postfix("reload")
        if res.rc != 0:
            return False
        return poll(lambda: self.raw_log().count("reload -- version") > count and
                    not before & set(self.processes()), timeout=timeout)

    SYNC_TAG = "postern-test-sync"

    def raw_log(self):
        with open(self.log_path, errors="replace") as fp:
            return fp.read()

    def sync_log(self, timeout=5.0):
        """Lines reach maillog_file through postlogd's socket, in order: a marker sent now
        is written after every line sent before it. Waits (bounded) for the marker."""
        path = self.unix_path("postlog", private=False)
        self.syncs = getattr(self, "syncs", 0) + 1
        marker = f"{self.SYNC_TAG}[{os.getpid()}]: {self.syncs}\n"
        try:
            start = os.path.getsize(self.log_path)
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                s.sendto(marker.rstrip("\n").encode(), path)
        except OSError:
            return  # no postlogd socket: every line was appended directly

        def arrived():
            with open(self.log_path, "rb") as fp:
                fp.seek(start)
                return marker.encode() in fp.read()

        deadline = time.monotonic() + timeout
        pause = 0.0005
        while not arrived() and time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(pause * 2, 0.02)

    def log(self):
        """maillog_file, once every line logged before this call is in it."""
        self.sync_log()
        return "".join(line for line in self.raw_log().splitlines(keepends=True)
                       if self.SYNC_TAG not in line)

    def master_pid(self):
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as fp:
                return int(fp.read().strip())
        except (OSError, ValueError):
            return None

    def processes(self, name=None):
        """pids of live processes started from this instance (by their process group)."""
        pid = self.master_pid()
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as fp:
                    fields = fp.read().rsplit(")", 1)[1].split()
                if fields[0] == "Z" or pid is None or int(fields[2]) != pid:
                    continue
                with open(f"/proc/{entry}/cmdline", "rb") as fp:
                    argv = fp.read().split(b"\0")
            except (OSError, IndexError):
                continue
            if name is None or os.path.basename(argv[0].decode()) == name:
                found.append(int(entry))
        return found

    def diagnose(self):
        """The instance's processes with what they wait in, for failure messages."""
        pids = [str(p) for p in self.processes()] + [str(self.master_pid() or "")]
        res = subprocess.run(["ps", "-o", "pid,stat,wchan:24,etime,args", "-p",
                              ",".join(p for p in pids if p)], capture_output=True, text=True)
        out = res.stdout
        for pid in pids:
            try:
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if "eventpoll" in target or "socket" in target:
                        with open(f"/proc/{pid}/fdinfo/{fd}") as fp:
                            out += f"{pid} fd {fd} {target}: {fp.read()}"
            except OSError:
                pass
        out += subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout
        return out

    def unix_path(self, service, private=True):
        return os.path.join(self.queue, "private" if private else "public", service)

    def cleanup(self):
        pid = self.master_pid()
        if self.postfix("status").rc == 0:
            self.postfix("stop")
        if pid:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        reports = []
        for name in self.sanitizer_reports():
            with open(os.path.join(self.dir, name), errors="replace") as fp:
                reports.append(fp.read())
        shutil.rmtree(self.dir, ignore_errors=True)
        if reports:
            raise AssertionError("sanitizer reports:\n" + "\n".join(reports))


def converse(address, lines, timeout=10):
    """Send request lines to an echo-service endpoint; returns the answer lines."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family) as s:
        s.settimeout(timeout)
        s.connect(address)
        s.sendall("".join(line + "\n" for line in lines + ["quit"]).encode())
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.decode().splitlines()
