#!/usr/bin/env python3
"""A loopback stand-in for an LLM's chat-completions endpoint, for llm_module_test.cc.

Usage: stand_in.py LOG_FILE
Binds 127.0.0.1 on a free port and prints the port on stdout. Every POST is appended to
LOG_FILE as one JSON line (path, headers, body). The path chooses the answer: /ok answers in
the OpenAI chat-completions format with "Answer N" (N counts /ok requests), the others (see
ANSWERS) send errors or malformed bodies; /slow waits 3 s before answering.
"""
import http.server
import json
import sys
import time

ERR = {"error": {"message": "model 'x' not found", "type": "invalid_request_error"}}
ANSWERS = {
    "/500": (500, json.dumps({"error": {"message": "overloaded"}})),
    "/429": (429, json.dumps({"error": {"message": "rate limited"}})),
    "/400": (400, json.dumps(ERR)),
    "/garbage": (200, "<html>oops</html>"),
    "/nochoices": (200, json.dumps({"id": "c", "object": "chat.completion", "choices": []})),
}
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(json.dumps({"path": self.path, "headers": dict(self.headers.items()),
                                  "body": body.decode("utf-8")}) + "\n")
        if self.path == "/slow":
            time.sleep(3)
        if self.path in ("/ok", "/slow"):
            count += 1
            status, text = 200, json.dumps({
                "id": "chatcmpl-1", "object": "chat.completion", "model": "m",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "Answer %d" % count}}]})
        else:
            status, text = ANSWERS.get(self.path, (404, "unknown"))
        data = text.encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (time-out case)

    def log_message(self, *args):
        pass


LOG = sys.argv[1]
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
sys.stdout.write("%d\n" % server.server_address[1])
sys.stdout.flush()
sys.stdout = open("/dev/null", "w", encoding="utf-8")
server.serve_forever()
