#!/usr/bin/env python3
"""End-to-end: the bridges (issue 10 item 5) through a real Postfix (tests/e2e/rig).

One rig, two shipped handlers:
- exec in session mode running the shipped example handlers/exec/examples/campaign.py (copied
  into the rig): each heartbeat (every second) it sends the campaign from news@example.com to
  Carol and remembers the thread in KV; Carol's answer to news@ is matched to that record and a
  draft is stored (kv_get, kv_put, kv_list, draft); a message to help@ outside the campaign
  gets the acknowledgment as a reply (reply). The draft, approved with threadmillctl, reaches
  Carol in the thread.
- webhook, whose "remote app" is a stand-in: a Python http.server started by this test on a
  free loopback port. Its response to an inbound message carries actions (kv_put, reply, log);
  its heartbeat_url gets heartbeat POSTs, answered with a kv_put action.
"""

import http.server
import json
import os
import shutil
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rigutil  # noqa: E402
from rigutil import OUTSIDE_ADDR, message, token, wait_until  # noqa: E402

CAROL = "carol@example.org"
NEWS = "news@example.com"
HELP = "help@example.com"
HOOK = "hook@example.com"
CAMPAIGN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "handlers",
                        "exec", "examples", "campaign.py")
WAIT = 90


def missing():
    why = rigutil.missing_prerequisites()
    if why:
        return why
    for module in ("exec", "webhook"):
        if not os.path.exists(rigutil.shipped_module(module)):
            return "handler module %s not built" % module
    if not os.path.exists("/usr/bin/python3"):
        return "no /usr/bin/python3 for the example program"
    return None


