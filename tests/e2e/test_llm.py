#!/usr/bin/env python3
"""End-to-end: the shipped llm handler (handlers/llm) through a real Postfix (tests/e2e/rig).

The model endpoint is a STAND-IN: StandIn below is a loopback HTTP server (Python's
http.server on 127.0.0.1, a free port) that speaks the OpenAI chat-completions format the real
endpoints speak (llama.cpp's llama-server, Ollama, vLLM): it takes POST /v1/chat/completions
with {"model", "messages", ...} and answers {"choices": [{"message": {"role": "assistant",
"content": ...}}]}. It records every request (headers and exact body bytes) so the cases can
assert what the handler sent, and answers by the last user message: a few fixed questions get
fixed answers, "[flaky]" gets one HTTP 500 before succeeding, "[reject]" gets HTTP 400.

AutoSend (auto_send = true): a two-turn conversation; the second request carries the first
turn's user and assistant messages; each answer arrives in Carol's Maildir in-thread
(In-Reply-To, References) with the model's text; a 500 is retried, then answered; a 400 parks
the job; a message whose reply would be refused never reaches the model.
Drafts (the default, auto_send = false): the answer is a draft (threadmillctl drafts list),
nothing is sent.
"""

import email
import http.server
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rigutil  # noqa: E402
from rigutil import OUTSIDE_ADDR, bare, message, token, wait_until  # noqa: E402

HELP = "help@example.com"
CAROL = "carol@example.org"
SYSTEM = "You are the help desk of example.com. Answer briefly."
API_KEY = "sk-standin-%s" % token()
WAIT = 90

ANSWERS = {
    "What is the capital of France?": "Paris.",
    "And of Italy?": "Rome, since 1871.",
}


def missing():
    why = rigutil.missing_prerequisites()
    if why:
        return why
    if not os.path.exists(rigutil.shipped_module("llm")):
        return "handler module llm not built (target llm)"
    return None


class StandIn:
    """A stand-in for an LLM's chat-completions endpoint on loopback (see the module doc)."""

    def __init__(self):
        self.requests = []  # {"path", "headers", "body" (str, exact bytes as UTF-8)}
        self.lock = threading.Lock()
        self.failed_once = set()
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with stand_in.lock:
                    stand_in.requests.append({"path": self.path, "headers": dict(self.headers),
                                              "body": body.decode("utf-8")})
                status, answer = stand_in.answer(self.path, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d/v1/chat/completions" % self.server.server_address[1]

    def answer(self, path, body):
        if path != "/v1/chat/completions":
            return 404, {"error": {"message": "stand-in: no such path", "type": "not_found"}}
        try:
            req = json.loads(body)
            user = [m for m in req["messages"] if m["role"] == "user"][-1]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return 400, {"error": {"message": "stand-in: bad request", "type": "invalid_request_error"}}
        if "[reject]" in user:
            return 400, {"error": {"message": "stand-in: model 'nope' not found",
                                   "type": "invalid_request_error"}}
        if "[flaky]" in user:
            with self.lock:
                first = user not in self.failed_once
                self.failed_once.add(user)
            if first:
                return 500, {"error": {"message": "stand-in: overloaded", "type": "server_error"}}
        text = ANSWERS.get(user, "Stand-in answer to: %s" % user.splitlines()[0])
        return 200, {"id": "chatcmpl-standin", "object": "chat.completion", "created": int(time.time()),
                     "model": req.get("model", ""),
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                  "finish_reason": "stop"}],
                     "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}}

    def bodies_with(self, needle):
        with self.lock:
            return [r for r in self.requests if needle in r["body"]]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def expected_body(*messages):
    """The exact request body the handler sends (compact JSON, keys in this order)."""
    msgs = [{"role": "system", "content": SYSTEM}]
    msgs += [{"role": r, "content": c} for r, c in messages]
    return json.dumps({"model": "stand-in-model", "messages": msgs, "stream": False,
                       "temperature": 0.5}, separators=(",", ":"), ensure_ascii=False)


