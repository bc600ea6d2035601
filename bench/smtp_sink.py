#!/usr/bin/env python
"""An SMTP server that prints when each email arrived: one line `<unix time> <recipient>`
per recipient of each message (a duplicate prints again), after a first line `port <n>`.

    python bench/smtp_sink.py PORT [--aiosmtpd]

It runs in a process of its own (bench/engine.py starts it) so that the load generator's
threads and this server's event loop do not take turns on one interpreter lock: in one
process, every SMTP reply could wait for the posting threads' switch interval (5 ms), which
the measured latency would count as the engine's.

By default it is a small asyncio server that speaks only what a client sending mail needs
(EHLO/HELO, MAIL, RCPT, DATA with the dot terminator, RSET, NOOP, QUIT; commands may come
pipelined, RFC 2920, as every high-volume mail server allows) and parses nothing else:
it shares the engine's two cores, so its own CPU is taken from the engine's, and aiosmtpd
costs about four times as much per message. `--aiosmtpd` runs aiosmtpd instead.
The time recorded is when the message's final dot arrived, before the 250 reply.
"""

import asyncio
import sys
import time


class Recorder:
    def arrived(self, recipients: list[str]) -> None:
        now = time.time()
        sys.stdout.write("".join(f"{now:.6f} {rcpt}\n" for rcpt in recipients))
        sys.stdout.flush()


class SmtpSession(asyncio.Protocol):
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.buffer = b""
        self.in_data = False
        self.searched = 0  # how far the buffer was searched for the data's end
        self.recipients: list[str] = []

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.buffer:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n", max(0, self.searched - 4))
                if end < 0:
                    self.searched = len(self.buffer)
                    return
                self.buffer = self.buffer[end + 5 :]
                self.in_data, self.searched = False, 0
                self.recorder.arrived(self.recipients)
                self.recipients = []
                self.transport.write(b"250 OK\r\n")
                continue
            line, found, rest = self.buffer.partition(b"\r\n")
            if not found:
                return
            self.buffer = rest
            self.command(line)

    def command(self, line: bytes) -> None:
        verb = line[:4].upper()
        if verb in (b"EHLO", b"HELO"):
            self.transport.write(
                b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
                if verb == b"EHLO"
                else b"250 sink\r\n"
            )
        elif verb == b"MAIL":
            self.recipients = []
            self.transport.write(b"250 OK\r\n")
        elif verb == b"RCPT":
            address = line.split(b":", 1)[1].strip().split(b" ", 1)[0].strip(b"<>")
            self.recipients.append(address.decode())
            self.transport.write(b"250 OK\r\n")
        elif verb == b"DATA":
            # The end may be the data's very first line: search from before its CRLF.
            self.in_data, self.searched = True, 0
            self.buffer = b"\r\n" + self.buffer
            self.transport.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
        elif verb in (b"RSET", b"NOOP"):
            if verb == b"RSET":
                self.recipients = []
            self.transport.write(b"250 OK\r\n")
        elif verb == b"QUIT":
            self.transport.write(b"221 Bye\r\n")
            self.transport.close()
        else:
            self.transport.write(b"502 Command not implemented\r\n")


async def serve(port: int) -> None:
    recorder = Recorder()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SmtpSession(recorder), "127.0.0.1", port)
    print(f"port {port}", flush=True)
    # Until the parent closes our stdin or goes away.
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


def serve_with_aiosmtpd(port: int) -> None:
    from aiosmtpd.controller import Controller

    recorder = Recorder()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            recorder.arrived(list(envelope.rcpt_tos))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"port {controller.port}", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


def main() -> None:
    port = int(sys.argv[1])
    if "--aiosmtpd" in sys.argv[2:]:
        serve_with_aiosmtpd(port)
    else:
        asyncio.run(serve(port))


if __name__ == "__main__":
    main()
