#!/usr/bin/env python3
"""End-to-end: two MX hosts sharing one PostgreSQL store (issue 13).

Two rigs (tests/e2e/rig: each its own Postfix and threadmill, its own LMDB for jobs, drafts,
KV and counters) run with [store] backend = "postgresql" and the DSN of ONE private cluster
this module starts (pgcluster.py). The thread mappings and the replied-once ledger are
shared:
  - an outbound message recorded through rig 1 and the customer's answer delivered through
    rig 2 are one thread: rig 2 matches it by In-Reply-To, threadmillctl lookup on either rig
    gives the same thread;
  - a routed message delivered to both rigs at once is answered exactly once: one rig's
    handler reply is sent, the other's is refused "already-replied" (the shared ledger).
Skipped (77) without the rig's prerequisites, the fixture handler or PostgreSQL's binaries.
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgcluster  # noqa: E402
import rigutil  # noqa: E402
from rigutil import OUTSIDE_ADDR, bare, message, token  # noqa: E402

ALICE = "alice@example.com"
HELP = "help@example.com"
CAROL = "carol@example.org"
WAIT = 90


def missing():
    why = rigutil.missing_prerequisites()
    if why:
        return why
    if not os.path.exists(rigutil.fixture_module("good")):
        return "fixture module good not built (target threadmill_fixtures)"
    return pgcluster.missing()


def wait_until(cond, timeout=WAIT, step=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(step)
    return cond()


def make_rig(name, dsn):
    rig = rigutil.Rig(name)
    handlers = rigutil.install_handlers(rig, {"good": rigutil.fixture_module("good")})
    extra = os.path.join(rig.dir, "handlers.conf")
    with open(extra, "w") as f:
        f.write("""
[handlers]
dir = "%(handlers)s"

[runtime]
workers = 1
poll_interval_ms = 200

[reply]
require_dmarc = false
sendmail = ["/usr/sbin/sendmail", "-C", "%(postfix)s"]
sender_period_seconds = 0

[[routes]]
recipient = "help@example.com"
handler = "testgood"
""" % {"handlers": handlers, "postfix": os.path.join(rig.dir, "postfix")})
    rig.options += ["--conf-extra", extra]
    rig.env_extra["RIG_STORE_EXTRA"] = 'backend = "postgresql"\ndsn = "%s"' % dsn
    return rig


class MultiMx(rigutil.RigTestCase):
    rig2 = None
    cluster = None

    @classmethod
    def setUpClass(cls):
        cls.t = token()
        cls.cluster = pgcluster.Cluster()
        try:
            cls.cluster.start()
            dsn = cls.cluster.dsn()
            cls.rig = make_rig("mx1", dsn).start()
            cls.rig2 = make_rig("mx2", dsn).start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.rig2:
                if cls.rig and cls.rig.failed:
                    cls.rig2.failed = True
                cls.rig2.stop()
                cls.rig2 = None
            super().tearDownClass()
        finally:
            if cls.cluster:
                cls.cluster.stop()
                cls.cluster = None

    def run(self, result=None):
        result = super().run(result)
        if result is not None and (result.failures or result.errors) and self.rig2:
            self.rig2.failed = True
        return result

    def mid(self, name):
        return "<%s.%s@example.%s>" % (name, self.t, "com" if name.startswith("out") else "org")

    def inbound(self, rig, msgid, subject, rcpt, extra=()):
        data = message([("From", "Carol <%s>" % CAROL), ("To", rcpt), ("Subject", subject),
                        ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"), ("Message-ID", msgid)]
                       + list(extra), body="Text %s\n" % msgid)
        rc, out, qid = rig.swaks(data, CAROL, rcpt, xclient_addr=OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)
        self.assertIsNotNone(qid, out)
        return qid

    @staticmethod
    def kv(rig, key):
        p = rig.ctl("--json", "kv", "get", "testgood", key)
        if p.returncode != 0:
            return None
        import json
        return json.loads(p.stdout)["value"]

    def test_01_outbound_on_one_answer_on_the_other_is_one_thread(self):
        out = self.mid("out1")
        data = message([("From", "Alice <%s>" % ALICE), ("To", CAROL),
                        ("Subject", "Quote %s" % self.t),
                        ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"), ("Message-ID", out)],
                       body="Offer\n", crlf=False)
        self.rig.sendmail(data, ALICE, CAROL)
        d1 = self.rig.wait_decision(msgid=out)
        self.assertEqual(d1["direction"], "outbound", d1["raw"])
        self.assertEqual(d1["decision"], "recorded", d1["raw"])
        thread = d1["thread"]
        self.assertTrue(thread, d1["raw"])

        answer = self.mid("in1")
        self.inbound(self.rig2, answer, "Re: Quote %s" % self.t, ALICE,
                     [("In-Reply-To", out), ("References", out)])
        self.rig2.wait_delivered(ALICE, "Message-ID: %s" % answer)
        d2 = self.rig2.wait_decision(msgid=answer)
        self.assertEqual(d2["direction"], "inbound", d2["raw"])
        self.assertEqual(d2["decision"], "matched", d2["raw"])
        self.assertEqual(d2["match"], "in-reply-to", d2["raw"])
        self.assertEqual(bare(d2["parent"]), bare(out), d2["raw"])
        self.assertEqual(d2["thread"], thread, d2["raw"])
        for rig in (self.rig, self.rig2):
            for msgid in (out, answer):
                rec = rig.lookup(msgid)
                self.assertIsNotNone(rec, "%s: lookup %s unknown" % (rig.dir, msgid))
                self.assertEqual(rec["thread"], thread, rec)
            ids = {bare(m["msgid"]) for m in rig.thread(thread)["messages"]}
            self.assertEqual(ids, {bare(out), bare(answer)})

    def test_02_message_routed_to_both_is_answered_once(self):
        m = self.mid("both")
        errors = []

        def deliver(rig):
            try:
                self.inbound(rig, m, "Help %s [reply]" % self.t, HELP)
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        senders = [threading.Thread(target=deliver, args=(r,)) for r in (self.rig, self.rig2)]
        for s in senders:
            s.start()
        for s in senders:
            s.join()
        self.assertEqual(errors, [])
        key = "reply:%s" % m
        outcomes = [wait_until(lambda r=r: self.kv(r, key)) for r in (self.rig, self.rig2)]
        self.assertNotIn(None, outcomes, "a handler never ran: %s" % outcomes)
        self.assertEqual(sorted(outcomes), ["0 ", "1 already-replied"], outcomes)
        sent, refused = (self.rig, self.rig2) if outcomes[0] == "0 " else (self.rig2, self.rig)
        d = sent.wait_decision(where=lambda d: d.get("decision") == "sent"
                               and bare(d.get("msgid", "")) == bare(m), timeout=WAIT)
        self.assertEqual(d["decision"], "sent", d["raw"])
        r = refused.wait_decision(where=lambda d: d.get("reason") == "already-replied"
                                  and bare(d.get("msgid", "")) == bare(m), timeout=WAIT)
        self.assertEqual(r["decision"], "refused", r["raw"])
        sent.wait_delivered(CAROL, "In-Reply-To: %s" % m, timeout=WAIT)
        time.sleep(1)  # a second reply would be reinjected by now (sendmail, local delivery)
        replies = (sent.find_delivered(CAROL, "In-Reply-To: %s" % m)
                   + refused.find_delivered(CAROL, "In-Reply-To: %s" % m))
        self.assertEqual(len(replies), 1, replies)


if __name__ == "__main__":
    rigutil.main(missing())
