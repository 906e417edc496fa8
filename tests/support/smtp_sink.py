#!/usr/bin/env python3
"""A real SMTP server for tests (aiosmtpd): each message received is written
to <dir>/<n>.eml (the DATA as received, envelope sender and recipients in
X-Envelope-* headers added first). --fail-first N refuses the first N
messages with 451 (a server that is busy for a while). --tls-cert and
--tls-key (PEM) offer STARTTLS and require it before MAIL; --login USER:PASS
requires AUTH (PLAIN/LOGIN) with that user.

    python3 tests/support/smtp_sink.py --port 2525 --dir /tmp/mails
"""
import argparse
import asyncio
import os
import signal

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, folder, fail_first):
        self.folder = folder
        # A sink started again on the same folder goes on numbering after the
        # highest number there (never overwriting a mail).
        numbers = [int(n[:-4]) for n in os.listdir(folder) if n.endswith(".eml") and n[:-4].isdigit()]
        self.count = max(numbers, default=0)
        self.fail_left = fail_first

    async def handle_DATA(self, server, session, envelope):
        if self.fail_left > 0:
            self.fail_left -= 1
            return "451 busy, try again later"
        self.count += 1
        path = os.path.join(self.folder, "%04d.eml" % self.count)
        head = "X-Envelope-From: %s\r\nX-Envelope-To: %s\r\n" % (envelope.mail_from, ", ".join(envelope.rcpt_tos))
        data = envelope.original_content or envelope.content
        with open(path + ".tmp", "wb") as f:
            f.write(head.encode() + data)
        os.rename(path + ".tmp", path)
        return "250 OK"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--login")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    kwargs = {}
    if a.tls_cert:
        import ssl
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        kwargs.update(tls_context=ctx, require_starttls=True)
    if a.login:
        from aiosmtpd.smtp import AuthResult, LoginPassword
        user, password = a.login.split(":", 1)

        def authenticator(server, session, envelope, mechanism, data):
            ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password
            # handled=False: aiosmtpd answers a refusal with 535 itself (with
            # its default, handled=True, it would answer nothing).
            return AuthResult(success=ok, handled=False)

        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=bool(a.tls_cert))
    c = Controller(Sink(a.dir, a.fail_first), hostname="127.0.0.1", port=a.port, **kwargs)
    c.start()
    print("smtp sink on 127.0.0.1:%d" % a.port, flush=True)
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    for s in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(s, stop.set)
    loop.run_until_complete(stop.wait())
    c.stop()


if __name__ == "__main__":
    main()
