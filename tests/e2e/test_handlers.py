#!/usr/bin/env python3
"""End-to-end: handler modules through a real Postfix (tests/e2e/rig) and threadmill.

The fixture modules of tests/handlers/fixtures (built with the tests) are installed in a
root-owned handlers directory; routes send help@ to "testgood" (it replies, drafts, records
what it saw in its kv records: see good.c), info@ to "crasher" and support@ to "hanger".
Replies are reinjected with Postfix's own sendmail (-C the rig's config directory) and must
land in the sender's Maildir.

Cases: routed message -> threaded reply delivered; a reply to an unauthenticated MAIL FROM is
refused (unauthenticated-sender); the sender's answer to that reply lands in
the same thread and reaches the same handler (thread owner, not a route); the same message
twice -> one reply; 101 References / Auto-Submitted / list message -> no reply; crashing and
hanging handlers leave SMTP untouched, their jobs are retried then parked; a job queued before
kill -9 of threadmill runs after the restart with no duplicate reply; kv persists across
restarts; a draft approved from threadmillctl is delivered (with Auto-Submitted: no).
"""

import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rigutil  # noqa: E402
from rigutil import OUTSIDE_ADDR, bare, message, token, wait_until  # noqa: E402

HELP = "help@example.com"
ALICE = "alice@example.com"
BOT = "bot@example.com"
CAROL = "carol@example.org"
FIXTURES = ["good", "crash", "hang"]


def missing():
    why = rigutil.missing_prerequisites()
    if why:
        return why
    for f in FIXTURES:
        if not os.path.exists(rigutil.fixture_module(f)):
            return "fixture module %s not built (target threadmill_fixtures)" % f
    return None


# Deadlines are generous: they only bound a failing run, and this module must pass on a
# machine busy with other builds (a passing run never waits them out).
WAIT = 90


