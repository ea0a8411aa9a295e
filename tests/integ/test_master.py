"""master and the postfix command with a tiny test service (tests/tools/echo-service): -o
overrides, process limits, replacement of killed children, throttling, max_use, wakeups,
reload, privilege separation, and clean start and stop."""
import os
import pwd
import signal
import socket
import threading
import time
import unittest

from instance import Instance, converse, free_port, poll


class MasterTest(unittest.TestCase):
    def make(self, master_cf, main_cf=""):
        inst = Instance(master_cf, main_cf)
        self.addCleanup(inst.cleanup)
        return inst


class Services(MasterTest):
    def test_overrides_reach_the_service(self):
        port = free_port()
        inst = self.make(f"127.0.0.1:{port} inet n - n - 2 echo-service\n"
                         "  -o smtpd_banner=hello-from-o\n"
                         "  -o { smtpd_client_restrictions = permit_mynetworks, reject }\n"
                         "  -o syslog_name=postfix/$service_name\n"
                         "echo unix - - n - 1 echo-service -o max_idle=7s\n",
                         "smtpd_banner = from-main-cf\nmy_own = value\n")
        inst.start()
        answers = converse(("127.0.0.1", port), [
            "param smtpd_banner", "param smtpd_client_restrictions", "param syslog_name",
            "param stress", "param my_own", "param smtpd_timeout"])
        self.assertEqual(answers, ["hello-from-o", "permit_mynetworks, reject",
                                       f"postfix/127.0.0.1:{port}", "", "value", "300s"])
        self.assertEqual(converse(inst.unix_path("echo"), ["param max_idle",
                                                           "param smtpd_banner"]),
                         ["7s", "from-main-cf"])
        self.assertIn(f"postfix/127.0.0.1:{port}/echo-service[", inst.log())

    def test_process_limit_under_load(self):
        port = free_port()
        inst = self.make(f"127.0.0.1:{port} inet n - n - 3 echo-service\n")
        inst.start()
        pids, failures, peak = set(), [], [0]
        done = threading.Event()

        def client():
            try:
                answers = converse(("127.0.0.1", port), ["pid", "sleep 150"], timeout=30)
                pids.add(int(answers[0]))
            except OSError as err:
                failures.append(err)

        def sampler():
            while not done.is_set():
                peak[0] = max(peak[0], len(inst.processes("echo-service")))
                time.sleep(0.01)

        watch = threading.Thread(target=sampler)
        watch.start()
        threads = [threading.Thread(target=client) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        done.set()
        watch.join()
        self.assertEqual(failures, [])
        self.assertLessEqual(len(pids), 3)
        self.assertLessEqual(peak[0], 3)
        self.assertGreaterEqual(peak[0], 2)  # the load really ran in parallel
        self.assertIn(f"service \"127.0.0.1:{port}\"", inst.log())
        self.assertIn("has reached its process limit \"3\"", inst.log())

    def test_killed_child_is_replaced(self):
        inst = self.make("echo unix - - n - 1 echo-service\n")
        inst.start()
        first = int(converse(inst.unix_path("echo"), ["pid"])[0])
        os.kill(first, signal.SIGKILL)
        self.assertTrue(poll(lambda: first not in inst.processes()))
        second = int(converse(inst.unix_path("echo"), ["pid"])[0])
        self.assertNotEqual(first, second)
        self.assertIn(f"pid {first} killed by signal 9", inst.log())
        self.assertNotIn("throttling", inst.log())  # it had served a client

    def test_startup_failure_throttles(self):
        inst = self.make("broken unix - - n - 1 echo-service die-at-start\n")
        inst.start()

        def attempt():
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(inst.unix_path("broken"))
                s.settimeout(0.5)
                try:
                    s.recv(1)
                except OSError:
                    pass

        attempt()
        self.assertTrue(poll(lambda: "bad command startup -- throttling" in inst.log()))
        failures = inst.log().count("told to fail at start-up")
        self.assertEqual(failures, 1)
        attempt()  # throttled: no new process for service_throttle_time (2s)
        time.sleep(1.0)
        self.assertEqual(inst.log().count("told to fail at start-up"), 1)
        # after the throttle time a waiting client starts the next attempt
        self.assertTrue(poll(lambda: inst.log().count("told to fail at start-up") == 2,
                             timeout=5))

    def test_max_use_recycles(self):
        inst = self.make("echo unix - - n - 1 echo-service -o max_use=2\n")
        inst.start()
        pids = [int(converse(inst.unix_path("echo"), ["pid"])[0]) for _ in range(3)]
        self.assertEqual(pids[0], pids[1])
        self.assertNotEqual(pids[1], pids[2])
        self.assertNotIn("throttling", inst.log())

    def test_wakeup_timers(self):
        inst = self.make("tick unix - - n 1 1 echo-service -o syslog_name=postfix/tick\n"
                         "later unix - - n 1? 1 echo-service -o syslog_name=postfix/later\n")
        inst.start()
        self.assertTrue(poll(lambda: "postfix/tick/echo-service" in inst.log() and
                             "request: W" in inst.log(), timeout=5))
        time.sleep(1.5)
        self.assertNotIn("postfix/later/", inst.log())  # "1?": not before the first use
        converse(inst.unix_path("later"), ["pid"])
        self.assertTrue(poll(lambda: inst.log().count("postfix/later/echo-service") >= 3,
                             timeout=5))


class Reload(MasterTest):
    def test_reload_changes_services_without_refusing_clients(self):
        port = free_port()
        keep = f"127.0.0.1:{port} inet n - n - 5 echo-service -o smtpd_banner=v1\n"
        inst = self.make(keep + "old unix - - n - 1 echo-service\n")
        inst.start()
        self.assertTrue(converse(inst.unix_path("old"), ["pid"])[0].isdigit())
        held = socket.create_connection(("127.0.0.1", port), timeout=10)
        held.sendall(b"pid\n")
        held_file = held.makefile()
        held_pid = int(held_file.readline())

        errors, served = [], [0]
        stop = threading.Event()

        def hammer():
            while not stop.is_set():
                try:
                    converse(("127.0.0.1", port), ["pid"], timeout=10)
                    served[0] += 1
                except OSError as err:
                    errors.append(err)

        thread = threading.Thread(target=hammer)
        thread.start()
        time.sleep(0.3)
        inst.write_master(keep.replace("v1", "v2") + "new unix - - n - 1 echo-service\n")
        self.assertEqual(inst.postfix("reload").rc, 0)
        self.assertTrue(poll(lambda: "reload -- version 3.7.11" in inst.log()))
        time.sleep(0.5)
        stop.set()
        thread.join(30)
        self.assertEqual(errors, [])
        self.assertGreater(served[0], 5)
        # the connection that was open across the reload is still served by its process
        held.sendall(b"pid\nquit\n")
        self.assertEqual(int(held_file.readline()), held_pid)
        held.close()
        # new processes of the kept service run with the new settings
        self.assertTrue(poll(lambda: converse(("127.0.0.1", port),
                                              ["param smtpd_banner"]) == ["v2"]))
        self.assertEqual(converse(inst.unix_path("new"), ["param mail_name"]), ["Postern"])
        with socket.socket(socket.AF_UNIX) as s:
            with self.assertRaises(OSError):
                s.connect(inst.unix_path("old"))
        self.assertTrue(poll(lambda: len(inst.processes("echo-service")) <= 6))


class StartStop(MasterTest):
    def test_start_status_stop(self):
        port = free_port()
        inst = self.make(f"127.0.0.1:{port} inet n - n - - echo-service\n"
                         "echo unix - - n - 1 echo-service\n")
        self.assertEqual(inst.postfix("status").rc, 1)
        inst.start()
        for sub in ("active", "bounce", "corrupt", "defer", "deferred", "flush", "hold",
                    "incoming", "maildrop", "pid", "private", "public", "saved", "trace"):
            self.assertTrue(os.path.isdir(os.path.join(inst.queue, sub)), sub)
        self.assertEqual(inst.postfix("status").rc, 0)
        self.assertIn("the Postfix mail system is running: PID: ", inst.log())
        second = inst.postfix("start")
        self.assertEqual(second.rc, 1)
        self.assertIn("the Postfix mail system is already running", second.err)
        converse(("127.0.0.1", port), ["pid"])
        converse(inst.unix_path("echo"), ["pid"])
        self.assertGreaterEqual(len(inst.processes()), 3)
        master = inst.master_pid()
        self.assertEqual(inst.postfix("stop").rc, 0)
        self.assertEqual(inst.postfix("status").rc, 1)
        self.assertFalse(os.path.exists(f"/proc/{master}"))
        self.assertEqual([p for p in os.listdir("/proc") if p.isdigit() and
                          _pgid(int(p)) == master], [])
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2)
        with socket.socket(socket.AF_UNIX) as s:
            with self.assertRaises(OSError):
                s.connect(inst.unix_path("echo"))
        self.assertIn("terminating on signal 15", inst.log())
        self.assertEqual(inst.postfix("stop").rc, 1)

    def test_broken_master_cf_stops_start(self):
        inst = self.make("echo unix - - n - 1 echo-service\n"
                         "# comment\n"
                         "broken inet - - n - - echo-service\n")
        res = inst.postfix("start")
        self.assertEqual(res.rc, 1)
        self.assertIn(f"{inst.etc}/master.cf, line 3: inet service cannot be private", res.err)
        self.assertEqual(inst.postfix("status").rc, 1)
        self.assertIsNone(inst.master_pid())
        inst.write_master("echo unix - - n - 1 echo-service\nbad unix - - n 1x - x\n")
        res = inst.postfix("start")
        self.assertEqual(res.rc, 1)
        self.assertIn("master.cf, line 2: invalid wakeup field \"1x\"", res.err)
        inst.write_master("p pass - - n - - echo-service\n")
        res = inst.postfix("start")
        self.assertEqual(res.rc, 1)
        self.assertIn("master.cf, line 1: service type \"pass\" is not supported", res.err)

    def test_check_warns_about_mynetworks(self):
        inst = self.make("echo unix - - n - 1 echo-service\n",
                         "mynetworks = [::ffff:127.0.0.0]/104 [::1]/128\n")
        res = inst.postfix("check")
        self.assertEqual(res.rc, 0)
        self.assertIn("mynetworks: [::ffff:127.0.0.0]/104 can never match", res.err)


