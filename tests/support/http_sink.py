#!/usr/bin/env python3
"""A real HTTP server for webhook tests: each POST is written to
<dir>/<n>.json as {"path", "headers", "body"} and answered 200 (or
--status CODE for the first --fail-first requests).

    python3 tests/support/http_sink.py --port 8080 --dir /tmp/posts
"""
import argparse
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--status", type=int, default=503)
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    numbers = [int(n[:-5]) for n in os.listdir(a.dir) if n.endswith(".json") and n[:-5].isdigit()]
    state = {"n": max(numbers, default=0), "fail": a.fail_first}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if state["fail"] > 0:
                state["fail"] -= 1
                self.send_response(a.status)
                self.end_headers()
                return
            state["n"] += 1
            path = os.path.join(a.dir, "%04d.json" % state["n"])
            with open(path + ".tmp", "w") as f:
                json.dump({"path": self.path, "headers": dict(self.headers), "body": body.decode("utf-8")}, f)
            os.rename(path + ".tmp", path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    print("http sink on 127.0.0.1:%d" % a.port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
