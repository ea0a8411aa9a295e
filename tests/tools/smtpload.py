"""SMTP load for soak tests: many parallel sessions, one message each, as smtp-source sends
them, but with every message numbered and every reply and banner wait recorded, so that a
test can check that each accepted message arrived exactly once."""
import asyncio
import time


class Load:
    """Sends count messages over sessions parallel connections to (host, port). rcpt(n) names
    the recipient of message n, and is asked when its session starts."""

    def __init__(self, host, port, count, sessions, rcpt, sender="load@soak.example",
                 size=2048, timeout=30):
        self.host, self.port = host, port
        self.count, self.sessions = count, sessions
        self.rcpt, self.sender, self.timeout = rcpt, sender, timeout
        self.filler = ("x" * 70 + "\r\n") * max(1, size // 72)
        self.accepted = {}  # n -> recipient, for messages that got 250 after DATA
        self.refused = []   # (n, reply) for any other final reply
        self.banner_waits = []
        self.session_times = []
        self.next = 0

    async def reply(self, reader):
        lines = []
        while True:
            line = await asyncio.wait_for(reader.readline(), self.timeout)
            if not line:
                raise ConnectionError("connection closed")
            lines.append(line.decode(errors="replace").rstrip("\r\n"))
            if len(line) < 4 or line[3:4] != b"-":
                return lines[-1]

    async def one(self, n):
        rcpt = self.rcpt(n)
        started = time.monotonic()
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), self.timeout)
        # the timeout bounds each reply; a stalled server ends the session as refused
        try:
            banner = await self.reply(reader)
            self.banner_waits.append(time.monotonic() - started)
            steps = [("EHLO load.example", "250"), (f"MAIL FROM:<{self.sender}>", "250"),
                     (f"RCPT TO:<{rcpt}>", "250"), ("DATA", "354")]
            if not banner.startswith("220"):
                self.refused.append((n, banner))
                return
            for command, want in steps:
                writer.write(command.encode() + b"\r\n")
                answer = await self.reply(reader)
                if not answer.startswith(want):
                    self.refused.append((n, f"{command}: {answer}"))
                    return
            writer.write((f"From: <{self.sender}>\r\nTo: <{rcpt}>\r\nSubject: soak {n}\r\n"
                          f"X-Soak: {n}\r\n\r\n{self.filler}.\r\n").encode())
            answer = await self.reply(reader)
            if answer.startswith("250"):
                self.accepted[n] = rcpt
            else:
                self.refused.append((n, f"end of data: {answer}"))
            writer.write(b"QUIT\r\n")
            await writer.drain()
            self.session_times.append(time.monotonic() - started)
        finally:
            writer.close()

    async def worker(self):
        # a load that keeps failing ends early: the test fails on what it recorded
        while self.next < self.count and len(self.refused) < 100:
            n = self.next
            self.next += 1
            try:
                await self.one(n)
            except (OSError, asyncio.TimeoutError, ConnectionError) as e:
                self.refused.append((n, f"session failed: {e!r}"))

    async def run_async(self):
        await asyncio.gather(*(self.worker() for _ in range(self.sessions)))

    def run(self):
        asyncio.run(self.run_async())
        return self