def _pgid(pid):
    try:
        with open(f"/proc/{pid}/stat") as fp:
            fields = fp.read().rsplit(")", 1)[1].split()
        return -1 if fields[0] == "Z" else int(fields[2])
    except (OSError, IndexError):
        return -1


@unittest.skipUnless(os.getuid() == 0, "needs root")
class Privileges(MasterTest):
    def test_chrooted_unprivileged_child(self):
        inst = self.make("jail unix - y y - 1 echo-service\n"
                         "free unix - n n - 1 echo-service\n")
        inst.start()
        pid = int(converse(inst.unix_path("jail"), ["pid"])[0])
        owner = pwd.getpwnam("postfix")
        self.assertEqual(os.readlink(f"/proc/{pid}/root"), inst.queue)
        status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
        self.assertEqual(status["Uid"].split(), [str(owner.pw_uid)] * 4)
        self.assertEqual(status["Gid"].split(), [str(owner.pw_gid)] * 4)
        self.assertEqual(status["Groups"].strip(), "")
        # no program it might run could gain privileges (set-ID bits, capabilities)
        self.assertEqual(status["NoNewPrivs"].strip(), "1")
        master = int(open(os.path.join(inst.queue, "pid", "master.pid")).read())
        master_status = dict(line.split(":", 1) for line in open(f"/proc/{master}/status"))
        self.assertEqual(master_status["NoNewPrivs"].strip(), "0")
        # and it can run no program (a seccomp filter): master can
        self.assertEqual(status["Seccomp"].strip(), "2")
        self.assertEqual(master_status["Seccomp"].strip(), "0")
        self.assertEqual(converse(inst.unix_path("jail"), ["exec"]), ["denied"])
        st = os.stat(inst.unix_path("jail"))
        self.assertEqual((st.st_uid, st.st_gid), (owner.pw_uid, owner.pw_gid))
        pid = int(converse(inst.unix_path("free"), ["pid"])[0])
        self.assertEqual(os.readlink(f"/proc/{pid}/root"), "/")
        status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
        self.assertEqual(status["Uid"].split()[0], "0")
        # queue directory owners and modes as the reference sets them
        for sub, mode in (("maildrop", 0o730), ("public", 0o710), ("private", 0o700),
                          ("pid", 0o755)):
            self.assertEqual(os.stat(os.path.join(inst.queue, sub)).st_mode & 0o7777, mode, sub)
        self.assertEqual(os.stat(os.path.join(inst.queue, "public")).st_gid,
                         __import__("grp").getgrnam("postdrop").gr_gid)
        self.assertTrue(os.path.exists(os.path.join(inst.queue, "etc", "services")))

    def test_a_link_planted_as_master_lock_is_refused(self):
        # data_directory is mail_owner's: a link there must not make root truncate its target
        inst = self.make("echo unix - y y - 1 echo-service\n")
        victim = os.path.join(inst.dir, "victim")
        with open(victim, "w") as fp:
            fp.write("precious\n")
        data = os.path.join(inst.dir, "data")
        os.makedirs(data, exist_ok=True)
        os.symlink(victim, os.path.join(data, "master.lock"))
        res = inst.postfix("start")
        self.assertNotEqual(res.rc, 0)
        self.assertIn("master.lock", res.err + inst.log())
        self.assertEqual(open(victim).read(), "precious\n")
        # nor a file that mail_owner made there
        os.unlink(os.path.join(data, "master.lock"))
        with open(os.path.join(data, "master.lock"), "w"):
            pass
        owner = pwd.getpwnam("postfix")
        os.chown(os.path.join(data, "master.lock"), owner.pw_uid, owner.pw_gid)
        res = inst.postfix("start")
        self.assertNotEqual(res.rc, 0)
        self.assertIn(f"owned by uid {owner.pw_uid}", res.err + inst.log())
        os.unlink(os.path.join(data, "master.lock"))
        inst.start()

    def test_without_root(self):
        nobody = pwd.getpwnam("nobody")
        inst = self.make("echo unix - y y - 1 echo-service\n",
                         f"mail_owner = nobody\n")
        for root, dirs, files in os.walk(inst.dir):
            for name in dirs + files:
                os.chown(os.path.join(root, name), nobody.pw_uid, nobody.pw_gid)
        os.chown(inst.dir, nobody.pw_uid, nobody.pw_gid)
        import subprocess
        from harness import program
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
        res = subprocess.run(["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                              "--clear-groups", program("postfix"), "-c", inst.etc, "start"],
                             capture_output=True, text=True, env=env, timeout=30)
        self.assertEqual(res.returncode, 0, res)
        pid = int(converse(inst.unix_path("echo"), ["pid"])[0])
        status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
        self.assertEqual(status["Uid"].split()[0], str(nobody.pw_uid))
        self.assertEqual(os.readlink(f"/proc/{pid}/root"), "/")
        self.assertEqual(inst.log().count("not as root"), 1)


class ServerKinds(MasterTest):
    def test_multi_server_serves_many_clients_in_one_process(self):
        inst = self.make("multi unix - - n - 1 echo-service multi\n")
        inst.start()
        conns = []
        for _ in range(5):
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(10)
            s.connect(inst.unix_path("multi"))
            s.sendall(b"pid\n")
            conns.append((s, s.makefile()))
        pids = {int(f.readline()) for s, f in conns}
        self.assertEqual(len(pids), 1)  # one process, five clients at once
        for s, f in conns:
            s.sendall(b"param mail_version\nquit\n")
            self.assertEqual(f.readline().strip(), "3.7.11")
            s.close()
        self.assertEqual(len(inst.processes("echo-service")), 1)

    def test_retiring_multi_server_hands_over(self):
        # max_use = 1 and a client that never leaves: the process retires at once, tells
        # master, and closes the idle kept connection; the next client gets a new process
        inst = self.make("multi unix - - n - - echo-service -o max_use=1 multi\n")
        inst.start()
        kept = socket.socket(socket.AF_UNIX)
        kept.settimeout(10)
        kept.connect(inst.unix_path("multi"))
        kept.sendall(b"pid\n")
        kept_file = kept.makefile()
        first = int(kept_file.readline())
        started = time.monotonic()
        second = int(converse(inst.unix_path("multi"), ["pid"], timeout=5)[0])
        self.assertLess(time.monotonic() - started, 1.0)
        self.assertNotEqual(first, second)
        self.assertEqual(kept_file.readline(), "")  # closed between two requests
        kept.close()
        self.assertTrue(poll(lambda: first not in inst.processes("echo-service")))

    def test_fifo_and_unix_triggers(self):
        inst = self.make("tfifo fifo - - n 1 1 echo-service -o syslog_name=postfix/tfifo "
                         "trigger\n"
                         "tsock unix - - n - 1 echo-service trigger\n")
        inst.start()
        self.assertTrue(poll(lambda: "postfix/tfifo/echo-service" in inst.log() and
                             "trigger: W" in inst.log(), timeout=5))
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(inst.unix_path("tsock"))
            s.sendall(b"I")
        self.assertTrue(poll(lambda: "trigger: I" in inst.log()))
        fd = os.open(inst.unix_path("tfifo"), os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, b"D")
        os.close(fd)
        self.assertTrue(poll(lambda: "trigger: D" in inst.log()))

    def test_bare_port_listens_on_inet_interfaces(self):
        port = free_port()
        inst = self.make(f"{port} inet n - n - 2 echo-service\n",
                         "inet_interfaces = 127.0.0.1\n")
        inst.start()
        self.assertTrue(converse(("127.0.0.1", port), ["pid"])[0].isdigit())
        self.assertTrue(os.path.exists(os.path.join(inst.queue, "pid", f"inet.{port}")))


class Foreground(MasterTest):
    def test_start_fg_stays_in_the_foreground(self):
        import subprocess
        from harness import program
        inst = self.make("echo unix - - n - 1 echo-service\n")
        env = dict(os.environ, **inst.sanitizer_env())
        proc = subprocess.Popen([program("postfix"), "-c", inst.etc, "start-fg"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            self.assertTrue(poll(lambda: inst.postfix("status").rc == 0))
            self.assertEqual(inst.master_pid(), proc.pid)  # postfix became master
            self.assertTrue(converse(inst.unix_path("echo"), ["pid"])[0].isdigit())
            self.assertEqual(inst.postfix("stop").rc, 0)
            self.assertEqual(proc.wait(timeout=10), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def test_check_and_set_permissions(self):
        inst = self.make("echo unix - - n - 1 echo-service\n")
        self.assertEqual(inst.postfix("check").rc, 0)
        incoming = os.path.join(inst.queue, "incoming")
        os.chmod(incoming, 0o777)
        res = inst.postfix("check")
        self.assertEqual(res.rc, 0)
        self.assertIn(f"{incoming}: owner", res.err)
        self.assertIn("mode 0777", res.err)
        self.assertEqual(inst.postfix("set-permissions").rc, 0)
        self.assertEqual(os.stat(incoming).st_mode & 0o7777, 0o700)
        self.assertNotIn("incoming", inst.postfix("check").err)
        os.unlink(os.path.join(inst.etc, "master.cf"))
        res = inst.postfix("check")
        self.assertEqual(res.rc, 1)
        self.assertIn("master.cf", res.err)
