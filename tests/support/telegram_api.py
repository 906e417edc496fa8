#!/usr/bin/env python3
"""A local stand-in for the Telegram Bot API (https://core.telegram.org/bots/api),
for tests of gridlet's telegram notifications: getUpdates, sendMessage and
deleteMessage under /bot<token>/, answered as Telegram answers them
({"ok": true, "result": ...} or {"ok": false, "error_code", "description"}).

A test drives it through /test/...:
  POST /test/message {"chat_id", "text", "first_name"}   a person writes to the bot
  GET  /test/sent                                        every message the bot sent
  GET  /test/deleted                                     every message the bot deleted
  POST /test/fail {"count": n, "code": 502, "chat_id"}   the next n sendMessage (to that chat) fail
  POST /test/block {"chat_id"}                           that chat blocked the bot (403)
  POST /test/raw_update {...}                            an update as given (malformed ones too)

    python3 tests/support/telegram_api.py --port 8081 --token 123:abc
"""
import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token", required=True)
    a = ap.parse_args()
    lock = threading.Lock()
    state = {"updates": [], "next_update": 1, "next_message": 100, "sent": [], "deleted": [], "fail": 0,
             "fail_code": 502, "fail_chat": None, "blocked": set(), "requests": 0}

    class Handler(BaseHTTPRequestHandler):
        def reply(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def params(self):
            url = urlparse(self.path)
            p = {k: v[0] for k, v in parse_qs(url.query).items()}
            n = int(self.headers.get("Content-Length", "0"))
            if n:
                raw = self.rfile.read(n)
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    p.update(json.loads(raw))
                else:
                    p.update({k: v[0] for k, v in parse_qs(raw.decode()).items()})
            return url.path, p

        def handle_any(self):
            path, p = self.params()
            with lock:
                state["requests"] += 1
                if path.startswith("/test/"):
                    return self.test(path, p)
                prefix = "/bot" + a.token + "/"
                if not path.startswith(prefix):
                    return self.reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                method = path[len(prefix):]
                if method == "getUpdates":
                    offset = int(p.get("offset", 0))
                    state["updates"] = [u for u in state["updates"] if u["update_id"] >= offset]
                    return self.reply(200, {"ok": True, "result": state["updates"]})
                if method == "sendMessage":
                    chat = int(p["chat_id"])
                    if state["fail"] > 0 and state["fail_chat"] in (None, chat):
                        state["fail"] -= 1
                        return self.reply(state["fail_code"], {"ok": False, "error_code": state["fail_code"],
                                                               "description": "Bad Gateway"})
                    if chat in state["blocked"]:
                        return self.reply(403, {"ok": False, "error_code": 403,
                                                "description": "Forbidden: bot was blocked by the user"})
                    state["next_message"] += 1
                    state["sent"].append({"chat_id": chat, "text": p.get("text", ""),
                                          "message_id": state["next_message"]})
                    return self.reply(200, {"ok": True, "result": {"message_id": state["next_message"],
                                                                   "chat": {"id": chat}, "text": p.get("text", "")}})
                if method == "deleteMessage":
                    state["deleted"].append({"chat_id": int(p["chat_id"]), "message_id": int(p["message_id"])})
                    return self.reply(200, {"ok": True, "result": True})
                return self.reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})

        def test(self, path, p):
            if path == "/test/message":
                state["next_message"] += 1
                chat = int(p["chat_id"])
                update = {"update_id": state["next_update"],
                          "message": {"message_id": state["next_message"], "date": 0, "text": p["text"],
                                      "chat": {"id": chat, "type": "private"},
                                      "from": {"id": chat, "is_bot": False,
                                               "first_name": p.get("first_name", "Tester")}}}
                state["next_update"] += 1
                state["updates"].append(update)
                return self.reply(200, {"ok": True, "update_id": update["update_id"]})
            if path == "/test/raw_update":
                p["update_id"] = state["next_update"]
                state["next_update"] += 1
                state["updates"].append(p)
                return self.reply(200, {"ok": True})
            if path == "/test/sent":
                return self.reply(200, state["sent"])
            if path == "/test/deleted":
                return self.reply(200, state["deleted"])
            if path == "/test/fail":
                state["fail"] = int(p.get("count", 1))
                state["fail_code"] = int(p.get("code", 502))
                state["fail_chat"] = int(p["chat_id"]) if "chat_id" in p else None
                return self.reply(200, {"ok": True})
            if path == "/test/block":
                state["blocked"].add(int(p["chat_id"]))
                return self.reply(200, {"ok": True})
            return self.reply(404, {"error": "unknown test path"})

        do_GET = handle_any
        do_POST = handle_any

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    print("telegram api on 127.0.0.1:%d" % a.port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
