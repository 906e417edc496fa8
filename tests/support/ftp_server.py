#!/usr/bin/env python3
"""A real FTP server for tests (pyftpdlib): one user with a folder.
--tls-cert/--tls-key offer AUTH TLS (explicit FTPS) and require it for the
login and the data; with --implicit the connection is TLS from its first
byte (implicit FTPS). Every successful rename is appended to --journal as
"RNTO <name>" (how a test counts the files that arrived), every stored file
as "STOR <name>".

    python3 tests/support/ftp_server.py --port 2121 --dir /tmp/ftp --login gw:pw
"""
import argparse
import logging
import os
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


def journaled(base, journal):
    class Handler(base):
        def ftp_RNTO(self, path):
            done = super().ftp_RNTO(path)
            if done and journal:
                with open(journal, "a") as f:
                    f.write("RNTO %s\n" % os.path.basename(done[1]))
            return done

        def on_file_received(self, file):
            if journal:
                with open(journal, "a") as f:
                    f.write("STOR %s\n" % os.path.basename(file))

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--login", required=True)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--implicit", action="store_true")
    ap.add_argument("--journal")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    user, password = a.login.split(":", 1)
    auth = DummyAuthorizer()
    auth.add_user(user, password, a.dir, perm="elradfmwMT")
    base = FTPHandler
    if a.tls_cert:
        from pyftpdlib.handlers import TLS_DTPHandler, TLS_FTPHandler

        class EarlyTlsData(TLS_DTPHandler):
            # curl starts TLS on a data connection as soon as it connects,
            # before its STOR; pyftpdlib 1.5.7 closes a data connection that
            # is readable before a transfer: let the handshake through.
            def readable(self):
                if self._ssl_accepting or self._ssl_want_read:
                    return True
                return super().readable()

        class Tls(TLS_FTPHandler):
            dtp_handler = EarlyTlsData
            certfile = a.tls_cert
            keyfile = a.tls_key
            tls_control_required = True
            tls_data_required = True

            def handle(self):
                if a.implicit:  # TLS before the banner
                    self.secure_connection(self.ssl_context)
                super().handle()

        base = Tls
    handler = journaled(base, a.journal)
    handler.authorizer = auth
    handler.passive_ports = None
    logging.basicConfig(level=getattr(logging, os.environ.get("FTP_LOG", "WARNING")))
    server = FTPServer(("127.0.0.1", a.port), handler)
    print("ftp server on %d" % a.port, flush=True)
    server.serve_forever(handle_exit=True)


if __name__ == "__main__":
    sys.exit(main())