class RemoteApp(http.server.BaseHTTPRequestHandler):
    """The stand-in for the web application behind the webhook handler: records each POST and
    answers with actions of the bridge protocol."""

    requests = []  # (path, headers, body as JSON)
    lock = threading.Lock()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        with self.lock:
            self.requests.append((self.path, dict(self.headers.items()), body))
        if self.path == "/heartbeat":
            answer = {"actions": [{"call": "kv_put", "key": "hook:heartbeat", "value": "beat"}]}
        else:
            mid = body.get("channel_message_id", "")
            answer = {"actions": [
                {"call": "kv_put", "key": "hook:" + mid, "value": {"subject": body.get("subject")}},
                {"call": "reply", "text": "The remote app has your message."},
                {"call": "log", "message": "remote app handled " + mid}]}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Bridges(rigutil.RigTestCase):

    @classmethod
    def setUpClass(cls):
        cls.t = token()
        cls.app = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RemoteApp)
        cls.app.daemon_threads = True
        threading.Thread(target=cls.app.serve_forever, daemon=True).start()
        app_url = "http://127.0.0.1:%d" % cls.app.server_address[1]
        rig = rigutil.Rig("bridges")
        cls.rig = rig
        with cls.starting():
            handlers = rigutil.install_handlers(
                rig, {name: rigutil.shipped_module(name) for name in ("exec", "webhook")})
            program = os.path.join(rig.dir, "campaign.py")
            shutil.copyfile(CAMPAIGN, program)
            os.chmod(program, 0o755)
            extra = os.path.join(rig.dir, "bridges.conf")
            with open(extra, "w") as f:
                f.write("""
[handlers]
dir = "%(handlers)s"

[runtime]
workers = 2
job_timeout_seconds = 30
max_attempts = 3
retry_initial_seconds = 1
retry_max_seconds = 1
poll_interval_ms = 200

[reply]
require_dmarc = false
sendmail = ["/usr/sbin/sendmail", "-C", "%(postfix)s"]
sender_period_seconds = 0
sendmail_retry_delay_ms = 200

[handler.exec]
command = ["/usr/bin/python3", "%(program)s"]
mode = "session"
timeout_seconds = 20
heartbeat_seconds = 1
from = "%(news)s"
campaign_to = "%(carol)s"
campaign_subject = "Campaign %(t)s"
campaign_text = "Shall we meet on Friday?"
draft_text = "Thank you for your answer (approved draft %(t)s)."
ack_text = "Your message has arrived (%(t)s)."

[handler.webhook]
url = "%(app)s/inbound"
heartbeat_url = "%(app)s/heartbeat"
heartbeat_seconds = 1

[[routes]]
recipient = "%(news)s"
handler = "exec"

[[routes]]
recipient = "%(help)s"
handler = "exec"

[[routes]]
recipient = "%(hook)s"
handler = "webhook"
""" % {"handlers": handlers, "postfix": os.path.join(rig.dir, "postfix"), "program": program,
       "news": NEWS, "carol": CAROL, "help": HELP, "hook": HOOK, "t": cls.t, "app": app_url})
            rig.options += ["--conf-extra", extra]
            rig.start()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.app.shutdown()
        cls.app.server_close()

    # helpers
    def mid(self, name):
        return "<%s.%s@example.org>" % (name, self.t)

    def send(self, msgid, subject, rcpt, extra=(), body="Hello.\n"):
        data = message([("From", "Carol <%s>" % CAROL), ("To", rcpt), ("Subject", subject),
                        ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"), ("Message-ID", msgid)]
                       + list(extra), body=body)
        rc, out, qid = self.rig.swaks(data, CAROL, rcpt, xclient_addr=OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)
        return qid

    def kv(self, handler, key):
        p = self.rig.ctl("--json", "kv", "get", handler, key)
        if p.returncode != 0:
            return None
        return json.loads(p.stdout)["value"]

    def wait_kv(self, handler, key, cond=lambda v: True):
        value = wait_until(lambda: (lambda v: v if v is not None and cond(v) else None)(
            self.kv(handler, key)))
        self.assertIsNotNone(value, "kv %s %s never written (as wanted); log:\n%s"
                             % (handler, key, self.rig.tail(self.rig.log_path, 60)))
        return value

    def wait_log(self, needle):
        def found():
            with open(self.rig.log_path, errors="replace") as f:
                return needle in f.read()
        self.assertTrue(wait_until(found), "%r never logged; log:\n%s"
                        % (needle, self.rig.tail(self.rig.log_path, 60)))

    @staticmethod
    def parse(path):
        import email
        with open(path, "rb") as f:
            return email.message_from_binary_file(f)

    # cases (numbered: the campaign cases build on each other)
    def test_01_campaign_heartbeat_send_arrives(self):
        thread = self.wait_kv("exec", "sent:" + CAROL)
        record = json.loads(self.wait_kv("exec", "thread:" + thread))
        self.assertEqual(record["state"], "sent")
        self.assertEqual(record["to"], CAROL)
        path = self.rig.wait_delivered(CAROL, "Subject: Campaign %s" % self.t, timeout=WAIT)
        msg = self.parse(path)
        self.assertIn(NEWS, msg["From"])
        sent_id = msg["Message-ID"].strip()
        rec = self.rig.lookup(sent_id)
        self.assertIsNotNone(rec, "the sent message was not recorded")
        self.assertEqual(rec["thread"], thread)
        # Later heartbeats do not send it again.
        time.sleep(3)
        self.assertEqual(len(self.rig.find_delivered(CAROL, "Subject: Campaign %s" % self.t)), 1)
        type(self).thread = thread
        type(self).sent_id = sent_id

    def test_02_answer_is_matched_and_drafted_then_approved(self):
        sent_id = getattr(type(self), "sent_id", None)
        if not sent_id:
            self.skipTest("no campaign message from case 1")
        thread = type(self).thread
        m = self.mid("answer")
        # A multipart answer with an attachment: the program reads it through the bridge.
        from email.message import EmailMessage
        answer = EmailMessage()
        for k, v in [("From", "Carol <%s>" % CAROL), ("To", NEWS),
                     ("Subject", "Re: Campaign %s" % self.t),
                     ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"), ("Message-ID", m),
                     ("In-Reply-To", sent_id), ("References", sent_id)]:
            answer[k] = v
        answer.set_content("Friday suits me.\n")
        agenda = bytes(range(256)) * 8
        answer.add_attachment(agenda, maintype="application", subtype="octet-stream",
                              filename="agenda.bin")
        raw = answer.as_bytes().replace(b"\n", b"\r\n")
        rc, out, _ = self.rig.swaks(raw, CAROL, NEWS, xclient_addr=OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)
        record = json.loads(self.wait_kv("exec", "thread:" + thread,
                                         lambda v: json.loads(v).get("state") == "answered"))
        self.assertEqual(record["answered_by"], CAROL)
        self.assertIn("draft_id", record, record)
        self.assertIn("Friday suits me.", self.kv("exec", "answer:" + thread))
        # attachment, raw_message and thread calls, through the real Postfix.
        import hashlib
        received = json.loads(self.wait_kv("exec", "received:" + thread))
        self.assertEqual(received["attachments"], [{
            "filename": "agenda.bin", "size": len(agenda),
            "sha256": hashlib.sha256(agenda).hexdigest()}], received)
        self.assertGreaterEqual(received["raw_size"], len(raw), received)
        self.assertEqual(received["messages"], [["outbound", sent_id], ["inbound", m]], received)
        # kv_list, reported through the log call after the record was written.
        self.wait_log("(1 of 1 answered)")
        # A draft, not a reply: nothing reached Carol yet.
        self.assertEqual(self.rig.find_delivered(CAROL, "In-Reply-To: %s" % m), [])
        draft = record["draft_id"]
        p = self.rig.ctl("--json", "drafts", "show", draft)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["state"], "draft_for_approval")
        p = self.rig.ctl("drafts", "approve", draft)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        path = self.rig.wait_delivered(CAROL, "In-Reply-To: %s" % m, timeout=WAIT)
        with open(path, errors="replace") as f:
            self.assertIn("approved draft %s" % self.t, f.read())

    def test_03_other_mail_gets_the_acknowledgment_reply(self):
        m = self.mid("other")
        self.send(m, "Something else", HELP)
        path = self.rig.wait_delivered(CAROL, "In-Reply-To: %s" % m, timeout=WAIT)
        msg = self.parse(path)
        self.assertEqual(msg["Subject"], "Re: Something else")
        with open(path, errors="replace") as f:
            self.assertIn("Your message has arrived (%s)." % self.t, f.read())

    def test_04_webhook_response_actions_are_carried_out(self):
        m = self.mid("hook")
        self.send(m, "Hook me", HOOK)
        value = self.wait_kv("webhook", "hook:" + m)
        self.assertEqual(json.loads(value), {"subject": "Hook me"})
        path = self.rig.wait_delivered(CAROL, "In-Reply-To: %s" % m, timeout=WAIT)
        with open(path, errors="replace") as f:
            self.assertIn("The remote app has your message.", f.read())
        # The results are logged; the last action may still run while the reply is delivered.
        self.wait_log("action 3/3 log")
        self.wait_log("remote app handled " + m)
        with RemoteApp.lock:
            inbound = [r for r in RemoteApp.requests if r[0] == "/inbound"]
        self.assertTrue(any(r[2].get("channel_message_id") == m for r in inbound))
        self.assertTrue(all(r[1].get("X-Threadmill-Event") == "inbound" for r in inbound))

    def test_05_webhook_heartbeat_post(self):
        self.assertEqual(self.wait_kv("webhook", "hook:heartbeat"), "beat")
        with RemoteApp.lock:
            beats = [r for r in RemoteApp.requests if r[0] == "/heartbeat"]
        self.assertTrue(beats)
        self.assertEqual(beats[0][2]["type"], "heartbeat")
        self.assertEqual(beats[0][1].get("X-Threadmill-Event"), "heartbeat")


if __name__ == "__main__":
    rigutil.main(missing())
