#!/usr/bin/env python3
"""A real HTTP(S) server for tests that takes uploaded files: PUT /<path>/<name>
stores the body as <dir>/<name>; POST stores it under the X-Gridlet-File
header's name. Each request that stored a file is appended to --journal as
"<METHOD> <name> <Idempotency-Key> <Content-Type>". As the export docs ask of
a receiver, a request whose Idempotency-Key was stored before (read back from
the journal after a restart) is answered 200 and not stored again; the
journal says "REPEAT". --tls-cert/--tls-key serve HTTPS;
--login USER:PASS requires HTTP basic authentication (401 otherwise).

    python3 tests/support/upload_sink.py --port 8080 --dir /tmp/in
"""
import argparse
import base64
import http.server
import os
import ssl
import sys
import threading


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--journal")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--login")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    seen = set()
    if a.journal and os.path.exists(a.journal):
        with open(a.journal) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[0] != "REPEAT" and parts[2] != "-":
                    seen.add(parts[2])
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def store(self, name):
            if a.login:
                want = "Basic " + base64.b64encode(a.login.encode()).decode()
                if self.headers.get("Authorization") != want:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="sink"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if not name or "/" in name or name.startswith("."):
                self.send_response(400)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            key = self.headers.get("Idempotency-Key", "-")
            with lock:
                repeat = key != "-" and key in seen
                if not repeat:
                    path = os.path.join(a.dir, name)
                    with open(path + ".tmp", "wb") as f:
                        f.write(body)
                    os.rename(path + ".tmp", path)
                    if key != "-":
                        seen.add(key)
                if a.journal:
                    with open(a.journal, "a") as f:
                        f.write("%s %s %s %s\n" % ("REPEAT" if repeat else self.command, name, key,
                                                  self.headers.get("Content-Type", "-").split(";")[0]))
            self.send_response(200 if repeat else 201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_PUT(self):
            from urllib.parse import unquote
            self.store(unquote(self.path.rsplit("/", 1)[-1]))

        def do_POST(self):
            self.store(self.headers.get("X-Gridlet-File", ""))

    server = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("upload sink on %d" % a.port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