class Handlers(rigutil.RigTestCase):

    @classmethod
    def setUpClass(cls):
        cls.t = token()
        rig = rigutil.Rig("handlers")
        handlers = rigutil.install_handlers(rig, {f: rigutil.fixture_module(f) for f in FIXTURES})
        extra = os.path.join(rig.dir, "handlers.conf")
        with open(extra, "w") as f:
            f.write("""
[handlers]
dir = "%(handlers)s"

[runtime]
workers = 2
job_timeout_seconds = 3
max_attempts = 2
retry_initial_seconds = 1
retry_max_seconds = 1
poll_interval_ms = 200

[reply]
require_dmarc = false
sendmail = ["/usr/sbin/sendmail", "-C", "%(postfix)s"]
sender_period_seconds = 0
sendmail_retry_delay_ms = 200

[handler.testgood]
greeting = "Howdy"
from = "bot@example.com"

[[routes]]
recipient = "help@example.com"
handler = "testgood"

[[routes]]
recipient = "info@example.com"
handler = "crasher"

[[routes]]
recipient = "support@example.com"
handler = "hanger"

[[routes]]
recipient = "sales@example.com"
handler = "testgood"
action = "consume"
""" % {"handlers": handlers, "postfix": os.path.join(rig.dir, "postfix")})
        rig.options += ["--conf-extra", extra]
        cls.rig = rig.start()

    # helpers
    def mid(self, name):
        return "<%s.%s@example.org>" % (name, self.t)

    def send(self, msgid, subject, rcpt=HELP, extra=(), body="Please help.\n"):
        data = message([("From", "Carol <%s>" % CAROL), ("To", rcpt), ("Subject", subject),
                        ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"), ("Message-ID", msgid)]
                       + list(extra), body=body)
        start = time.time()
        rc, out, qid = self.rig.swaks(data, CAROL, rcpt, xclient_addr=OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)
        self.assertIsNotNone(qid, out)
        return qid, time.time() - start

    def kv(self, handler, key):
        p = self.rig.ctl("--json", "kv", "get", handler, key)
        if p.returncode != 0:
            return None
        return json.loads(p.stdout)["value"]

    def wait_kv(self, handler, key, timeout=WAIT):
        value = wait_until(lambda: self.kv(handler, key), timeout)
        self.assertIsNotNone(value, "kv %s %s never written; log:\n%s"
                             % (handler, key, self.rig.tail(self.rig.log_path, 40)))
        return value

    def jobs(self, state=None):
        p = self.rig.ctl("--json", "queue", "list", *( [state] if state else []))
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def jobs_for(self, msgid, state=None):
        return [j for j in self.jobs(state) if bare(j["msgid"]) == bare(msgid)]

    def replies_to(self, msgid):
        """Delivered messages in Carol's Maildir answering msgid."""
        return self.rig.find_delivered(CAROL, "In-Reply-To: %s" % msgid)

    @staticmethod
    def headers(path):
        import email
        with open(path, "rb") as f:
            return email.message_from_binary_file(f)

    # cases (numbered: later ones build on earlier ones)
    def test_01_routed_message_gets_threaded_reply(self):
        m = self.mid("q1")
        self.send(m, "Printer on fire [reply]", extra=[("References", "<root.%s@example.org>" % self.t)])
        self.assertEqual(self.wait_kv("testgood", "reply:%s" % m), "0 ")
        path = self.rig.wait_delivered(CAROL, "In-Reply-To: %s" % m, timeout=WAIT)
        msg = self.headers(path)
        self.assertEqual(msg["Subject"], "Re: Printer on fire [reply]")
        self.assertIn("help@example.com", msg["From"])
        self.assertEqual(msg["To"], "<%s>" % CAROL)
        self.assertEqual(msg["Auto-Submitted"], "auto-replied")
        self.assertEqual(" ".join(msg["References"].split()),
                         "<root.%s@example.org> %s" % (self.t, m))
        reply_id = msg["Message-ID"].strip()
        self.assertTrue(reply_id.endswith("@example.com>"), reply_id)
        # The reply passed back through threadmill as outbound, in the same thread.
        rec = wait_until(lambda: self.rig.lookup(reply_id))
        inbound = self.rig.lookup(m)
        self.assertEqual(rec["thread"], inbound["thread"])
        self.assertEqual(rec["owner"], "testgood")
        type(self).reply_id = reply_id
        type(self).thread_id = inbound["thread"]

    def test_02_answer_to_reply_reaches_same_handler(self):
        reply_id = getattr(type(self), "reply_id", None)
        if not reply_id:
            self.skipTest("no reply from case 1")
        m = self.mid("q2")
        # To bot@ (testgood's from, no route): only the thread's owner can route it to testgood
        # (mail in the thread to a person, alice@, is not: test_reply_policy.py).
        self.send(m, "Re: Printer on fire", rcpt=BOT,
                  extra=[("In-Reply-To", reply_id), ("References", reply_id)])
        env = self.wait_kv("testgood", "env:%s" % m)
        self.assertIn("thread=%s " % type(self).thread_id, env)
        self.assertIn("owner=testgood", env)
        self.rig.wait_delivered(BOT, m, timeout=WAIT)  # copy: still delivered

    def test_03_same_message_twice_one_reply(self):
        # The same message accepted again (an MTA retry, a resend) creates no second job
        # (issue 8 item 8): the handler runs once, one reply goes out.
        m = self.mid("dup")
        self.send(m, "Twice [reply]")
        self.rig.wait_delivered(CAROL, "In-Reply-To: %s" % m, timeout=WAIT)
        self.send(m, "Twice [reply]")
        d = self.rig.wait_decision(msgid=m, where=lambda d: d.get("dup") == "1")
        self.assertEqual(d["decision"], "queued", d["raw"])
        self.assertEqual(len(self.jobs_for(m)), 1)
        self.assertEqual(self.kv("testgood", "reply:%s" % m), "0 ")
        time.sleep(1)
        self.assertEqual(len(self.replies_to(m)), 1)

    def test_04_no_reply_to_loops_auto_and_lists(self):
        refs = " ".join("<r%d.%s@example.org>" % (i, self.t) for i in range(101))
        cases = [("refs", [("References", refs)], "references"),
                 ("auto", [("Auto-Submitted", "auto-replied")], "auto-submitted"),
                 ("list", [("List-Id", "<team.example.org>"), ("Precedence", "list")], None)]
        for name, extra, reason in cases:
            m = self.mid(name)
            self.send(m, "Automatic %s [reply]" % name, extra=extra)
            # The job may be refused by the milter or by the reply rules; either way, no reply.
            wait_until(lambda: self.kv("testgood", "reply:%s" % m) or not self.jobs_for(m, "queued"), 15)
            got = self.kv("testgood", "reply:%s" % m)
            if got is not None:
                self.assertTrue(got.startswith("1 "), got)
                if reason:
                    self.assertEqual(got, "1 " + reason)
        time.sleep(2)
        for name, _extra, _reason in cases:
            self.assertEqual(self.replies_to(self.mid(name)), [], name)

    def test_05_crash_and_hang_leave_smtp_alone(self):
        mc, mh = self.mid("crash"), self.mid("hang")
        _, took_c = self.send(mc, "crash please", rcpt="info@example.com")
        _, took_h = self.send(mh, "hang please", rcpt="support@example.com")
        self.assertLess(took_c, 10)
        self.assertLess(took_h, 10)
        self.rig.wait_delivered("info@example.com", mc, timeout=WAIT)
        self.rig.wait_delivered("support@example.com", mh, timeout=WAIT)
        parked = wait_until(lambda: self.jobs_for(mc, "parked") and self.jobs_for(mh, "parked"))
        self.assertTrue(parked, self.jobs())
        crash = self.jobs_for(mc, "parked")[0]
        hang = self.jobs_for(mh, "parked")[0]
        self.assertEqual(crash["attempts"], 2)
        self.assertIn("signal", crash["last_error"])
        self.assertEqual(hang["attempts"], 2)
        self.assertIn("timeout", hang["last_error"])
        with open(self.rig.log_path) as f:
            log = f.read()
        self.assertIn("job=%s handler=crasher" % crash["id"], log)
        self.assertIn("decision=parked", log)

    def test_06_job_queued_before_kill9_runs_after_restart(self):
        pid = self.rig.milter_pid()
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        self.assertTrue(children, "no supervisor process under the milter")
        for c in children:
            os.kill(int(c), signal.SIGSTOP)  # the job is queued but nobody runs it
        m = self.mid("kill9")
        self.send(m, "Survive kill -9 [reply]")
        self.assertTrue(self.jobs_for(m, "queued"), self.jobs())
        os.kill(pid, signal.SIGKILL)
        for c in children:
            try:
                os.kill(int(c), signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.5)
        self.rig.restart_milter()
        self.rig.wait_delivered(CAROL, "In-Reply-To: %s" % m, timeout=WAIT)
        time.sleep(2)
        self.assertEqual(len(self.replies_to(m)), 1)
        # kv written before the restart is still there.
        self.assertEqual(self.kv("testgood", "reply:%s" % self.mid("q1")), "0 ")

    def test_07_draft_approved_from_cli_is_delivered(self):
        m = self.mid("draft")
        self.send(m, "Please draft [draft]")
        value = self.wait_kv("testgood", "draft:%s" % m)
        self.assertTrue(value.startswith("0 D"), value)
        draft_id = value[2:]
        self.assertEqual(self.replies_to(m), [])
        p = self.rig.ctl("--json", "drafts", "show", draft_id)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["state"], "draft_for_approval")
        p = self.rig.ctl("drafts", "approve", draft_id)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        path = self.rig.wait_delivered(CAROL, "In-Reply-To: %s" % m, timeout=WAIT)
        with open(path, errors="replace") as f:
            self.assertIn("Drafted answer", f.read())
        # A person approved it: sent by a person (RFC 3834 section 5), not "auto-replied".
        self.assertEqual(self.headers(path)["Auto-Submitted"], "no")
        p = self.rig.ctl("drafts", "approve", draft_id)
        self.assertNotEqual(p.returncode, 0)

    def test_09_consume_route_takes_its_recipient_out_of_delivery(self):
        # Two recipients, one consumed: the handler gets the message, bob still does, sales not.
        m = self.mid("consume-two")
        data = message([("From", CAROL), ("To", "sales@example.com, bob@example.com"),
                        ("Subject", "Order 66"), ("Message-ID", m)])
        rc, out, _ = self.rig.swaks(data, CAROL, ["sales@example.com", "bob@example.com"],
                                    xclient_addr=OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)
        self.wait_kv("testgood", "seen:%s" % m)
        self.rig.wait_delivered("bob@example.com", m.strip("<>"), timeout=WAIT)
        self.assertTrue(self.in_mailbox("bob", m))
        self.assertFalse(self.in_mailbox("sales", m))
        # Only the consumed recipient: the message is discarded after its job was queued.
        m2 = self.mid("consume-only")
        qid, _ = self.send(m2, "Order 67", rcpt="sales@example.com")
        self.wait_kv("testgood", "seen:%s" % m2)
        d = self.rig.wait_decision(msgid=m2)
        self.assertEqual(d["decision"], "queued")
        self.assertEqual(d["handler"], "testgood")
        time.sleep(1)
        self.assertFalse(self.in_mailbox("sales", m2))

    def test_10_reply_to_unauthenticated_mail_from_is_refused(self):
        # MAIL FROM in example.net (SPF -all for the outside client) is not authenticated and
        # not aligned with From (example.org; DMARC fails, require_dmarc is off here). The
        # handler replies anyway: the reply rules refuse, nothing reaches example.net.
        victim = "dave@example.net"
        m = self.mid("reflect")
        data = message([("From", "Carol <%s>" % CAROL), ("To", HELP), ("Subject", "Reflect [reply]"),
                        ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"), ("Message-ID", m)])
        rc, out, _ = self.rig.swaks(data, victim, HELP, xclient_addr=OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)
        d = self.rig.wait_decision(msgid=m)
        self.assertEqual(d["spf"], "fail", d["raw"])
        self.assertEqual(d.get("noreply"), "unauthenticated-sender", d["raw"])
        self.assertEqual(self.wait_kv("testgood", "reply:%s" % m), "1 unauthenticated-sender")
        self.rig.wait_delivered(HELP, m.strip("<>"), timeout=WAIT)
        self.assertEqual(self.rig.find_delivered(victim, m.strip("<>")), [])

    def in_mailbox(self, user, msgid):
        """Whether example.com's USER mailbox holds the message (find_delivered searches the
        whole domain)."""
        root = os.path.join(self.rig.env["RIG_MAILDIR"], "example.com", user)
        paths = [os.path.join(d, f) for d, _, files in os.walk(root) for f in files
                 if os.path.basename(d) in ("new", "cur")]
        return bool(rigutil.files_containing(paths, msgid.strip("<>")))

    def test_08_stats_show_what_the_workers_did(self):
        # Runs after the cases above: replies were sent and refused, jobs parked.
        p = self.rig.ctl("--json", "stats")
        self.assertEqual(p.returncode, 0, p.stderr)
        stats = json.loads(p.stdout)
        counters = stats["store"]["counters"]
        self.assertGreaterEqual(
            counters.get('threadmill_replies_total{kind="reply",outcome="sent",reason=""}', 0), 2)
        refused = [k for k in counters if 'outcome="refused"' in k]
        self.assertTrue(refused, counters)
        self.assertGreaterEqual(
            counters.get('threadmill_job_attempts_total{decision="parked"}', 0), 2)
        self.assertGreaterEqual(stats["store"]["jobs"]["parked"], 2)
        self.assertGreaterEqual(stats["store"]["entries"]["replied"], 2)


if __name__ == "__main__":
    rigutil.main(missing())
