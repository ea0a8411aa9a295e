"""A small SMTP server for tests, on loopback: it records what it receives and answers as
told (per-recipient replies, a final reply). With require_pipelining it answers MAIL and RCPT
only once DATA has arrived, so a client that waits for each reply (no RFC 2920 pipelining)
stalls. With lmtp it speaks LMTP (LHLO, one reply per recipient after the data), on a UNIX
socket when given a path. With tls (an ssl.SSLContext) it offers STARTTLS; with auth (logins
and passwords) AUTH PLAIN and LOGIN. misbehave makes it a broken server (see session()).
Written for these tests only."""
import base64
import os
import socket
import threading


class Sink:
    def __init__(self, rcpt_replies=None, data_reply="250 2.0.0 Ok: queued as SINK1",
                 host="127.0.0.1", port=0, require_pipelining=False, lmtp=False, unix_path=None,
                 extensions=(), data_replies=None, misbehave=None, name="sink.example",
                 tls=None, auth=None, wrapper=False):
        self.rcpt_replies = rcpt_replies or {}
        self.lmtp = lmtp
        self.extensions = list(extensions)
        self.data_replies = data_replies or {}  # LMTP: the reply after the data, per recipient
        self.misbehave = misbehave
        self.name = name  # the host name in the EHLO reply
        self.tls = tls  # an ssl.SSLContext: STARTTLS is offered and done with it
        self.encrypted = []  # per message: did it arrive inside TLS?
        self.resumed = []  # per STARTTLS: did the client resume an earlier session?
        self.client_certs = []  # per STARTTLS: the subject CN of the client's certificate
        self.auth = auth  # {login: password}: AUTH PLAIN and LOGIN are offered and checked
        self.logins = []  # the logins that succeeded
        self.wrapper = wrapper  # TLS from the first byte (port 465), with tls
        self.commands = []  # every command line received
        self.conns = []  # open sessions, dropped by close() as a server going down would
        self.sessions = 0
        self.require_pipelining = require_pipelining
        self.data_reply = data_reply
        self.messages = []  # (mail_from, [rcpts], data)
        self.helos = []  # the EHLO/HELO argument of each session
        self.peers = []  # the client address of each session
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.bind(unix_path)
            os.chmod(unix_path, 0o666)
            self.port = None
        else:
            self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((host, port))
            self.port = self.sock.getsockname()[1]
        self.sock.listen(16)
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def close(self):
        self.running = False
        for conn in self.conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)

    def serve(self):
        while self.running:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.peers.append(peer[0] if isinstance(peer, tuple) else peer)
            self.sessions += 1
            self.conns.append(conn)
            threading.Thread(target=self.session, args=(conn,), daemon=True).start()

    def session(self, conn):
        """misbehave: "bytewise" sends every reply one byte per write (legal); "one-byte-lines"
        greets with lines of one byte; "long-lines" sends 100 KB reply lines (legal, if rude);
        "no-final-line" greets with continuation lines and never ends the reply;
        "greeting-554" refuses every session in its greeting;
        "close-mid-data" drops the connection in the middle of the message;
        "starttls-inject" sends a plaintext reply right behind its 220 to STARTTLS."""
        conn.settimeout(30)
        if self.wrapper:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except OSError:
                conn.close()
                return
        f = conn.makefile("rb")
        bad = self.misbehave
        io = {"conn": conn, "tls": self.wrapper}  # STARTTLS replaces the connection

        def say(text):
            data = text.encode() + b"\r\n"
            if bad == "bytewise":
                for i in range(len(data)):
                    io["conn"].sendall(data[i:i + 1])
            else:
                io["conn"].sendall(data)

        if bad == "one-byte-lines":
            conn.sendall(b"2\r\n2\r\n0\r\n")
        elif bad == "no-final-line":
            conn.sendall(b"220-sink.example\r\n220-still greeting\r\n")
        elif bad == "long-lines":
            say("220-" + "x" * 100000 + "\r\n220 sink.example ESMTP")
        elif bad == "greeting-554":
            say("554 5.7.1 sink.example: no mail from you")
        else:
            say("220 sink.example ESMTP")
        mail, rcpts, held = None, [], []

        def answer(text):
            if self.require_pipelining:
                held.append(text)
            else:
                say(text)

        try:
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line.decode().strip()
                self.commands.append(cmd)
                up = cmd.upper()
                if up.startswith("EHLO") or up.startswith("HELO") or up.startswith("LHLO"):
                    self.helos.append(cmd[5:].strip())
                if up.startswith("LHLO" if self.lmtp else "EHLO"):
                    keywords = ["PIPELINING", "SIZE 1000000"] + self.extensions
                    if self.tls and not io["tls"]:
                        keywords.append("STARTTLS")
                    if self.auth:
                        keywords.append("AUTH PLAIN LOGIN")
                    if bad == "long-lines":
                        keywords.insert(0, "X-" + "y" * 100000)
                    say("\r\n".join(f"250-{k}" for k in [self.name] + keywords[:-1]) +
                        f"\r\n250 {keywords[-1]}")
                elif up.startswith("MAIL FROM:"):
                    mail, rcpts = cmd[10:].strip().split()[0].strip("<>") if cmd[10:].strip() else "", []
                    answer("250 2.1.0 Ok")
                elif up.startswith("RCPT TO:"):
                    addr = cmd[8:].strip().split()[0].strip("<>")
                    reply = self.rcpt_replies.get(addr, "250 2.1.5 Ok")
                    if reply.startswith("2"):
                        rcpts.append(addr)
                    answer(reply)
                elif up == "DATA":
                    for text in held:
                        say(text)
                    held.clear()
                    if not rcpts:
                        say("554 5.5.1 Error: no valid recipients")
                        continue
                    say("354 go ahead")
                    data = b""
                    while True:
                        l = f.readline()
                        if l == b"":
                            return  # the client went away: no message, as a server does
                        if l == b".\r\n":
                            break
                        data += l[1:] if l.startswith(b"..") else l
                        if bad == "close-mid-data" and len(data) > 10:
                            return
                    if self.lmtp:
                        taken = [r for r in rcpts if
                                 self.data_replies.get(r, "250").startswith("2")]
                        if taken:
                            self.messages.append((mail, taken, data))
                        for r in rcpts:
                            say(self.data_replies.get(r, f"250 2.0.0 <{r}> delivered"))
                        continue
                    if self.data_reply.startswith("2"):
                        self.messages.append((mail, rcpts, data))
                        self.encrypted.append(io["tls"])
                    say(self.data_reply if bad != "long-lines" else
                        self.data_reply + " " + "z" * 100000)
                elif up == "STARTTLS" and self.tls and not io["tls"]:
                    # "starttls-inject": a plaintext reply in the same packet as the 220, as a
                    # man in the middle would add it; it must never count once TLS is on
                    say("220 2.0.0 Ready to start TLS" +
                        ("\r\n554 5.7.1 injected refusal" if bad == "starttls-inject" else ""))
                    io["conn"] = self.tls.wrap_socket(conn, server_side=True)
                    io["tls"] = True
                    self.resumed.append(io["conn"].session_reused)
                    peer = io["conn"].getpeercert() or {}
                    self.client_certs.append(dict(x[0] for x in peer.get("subject", ()))
                                             .get("commonName"))
                    f = io["conn"].makefile("rb")
                    mail, rcpts = None, []
                elif up.startswith("AUTH ") and self.auth:
                    parts = cmd.split()
                    mech, user, password = parts[1].upper(), None, None

                    def ask(challenge):
                        say("334 " + challenge)
                        return f.readline().decode().strip()

                    try:
                        if mech == "PLAIN":
                            answer_ = parts[2] if len(parts) > 2 else ask("")
                            _, user, password = base64.b64decode(answer_).decode().split("\0")
                        elif mech == "LOGIN":
                            user = base64.b64decode(ask("VXNlcm5hbWU6")).decode()
                            password = base64.b64decode(ask("UGFzc3dvcmQ6")).decode()
                        else:
                            say("504 5.5.4 Unrecognized authentication type")
                            continue
                    except ValueError:
                        say("501 5.5.2 Cannot decode response")
                        continue
                    if self.auth.get(user) == password:
                        self.logins.append(user)
                        say("235 2.7.0 Authentication successful")
                    else:
                        say("535 5.7.8 Error: authentication failed: bad password")
                elif up in ("RSET", "NOOP"):
                    mail, rcpts = None, []
                    say("250 2.0.0 Ok")
                elif up == "QUIT":
                    say("221 bye")
                    return
                else:
                    say("502 5.5.2 unknown")
        except OSError:
            return
        finally:
            io["conn"].close()
