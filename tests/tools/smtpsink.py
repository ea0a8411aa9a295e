"""A small SMTP server for tests, on loopback: it records what it receives and answers as
told (per-recipient replies, a final reply). With require_pipelining it answers MAIL and RCPT
only once DATA has arrived, so a client that waits for each reply (no RFC 2920 pipelining)
stalls. Written for these tests only."""
import socket
import threading


class Sink:
    def __init__(self, rcpt_replies=None, data_reply="250 2.0.0 Ok: queued as SINK1",
                 host="127.0.0.1", port=0, require_pipelining=False):
        self.rcpt_replies = rcpt_replies or {}
        self.require_pipelining = require_pipelining
        self.data_reply = data_reply
        self.messages = []  # (mail_from, [rcpts], data)
        self.helos = []  # the EHLO/HELO argument of each session
        self.peers = []  # the client address of each session
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def close(self):
        self.running = False
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
            self.peers.append(peer[0])
            threading.Thread(target=self.session, args=(conn,), daemon=True).start()

    def session(self, conn):
        f = conn.makefile("rb")
        conn.settimeout(30)

        def say(text):
            conn.sendall(text.encode() + b"\r\n")

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
                up = cmd.upper()
                if up.startswith("EHLO") or up.startswith("HELO"):
                    self.helos.append(cmd[5:].strip())
                if up.startswith("EHLO"):
                    say("250-sink.example\r\n250-PIPELINING\r\n250 SIZE 1000000")
                elif up.startswith("MAIL FROM:"):
                    mail, rcpts = cmd[10:].strip().split()[0].strip("<>"), []
                    answer("250 2.1.0 Ok")
                elif up.startswith("RCPT TO:"):
                    addr = cmd[8:].strip().strip("<>")
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
                        if l in (b".\r\n", b""):
                            break
                        data += l[1:] if l.startswith(b"..") else l
                    if self.data_reply.startswith("2"):
                        self.messages.append((mail, rcpts, data))
                    say(self.data_reply)
                elif up == "QUIT":
                    say("221 bye")
                    return
                else:
                    say("502 5.5.2 unknown")
        finally:
            conn.close()
