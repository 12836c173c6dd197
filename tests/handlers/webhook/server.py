#!/usr/bin/env python3
"""A loopback HTTP server for webhook_test.cc.

Usage: server.py LOG_FILE SECRET
Binds 127.0.0.1 on a free port and prints the port on stdout. Every POST is appended to
LOG_FILE as one JSON line: path, headers, body, and whether X-Threadmill-Signature matches an
HMAC-SHA256 of the body under SECRET computed here (independently of the handler's OpenSSL
code). The path chooses the answer (see ANSWERS).
"""
import hashlib
import hmac
import http.server
import json
import sys
import time

REPLY = {"action": "reply", "text": "Thanks from the hook", "html": "<p>Thanks</p>",
         "kv_put": {"hook:last": "seen"}}
ANSWERS = {
    "/reply": (200, "application/json", json.dumps(REPLY)),
    "/draft": (200, "application/json; charset=utf-8",
               json.dumps({"action": "draft", "text": "For approval"})),
    "/none": (200, "application/json", '{"action":"none"}'),
    "/empty": (200, "application/json", ""),
    "/nocontent": (204, None, ""),
    "/text": (200, "text/plain", "ok"),
    "/garbage": (200, "application/json", "<html>oops</html>"),
    "/500": (500, "text/plain", "boom"),
    "/503": (503, "text/plain", "busy"),
    "/429": (429, "text/plain", "slow down"),
    "/404": (404, "text/plain", "no such hook"),
    "/302": (302, "text/plain", "moved"),
    "/huge": (200, "application/json", json.dumps({"action": "none", "pad": "x" * 300000})),
    # The bridge's "actions" (handlers/common/bridge_calls.h), for an inbound message...
    "/actions": (200, "application/json", json.dumps({"actions": [
        {"call": "kv_put", "key": "ticket:1", "value": {"state": "open"}},
        {"call": "send", "to": ["ops@example.net"], "subject": "New ticket", "text": "See 1"},
        {"call": "reply", "text": "Ticket 1 is open"},
        {"call": "draft", "text": "Ticket 1: proposed answer"}]})),
    "/bad-action": (200, "application/json",
                    json.dumps({"actions": [{"call": "kv_get", "key": "ticket:1"}]})),
    # ... and for a heartbeat (no current message: send and KV only).
    "/heartbeat": (200, "application/json", json.dumps({"actions": [
        {"call": "send", "to": "news@example.org", "subject": "Digest", "text": "Daily"},
        {"call": "kv_delete", "key": "pending:1"}]})),
}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        given = self.headers.get("X-Threadmill-Signature", "")
        want = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        record = {"path": self.path, "headers": dict(self.headers.items()),
                  "body": body.decode("utf-8"), "signature_ok": hmac.compare_digest(given, want)}
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(json.dumps(record) + "\n")
        if self.path == "/slow":
            time.sleep(3)
            self.send_response(200)
            self.end_headers()
            return
        status, ctype, text = ANSWERS.get(self.path, (404, "text/plain", "unknown"))
        data = text.encode("utf-8")
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        if status == 302:
            self.send_header("Location", "/reply")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


LOG = sys.argv[1]
SECRET = sys.argv[2].encode("utf-8")
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
# One write of the whole line; the test closes its end after reading it.
sys.stdout.write("%d\n" % server.server_address[1])
sys.stdout.flush()
sys.stdout = open("/dev/null", "w", encoding="utf-8")
server.serve_forever()
