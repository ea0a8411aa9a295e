"""Side by side with Postfix: when Debian's postfix package is installed, the same SMTP
dialogues go to a private Postfix instance and to a private Postern instance with the same
main.cf settings, and their replies and log lines are compared after the parts that must
differ (queue IDs, process IDs, times, the product name) are normalised. Skipped, never
failed, when Postfix is absent. Only /usr/sbin/postfix is used from the package, with its
own daemon directory; Postern's programs are called by path."""
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

from instance import Instance, free_port, poll

POSTFIX = "/usr/sbin/postfix"
POSTFIX_DAEMONS = "/usr/lib/postfix/sbin"

MAIN = ("myhostname = mx.example.org\nmydomain = example.org\nmyorigin = example.org\n"
        "mydestination = localhost\nalias_maps =\nalias_database =\nlocal_recipient_maps =\n"
        "mynetworks = 192.0.2.0/24\nsmtpd_tls_security_level = none\n"
        "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n"
        "virtual_mailbox_domains = example.org\nvirtual_transport = discard\n"
        "virtual_mailbox_maps = inline:{ info@example.org=x }\n"
        "smtpd_banner = $myhostname ESMTP\ncompatibility_level = 3.6\n"
        "smtpd_client_connection_count_limit = 0\n")

MASTER = ("{port} inet n - n - - smtpd\n"
          "cleanup unix n - n - 0 cleanup\n"
          "qmgr unix n - n 300 1 qmgr\n"
          "rewrite unix - - n - - trivial-rewrite\n"
          "bounce unix - - n - 0 bounce\n"
          "defer unix - - n - 0 bounce\n"
          "trace unix - - n - 0 bounce\n"
          "discard unix - - n - - discard\n"
          "postlog unix-dgram n - n - 1 postlogd\n")

# Each dialogue: the commands, sent one at a time after the greeting.
DIALOGUES = [
    ["EHLO client.example", "MAIL FROM:<a@example.net>", "RCPT TO:<nobody@example.org>",
     "RCPT TO:<victim@elsewhere.example>", "DATA", "RSET", "DATA", "NOOP", "FOO",
     "MAIL FROM:<a@example.net> SIZE=x", "RCPT TO:<info@example.org>", "QUIT"],
    ["HELO client.example", "RCPT TO:<info@example.org>", "MAIL FROM:<a@example.net>",
     "MAIL FROM:<b@example.net>", "RCPT TO:<info@example.org>", "DATA",
     "Subject: compare\r\nMessage-ID: <compare@example.net>\r\n\r\nbody\r\n.", "QUIT"],
]


def normalise_reply(line):
    line = re.sub(r"queued as \w+", "queued as QID", line)
    return line


def normalise_log(line):
    """The event of a log line: program and text, with IDs and times taken out."""
    m = re.match(r"^\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ (\S+)\[\d+\]: (.*)$", line)
    if not m:
        return None
    program, text = m.groups()
    text = re.sub(r"^[0-9A-Za-z]{10,}: ", "QID: ", text)
    text = re.sub(r"delay=[\d.]+, delays=[\d./]+", "delay=D, delays=D", text)
    text = re.sub(r"size=\d+", "size=N", text)
    return f"{program}: {text}"


def dialogue(port, commands):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    f = s.makefile("rb")
    replies = []

    def read():
        lines = []
        while True:
            line = f.readline().decode(errors="replace").rstrip("\r\n")
            lines.append(line)
            if line[3:4] != "-":
                return lines

    read()
    for command in commands:
        s.sendall(command.encode() + b"\r\n")
        replies.append((command.split("\r\n")[0], [normalise_reply(r) for r in read()]))
    s.close()
    return replies


@unittest.skipUnless(os.getuid() == 0 and os.path.exists(POSTFIX) and
                     os.path.isdir(POSTFIX_DAEMONS), "needs root and Debian's postfix package")
class CompareWithPostfix(unittest.TestCase):
    maxDiff = None

    def start_postfix(self):
        top = tempfile.mkdtemp(prefix="postfix-ref-")
        os.chmod(top, 0o755)
        self.addCleanup(shutil.rmtree, top, True)
        etc, spool, data = (os.path.join(top, d) for d in ("etc", "spool", "data"))
        for d in (etc, spool, data):
            os.mkdir(d)
        os.chown(data, pwd.getpwnam("postfix").pw_uid, -1)
        log = os.path.join(top, "maillog")
        port = free_port()
        with open(os.path.join(etc, "main.cf"), "w") as fp:
            fp.write(MAIN + f"queue_directory = {spool}\ndata_directory = {data}\n"
                     f"daemon_directory = {POSTFIX_DAEMONS}\nmaillog_file = {log}\n"
                     f"maillog_file_prefixes = {top}\ninet_interfaces = 127.0.0.1\n")
        with open(os.path.join(etc, "master.cf"), "w") as fp:
            fp.write(MASTER.format(port=f"127.0.0.1:{port}"))
        res = subprocess.run([POSTFIX, "-c", etc, "start"], capture_output=True, text=True,
                             timeout=60)
        self.addCleanup(subprocess.run, [POSTFIX, "-c", etc, "stop"], capture_output=True,
                        timeout=60)
        self.assertEqual(res.returncode, 0, res.stderr + open(log).read())
        return port, log

    def start_postern(self):
        port = free_port()
        inst = Instance(MASTER.format(port=f"127.0.0.1:{port}"))
        self.addCleanup(inst.cleanup)
        inst.write_main(MAIN)
        inst.start()
        return port, inst

    def test_replies_and_log_lines_match(self):
        ref_port, ref_log = self.start_postfix()
        our_port, inst = self.start_postern()
        for commands in DIALOGUES:
            theirs = dialogue(ref_port, commands)
            ours = dialogue(our_port, commands)
            for (command, want), (_, got) in zip(theirs, ours):
                if command.startswith("EHLO"):
                    # the extension lists differ where a feature is not built (see doc/)
                    want, got = want[:1], got[:1]
                self.assertEqual(got, want, f"reply to {command!r}")
        # wait for both to finish the accepted message
        self.assertTrue(poll(lambda: ": removed" in open(ref_log).read(), timeout=30))
        self.assertTrue(poll(lambda: ": removed" in inst.log(), timeout=30))

        def events(text):
            """Each program's lines in order (programs run side by side: their lines
            interleave differently from run to run)."""
            found = {}
            for line in text.splitlines():
                event = normalise_log(line)
                program = event.split(":")[0] if event else None
                if program in ("postfix/smtpd", "postfix/cleanup", "postfix/qmgr",
                               "postfix/discard"):
                    found.setdefault(program, []).append(event)
            return found

        with open(ref_log) as fp:
            want = events(fp.read())
        got = events(inst.log())
        self.assertEqual(got, want)


if __name__ == "__main__":
    unittest.main()
