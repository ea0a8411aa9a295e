"""Settings Postern does not implement, on a running instance: one test per class of refusal.
An ignored setting is a warning and mail flows; a setting whose absence would lose mail or
weaken security keeps the service that would read it from starting (master logs why), the
client keeps its mail, and a reload without the setting brings the service back; the same
for a -o override; a bad value stops the start with the file and line."""
import os
import pwd
import smtplib
import socket
import unittest

from instance import Instance, free_port, poll


def services(port, extra=""):
    return (f"127.0.0.1:{port} inet n - y - - smtpd\n"
            "cleanup unix n - y - 0 cleanup\n"
            "qmgr unix n - n 300 1 qmgr\n"
            "rewrite unix - - y - - trivial-rewrite\n"
            "virtual unix - n n - - virtual\n" + extra)


@unittest.skipUnless(os.getuid() == 0, "privileged agents and chroot need root")
class Refusals(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.inst = Instance(services(self.port))
        self.addCleanup(self.inst.cleanup)
        owner = pwd.getpwnam("nobody")
        self.vmail = os.path.join(self.inst.dir, "vmail")
        os.mkdir(self.vmail)
        os.chown(self.vmail, owner.pw_uid, owner.pw_gid)
        self.base = ("myhostname = mail.example.org\nmyorigin = example.org\n"
                     "mydestination = localhost\nalias_maps =\n"
                     "virtual_mailbox_domains = example.org\n"
                     f"virtual_mailbox_base = {self.vmail}\n"
                     "virtual_mailbox_maps = inline:{ info@example.org=example.org/info/ }\n"
                     f"virtual_uid_maps = static:{owner.pw_uid}\n"
                     f"virtual_gid_maps = static:{owner.pw_gid}\n")

    def delivered(self):
        new = os.path.join(self.vmail, "example.org", "info", "new")
        return os.listdir(new) if os.path.isdir(new) else []

    def send(self, port=None):
        client = smtplib.SMTP("127.0.0.1", port or self.port, local_hostname="client.example",
                              timeout=20)
        self.addCleanup(client.close)
        client.ehlo()
        code, _ = client.mail("a@example.com")
        if code == 250:
            code, _ = client.rcpt("info@example.org")
        if code == 250:
            code, _ = client.data(b"Subject: t\r\n\r\nbody\r\n")
        client.quit()
        return code

    def test_an_ignored_setting_is_a_warning_and_mail_flows(self):
        self.inst.write_main(self.base + "smtpd_authorized_xforward_hosts = 127.0.0.1\n"
                             "berkeley_db_read_buffer_size = 262144\n")
        res = self.inst.start()
        self.assertIn("warning: main.cf: parameter smtpd_authorized_xforward_hosts is not "
                      "implemented by Postern; setting ignored\n", res.err)
        self.assertIn("warning: main.cf: parameter berkeley_db_read_buffer_size is not "
                      "implemented by Postern; setting ignored\n", res.err)
        self.assertEqual(self.send(), 250)
        self.assertTrue(poll(self.delivered, timeout=15), self.inst.log())

    def test_a_refused_setting_keeps_its_service_down_until_it_is_gone(self):
        self.inst.write_main(self.base + "non_smtpd_milters = inet:127.0.0.1:8891\n")
        res = self.inst.start()
        self.assertIn("error: main.cf: parameter non_smtpd_milters is not implemented by "
                      "Postern; services that will not start: cleanup (master.cf, line 2)\n",
                      res.err)
        master_cf = os.path.join(self.inst.etc, "master.cf")
        self.assertTrue(poll(lambda: f"error: {master_cf}, line 2: service cleanup is not "
                             "started: main.cf: parameter non_smtpd_milters is not implemented by "
                             "Postern" in self.inst.log()), self.inst.log())
        self.assertFalse(os.path.exists(self.inst.unix_path("cleanup", private=False)))
        # the client is told to come back later, and nothing was accepted
        self.assertEqual(self.send() // 100, 4)
        self.assertEqual(self.delivered(), [])
        # without the setting, a reload starts cleanup, and mail is accepted
        self.inst.write_main(self.base)
        self.assertTrue(self.inst.reload())
        self.assertTrue(poll(lambda: os.path.exists(
            self.inst.unix_path("cleanup", private=False))))
        self.assertEqual(self.send(), 250)
        self.assertTrue(poll(self.delivered, timeout=15), self.inst.log())

    def test_a_refused_override_keeps_only_that_service_down(self):
        submission = free_port()
        self.inst.write_master(services(self.port, f"127.0.0.1:{submission} inet n - y - - "
                                        "smtpd\n  -o smtpd_tls_security_level=encrypt\n"
                                        "  -o smtpd_proxy_filter=127.0.0.1:10026\n"))
        self.inst.write_main(self.base)
        res = self.inst.start()
        # smtpd_tls_security_level=encrypt is carried out; smtpd_proxy_filter is not
        self.assertIn(f"error: master.cf: service 127.0.0.1:{submission}: parameter "
                      "smtpd_proxy_filter is not implemented by Postern; services that will not "
                      f"start: 127.0.0.1:{submission} (master.cf, line 6)\n", res.err)
        self.assertNotIn("smtpd_tls_security_level", res.err)
        master_cf = os.path.join(self.inst.etc, "master.cf")
        self.assertTrue(poll(lambda: f"error: {master_cf}, line 6: service 127.0.0.1:{submission} "
                             f"is not started: master.cf: service 127.0.0.1:{submission}: "
                             "parameter smtpd_proxy_filter is not implemented by Postern\n"
                             in self.inst.log()), self.inst.log())
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", submission), timeout=5).close()
        self.assertEqual(self.send(), 250)  # port 25's smtpd is not affected
        self.assertTrue(poll(self.delivered, timeout=15), self.inst.log())

    def test_an_open_relay_does_not_start(self):
        # neither the relay nor the recipient list can refuse mail: smtpd does not start, as
        # with the reference, and no mail is taken
        self.inst.write_main(self.base + "smtpd_relay_restrictions = permit_mynetworks\n")
        self.assertTrue(self.inst.start())
        with self.assertRaises((smtplib.SMTPServerDisconnected, ConnectionError)):
            smtplib.SMTP("127.0.0.1", self.port, timeout=20).quit()
        self.assertTrue(poll(lambda: "fatal: in parameter smtpd_relay_restrictions or "
                             "smtpd_recipient_restrictions, specify at least one working instance "
                             "of: reject_unauth_destination, defer_unauth_destination, reject, "
                             "defer, defer_if_permit or check_relay_domains" in self.inst.log()),
                        self.inst.log())
        self.inst.write_main(self.base + "smtpd_relay_restrictions = permit_mynetworks, "
                             "reject_unauth_destination\n")
        self.assertTrue(self.inst.reload())
        self.assertTrue(poll(lambda: self.send_or_none() == 250, timeout=30), self.inst.log())

    def send_or_none(self):
        try:
            return self.send()
        except (smtplib.SMTPException, OSError):
            return None

    def test_a_bad_value_stops_the_start_with_file_and_line(self):
        self.inst.write_main(self.base + "smtpd_recipient_limit = lots\n")
        res = self.inst.postfix("start")
        self.assertEqual(res.rc, 1, res)
        main_cf = os.path.join(self.inst.etc, "main.cf")
        lines = open(main_cf).read().splitlines()
        line = lines.index("smtpd_recipient_limit = lots") + 1
        self.assertIn(f"error: {main_cf}, line {line}: bad numerical configuration: "
                      "smtpd_recipient_limit = lots\n", res.err)
        self.assertIsNone(self.inst.master_pid())
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", self.port), timeout=5).close()

    def test_a_bad_override_stops_that_daemon_before_it_serves(self):
        self.inst.write_master(services(self.port).replace(
            "virtual unix - n n - - virtual\n",
            "virtual unix - n n - - virtual -o virtual_minimum_uid=-5\n"))
        self.inst.write_main(self.base)
        self.inst.start()
        self.assertEqual(self.send(), 250)  # accepted: the queue keeps it
        self.assertTrue(poll(lambda: "fatal: -o override: invalid virtual_minimum_uid "
                             "parameter value -5 < 0" in self.inst.log(), timeout=15),
                        self.inst.log())
        self.assertEqual(self.delivered(), [])