class LlmCase(rigutil.RigTestCase):
    AUTO_SEND = None

    @classmethod
    def setUpClass(cls):
        cls.t = token()
        cls.stand_in = StandIn()
        rig = rigutil.Rig("llm")
        handlers = rigutil.install_handlers(rig, {"llm": rigutil.shipped_module("llm")})
        key_file = os.path.join(rig.dir, "llm.key")
        with open(key_file, "w") as f:
            f.write(API_KEY + "\n")
        extra = os.path.join(rig.dir, "handlers.conf")
        with open(extra, "w") as f:
            f.write("""
[handlers]
dir = "%(handlers)s"

[runtime]
workers = 2
job_timeout_seconds = 30
max_attempts = 5
retry_initial_seconds = 1
retry_max_seconds = 1
poll_interval_ms = 200

[reply]
require_dmarc = false
sendmail = ["/usr/sbin/sendmail", "-C", "%(postfix)s"]
sender_period_seconds = 0   # a conversation answers the same sender again
sendmail_retry_delay_ms = 200

[handler.llm]
endpoint = "%(endpoint)s"
model = "stand-in-model"
system_prompt = "%(system)s"
api_key_file = "%(key)s"
temperature = 0.5
timeout_seconds = 20
max_retries = 2
%(auto_send)s

[[routes]]
recipient = "help@example.com"
handler = "llm"
""" % {"handlers": handlers, "postfix": os.path.join(rig.dir, "postfix"),
       "endpoint": cls.stand_in.endpoint, "system": SYSTEM, "key": key_file,
       "auto_send": "auto_send = true" if cls.AUTO_SEND else "# auto_send: the default (false)"})
        rig.options += ["--conf-extra", extra]
        cls.rig = rig
        with cls.starting():
            rig.start()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.stand_in.stop()

    def mid(self, name):
        return "<%s.%s@example.org>" % (name, self.t)

    def send(self, msgid, subject, body, extra=(), mail_from=CAROL):
        data = message([("From", "Carol <%s>" % CAROL), ("To", HELP), ("Subject", subject),
                        ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"), ("Message-ID", msgid)]
                       + list(extra), body=body)
        rc, out, qid = self.rig.swaks(data, mail_from, HELP, xclient_addr=OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)
        return qid

    def jobs_for(self, msgid, state=None):
        p = self.rig.ctl("--json", "queue", "list", *([state] if state else []))
        self.assertEqual(p.returncode, 0, p.stderr)
        return [j for j in json.loads(p.stdout) if bare(j["msgid"]) == bare(msgid)]

    def log(self):
        with open(self.rig.log_path, errors="replace") as f:
            return f.read()

    def reply_to(self, msgid):
        path = self.rig.wait_delivered(CAROL, "In-Reply-To: %s" % msgid, timeout=WAIT)
        with open(path, "rb") as f:
            return email.message_from_binary_file(f)


class AutoSend(LlmCase):
    AUTO_SEND = True

    def test_01_first_turn_is_answered_in_thread(self):
        m1 = self.mid("turn1")
        self.send(m1, "Capitals", "What is the capital of France?\n")
        msg = self.reply_to(m1)
        self.assertEqual(msg["Subject"], "Re: Capitals")
        self.assertEqual(msg["References"].split(), [m1])
        self.assertEqual(msg.get_payload(decode=True).decode().strip(), "Paris.")
        reqs = self.stand_in.bodies_with("What is the capital of France?")
        self.assertEqual(len(reqs), 1, reqs)
        self.assertEqual(reqs[0]["path"], "/v1/chat/completions")
        self.assertEqual(reqs[0]["body"], expected_body(("user", "What is the capital of France?")))
        self.assertEqual(reqs[0]["headers"].get("Authorization"), "Bearer " + API_KEY)
        self.assertEqual(reqs[0]["headers"].get("Content-Type"), "application/json")
        type(self).turn1 = (m1, msg["Message-ID"].strip())

    def test_02_second_turn_carries_the_first(self):
        if not getattr(type(self), "turn1", None):
            self.skipTest("no answer to the first turn")
        m1, answer1 = type(self).turn1
        m2 = self.mid("turn2")
        # Carol answers the model's reply, quoting it: the quote is not part of the user turn.
        self.send(m2, "Re: Capitals",
                  "And of Italy?\n\nOn Tue, 25 Nov 2025, help@example.com wrote:\n> Paris.\n",
                  extra=[("In-Reply-To", answer1), ("References", "%s %s" % (m1, answer1))])
        msg = self.reply_to(m2)
        self.assertEqual(msg.get_payload(decode=True).decode().strip(), "Rome, since 1871.")
        self.assertEqual(msg["In-Reply-To"].strip(), m2)
        self.assertEqual(msg["References"].split(), [m1, answer1, m2])
        reqs = self.stand_in.bodies_with("And of Italy?")
        self.assertEqual(len(reqs), 1, reqs)
        self.assertEqual(reqs[0]["body"], expected_body(
            ("user", "What is the capital of France?"), ("assistant", "Paris."),
            ("user", "And of Italy?")))
        # Both messages and both answers are one thread in the store.
        self.assertEqual(self.rig.lookup(m2)["thread"], self.rig.lookup(m1)["thread"])
        self.assertEqual(self.rig.lookup(msg["Message-ID"].strip())["thread"],
                         self.rig.lookup(m1)["thread"])

    def test_03_http_500_is_retried_then_answered(self):
        m = self.mid("flaky")
        self.send(m, "Flaky", "Is it up? [flaky]\n")
        msg = self.reply_to(m)
        self.assertEqual(msg.get_payload(decode=True).decode().strip(),
                         "Stand-in answer to: Is it up? [flaky]")
        reqs = self.stand_in.bodies_with("[flaky]")
        self.assertEqual(len(reqs), 2, reqs)
        # A new thread: no earlier turns; the retry sends the same request again.
        self.assertEqual(reqs[0]["body"], expected_body(("user", "Is it up? [flaky]")))
        self.assertEqual(reqs[1]["body"], reqs[0]["body"])
        log = self.log()
        self.assertIn("HTTP 500: stand-in: overloaded, will retry (attempt 1)", log)
        self.assertEqual(self.jobs_for(m)[0]["attempts"], 2)

    def test_04_http_400_parks_the_job(self):
        m = self.mid("reject")
        self.send(m, "Reject", "Use model nope [reject]\n")
        parked = wait_until(lambda: self.jobs_for(m, "parked"))
        self.assertTrue(parked, self.jobs_for(m))
        self.assertEqual(parked[0]["attempts"], 1)
        self.assertEqual(len(self.stand_in.bodies_with("[reject]")), 1)
        self.assertIn("HTTP 400: stand-in: model 'nope' not found, giving up (job parked)",
                      self.log())
        self.assertEqual(self.rig.find_delivered(CAROL, "In-Reply-To: %s" % m), [])

    def test_05_no_model_call_when_a_reply_would_be_refused(self):
        # MAIL FROM in example.net is not authenticated (SPF fail): the envelope says no
        # reply, so the handler does not ask the model.
        m = self.mid("unauth")
        self.send(m, "Unauth", "Should not reach the model\n", mail_from="dave@example.net")
        d = self.rig.wait_decision(msgid=m)
        self.assertEqual(d.get("noreply"), "unauthenticated-sender", d["raw"])
        done = wait_until(lambda: self.jobs_for(m, "done"))
        self.assertTrue(done, self.jobs_for(m))
        self.assertEqual(self.stand_in.bodies_with("Should not reach the model"), [])
        self.assertIn("not asking the model about %s: a reply would be refused "
                      "(unauthenticated-sender)" % m, self.log())

    def test_06_the_key_is_never_logged(self):
        self.assertNotIn(API_KEY, self.log())


class Drafts(LlmCase):
    AUTO_SEND = False

    def test_01_answer_is_a_draft(self):
        m = self.mid("draft")
        self.send(m, "Capitals", "What is the capital of France?\n")
        draft = wait_until(lambda: [d for d in self.drafts() if bare(d["in_reply_to"]) == bare(m)])
        self.assertTrue(draft, self.drafts())
        self.assertEqual(draft[0]["state"], "draft_for_approval")
        self.assertEqual(draft[0]["handler"], "llm")
        p = self.rig.ctl("--json", "drafts", "show", draft[0]["id"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["text"], "Paris.")
        time.sleep(1)
        self.assertEqual(self.rig.find_delivered(CAROL, "In-Reply-To: %s" % m), [])

    def drafts(self):
        p = self.rig.ctl("--json", "drafts", "list")
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)


if __name__ == "__main__":
    rigutil.main(missing())
