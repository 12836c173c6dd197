#!/usr/bin/env python3
"""End-to-end: two MX hosts sharing one PostgreSQL store (issue 13).

Two rigs (tests/e2e/rig: each its own Postfix and threadmill, its own LMDB only for the
fallback job spool) run with [store] backend = "postgresql" and the DSN of ONE private cluster
this module starts (pgcluster.py). Threads, the replied-once ledger, the routed jobs, handler
KV, drafts and counters are shared:
  - an outbound message recorded through rig 1 and the customer's answer delivered through
    rig 2 are one thread: rig 2 matches it by In-Reply-To, threadmillctl lookup on either rig
    gives the same thread;
  - a routed message the MTA hands to both hosts at the same time (three times) is ONE job,
    answered once (the reply ledger's claim owners, [store] host_id, are the second line:
    unit-tested in store_backend_suite);
  - KV put by the handler on rig 1 is read by the handler on rig 2 (and by threadmillctl kv on
    either rig);
  - a draft the handler made on rig 2 is approved with threadmillctl drafts approve against
    rig 1's configuration: the reply is delivered with In-Reply-To and lands in the inbound
    message's thread, and the handler is told the decision;
  - the counters (threadmillctl stats) are the same totals on both rigs;
  - with the database stopped, SMTP is not held: a message is accepted and delivered at once
    with decision=unthreaded match=none reason=store ([milter] on_store_error = accept in the
    rig: threading degrades), and the milter's /metrics say so; once the database is back the
    same process threads again (its pool reconnects);
  - with the database stopped, routed messages keep being accepted; their jobs wait in the
    local fallback spool (spool=local-fallback) and, once it is back, are pushed to it and
    each answered exactly once;
  - a job claimed by rig 1 whose processes are then all killed with SIGKILL is taken over by
    rig 2 once its lease ([store] job_lease_seconds, short here) expires, and answered once;
  - threadmillctl queue show/retry on one host act on a job of the shared queue that the
    other host runs.
Skipped (77) without the rig's prerequisites, the fixture handler or PostgreSQL's binaries.
"""

import email
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgcluster  # noqa: E402
import rigutil  # noqa: E402
from rigutil import OUTSIDE_ADDR, bare, message, token, wait_until  # noqa: E402

ALICE = "alice@example.com"
HELP = "help@example.com"
CAROL = "carol@example.org"
WAIT = 90
LEASE = 8  # [store] job_lease_seconds of the rigs: longer than a reply takes here


def missing():
    return rigutil.missing_prerequisites(fixtures=("good",)) or pgcluster.missing()


def children(pid):
    """The pids whose parent is pid (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


def tree(pid):
    """pid and all its descendants."""
    out = [pid]
    for child in children(pid):
        out += tree(child)
    return out


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def make_rig(name, dsn):
    rig = rigutil.fixture_rig(name)
    rig.metrics_port = pgcluster.free_port()
    rigutil.add_conf(rig, "handlers.conf", """
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

[metrics]
listen = "127.0.0.1:%(metrics)d"
""", metrics=rig.metrics_port)
    rig.host_id = name
    rig.env_extra["RIG_STORE_EXTRA"] = (
        'backend = "postgresql"\ndsn = "%s"\nhost_id = "%s"\njob_lease_seconds = %d'
        % (dsn, name, LEASE))
    return rig


class MultiMx(rigutil.RigTestCase):
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
            super().tearDownClass()
        finally:
            if cls.cluster:
                cls.cluster.stop()
                cls.cluster = None

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
    def metric(rig, name):
        """The sum of the samples of `name` (a prefix, labels included) in the rig's /metrics."""
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % rig.metrics_port,
                                    timeout=10) as r:
            text = r.read().decode()
        samples = [line for line in text.splitlines()
                   if line.startswith(name) and not line.startswith("#")]
        return sum(float(line.split()[-1]) for line in samples) if samples else None

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

    @staticmethod
    def log(rig):
        with open(rig.log_path, errors="replace") as f:
            return f.read()

    def jobs(self, rig, msgid):
        """The shared queue's jobs of msgid (threadmillctl queue list on `rig`)."""
        p = rig.ctl("--json", "queue", "list")
        if p.returncode != 0:
            return None
        return [j for j in json.loads(p.stdout) if bare(j["msgid"]) == bare(msgid)]

    def replies(self, msgid):
        return (self.rig.find_delivered(CAROL, "In-Reply-To: %s" % msgid)
                + self.rig2.find_delivered(CAROL, "In-Reply-To: %s" % msgid))

    def assertAnsweredOnce(self, msgid):
        done = wait_until(lambda: (lambda j: j if j and all(x["state"] == "done" for x in j)
                                   else None)(self.jobs(self.rig, msgid)))
        self.assertTrue(done, "job of %s not done: %s" % (msgid, self.jobs(self.rig, msgid)))
        self.assertEqual(len(done), 1, done)
        # The fixture's reply:<msgid> record (KV is shared: one value, whichever host ran it).
        self.assertEqual(self.rig.kv("testgood", "reply:%s" % msgid), "0 ")
        self.assertTrue(wait_until(lambda: self.replies(msgid)), "no reply to %s" % msgid)
        self.assertEqual(self.jobs(self.rig2, msgid), done)  # both hosts see the one job
        self.assertEqual(len(self.replies(msgid)), 1)
        return done[0]

    def test_02_message_routed_to_both_is_one_job_answered_once(self):
        # The MTA hands the same message to both hosts at the same instant (a barrier), three
        # times: each time one job in all, answered once.
        for i in range(3):
            m = self.mid("both%d" % i)
            barrier = threading.Barrier(2)
            errors = []

            def deliver(rig, m=m, barrier=barrier, errors=errors):
                try:
                    barrier.wait()
                    self.inbound(rig, m, "Help %s [reply]" % self.t, HELP)
                except BaseException as e:  # noqa: B902 - reported below
                    errors.append(e)
            threads = [threading.Thread(target=deliver, args=(r,)) for r in (self.rig, self.rig2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(errors, [])
            d1 = self.rig.wait_decision(msgid=m, where=lambda d: "job" in d)
            d2 = self.rig2.wait_decision(msgid=m, where=lambda d: "job" in d)
            self.assertEqual(d1["job"], d2["job"], (d1["raw"], d2["raw"]))
            self.assertEqual(sorted([d1.get("dup", ""), d2.get("dup", "")]), ["", "1"],
                             (d1["raw"], d2["raw"]))
            job = self.assertAnsweredOnce(m)
            self.assertEqual(job["id"], d1["job"])
            self.assertEqual(job["attempts"], 1, job)

    def test_03_kv_written_on_one_host_is_read_by_the_handler_on_the_other(self):
        a = self.mid("kvset")
        self.inbound(self.rig, a, "Share %s [kvset]" % self.t, HELP)
        self.assertEqual(wait_until(lambda: self.rig2.kv("testgood", "shared")), a)
        b = self.mid("kvget")
        self.inbound(self.rig2, b, "Read %s [kvget]" % self.t, HELP)
        self.assertEqual(wait_until(lambda: self.rig2.kv("testgood", "got:%s" % b)), a)
        self.assertEqual(self.rig.kv("testgood", "got:%s" % b), a)
        p = self.rig.ctl("--json", "kv", "list", "testgood", "got:")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("got:%s" % b, p.stdout)

    def test_04_draft_made_on_mx2_is_approved_from_mx1(self):
        m = self.mid("draft")
        self.inbound(self.rig2, m, "Please %s [draft]" % self.t, HELP)
        value = wait_until(lambda: self.rig2.kv("testgood", "draft:%s" % m))
        self.assertTrue(value and value.startswith("0 D"), value)
        draft_id = value[2:]
        p = self.rig.ctl("--json", "drafts", "show", draft_id)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["state"], "draft_for_approval")
        p = self.rig.ctl("drafts", "approve", draft_id)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        path = self.rig.wait_delivered(CAROL, "In-Reply-To: %s" % m, timeout=WAIT)
        with open(path, "rb") as f:
            reply = email.message_from_binary_file(f)
        self.assertIn(bare(m), reply["References"] or "")
        p = self.rig2.ctl("--json", "drafts", "show", draft_id)
        self.assertEqual(p.returncode, 0, p.stderr)
        shown = json.loads(p.stdout)
        self.assertEqual(shown["state"], "sent", shown)
        # Threaded: the reply is in the inbound message's thread, seen from either host.
        thread = self.rig2.lookup(m)["thread"]
        rec = wait_until(lambda: self.rig2.lookup(reply["Message-ID"]))
        self.assertIsNotNone(rec, "reply %s not recorded" % reply["Message-ID"])
        self.assertEqual(rec["thread"], thread, rec)
        # The handler is told (a decision job on mx1, where threadmillctl queued it).
        decided = wait_until(lambda: self.rig2.kv("testgood", "decision:%s" % draft_id))
        self.assertTrue(decided and decided.startswith("approved|"), decided)
        p = self.rig.ctl("drafts", "approve", draft_id)
        self.assertNotEqual(p.returncode, 0, "approved twice")

    def test_05_counters_are_shared_totals(self):
        def replies(rig):
            p = rig.ctl("--json", "stats")
            self.assertEqual(p.returncode, 0, p.stderr)
            return {k: v for k, v in json.loads(p.stdout)["store"]["counters"].items()
                    if k.startswith("threadmill_replies_total")}
        c1 = replies(self.rig)
        c2 = replies(self.rig2)
        self.assertEqual(c1, c2)
        # Case 2's reply (sent by whichever host ran the job) and case 4's approved draft (sent
        # by threadmillctl on rig 1): with counters per host neither rig would hold both.
        sent = sum(v for k, v in c1.items() if 'outcome="sent"' in k)
        self.assertGreaterEqual(sent, 2, c1)

    def test_06_database_down_is_a_store_error_not_a_hang(self):
        out = self.mid("out1")
        if not self.rig.lookup(out):
            self.skipTest("case 1 recorded nothing")
        self.cluster.stop_server()
        try:
            down = self.mid("indown")
            start = time.time()
            self.inbound(self.rig2, down, "Re: Quote %s" % self.t, ALICE,
                         [("In-Reply-To", out), ("References", out)])
            took = time.time() - start
            self.rig2.wait_delivered(ALICE, "Message-ID: %s" % down)
            d = self.rig2.wait_decision(msgid=down)
            # Threading degrades (on_store_error = accept): no match, nothing recorded, the
            # message delivered at once.
            self.assertEqual(d["decision"], "unthreaded", d["raw"])
            self.assertEqual(d["reason"], "store", d["raw"])
            self.assertEqual(d["match"], "none", d["raw"])
            # Connection refused is immediate; each call is bounded by [store] connect_timeout_ms.
            self.assertLess(took, 30, d["raw"])
            # The milter's /metrics: its last database call failed, and errors were counted.
            self.assertEqual(self.metric(self.rig2, 'threadmill_store_backend_up{backend="postgresql"}'), 0)
            self.assertGreaterEqual(self.metric(self.rig2, "threadmill_store_errors_total"), 1)
            self.assertGreaterEqual(self.metric(self.rig2, 'threadmill_errors_total{reason="store"}'), 1)
        finally:
            self.cluster.start_again()
        # The pool connects again at most 2 s after its last failure: a message in that
        # window is still unthreaded; the next one threads.
        deadline = time.time() + WAIT
        for n in range(100):
            back = self.mid("inback%d" % n)
            self.inbound(self.rig2, back, "Re: Quote %s" % self.t, ALICE,
                         [("In-Reply-To", out), ("References", out)])
            d = wait_until(lambda: [x for x in self.rig2.decisions()
                                    if bare(x.get("msgid")) == bare(back)])
            self.assertTrue(d, "no decision for %s" % back)
            if d[0].get("reason") != "store" or time.time() > deadline:
                break
        self.assertEqual(d[0]["decision"], "matched", d[0]["raw"])
        self.assertEqual(self.metric(self.rig2, 'threadmill_store_backend_up{backend="postgresql"}'), 1)
        self.assertGreater(self.metric(self.rig2, 'threadmill_store_call_seconds_count{op="find_message"}'), 0)
        self.assertIsNotNone(self.metric(self.rig2, 'threadmill_store_connections{state="idle"}'))
        self.assertEqual(d[0]["match"], "in-reply-to", d[0]["raw"])
        self.assertEqual(d[0]["thread"], self.rig.lookup(out)["thread"], d[0]["raw"])


    def test_07_database_stopped_jobs_fall_back_then_answered_once(self):
        sent = [self.mid("fallback%d" % i) for i in range(3)]
        self.cluster.stop_server()
        try:
            for i, m in enumerate(sent):
                rig = (self.rig, self.rig2)[i % 2]
                self.inbound(rig, m, "Help %s [reply]" % self.t, HELP)
                d = rig.wait_decision(msgid=m)
                self.assertEqual(d["decision"], "unthreaded", d["raw"])
                self.assertEqual(d["reason"], "store", d["raw"])
                self.assertEqual(d.get("spool"), "local-fallback", d["raw"])
                self.assertEqual(d.get("handler"), "testgood", d["raw"])
                rig.wait_delivered(HELP, "Message-ID: %s" % m)  # accepted, not held
        finally:
            self.cluster.start_again()
        for rig in (self.rig, self.rig2):
            self.assertTrue(wait_until(lambda: "pushed from the local spool to the shared queue"
                                       in self.log(rig)), rig.tail(rig.log_path))
        for m in sent:
            self.assertAnsweredOnce(m)

    def test_08_killed_host_job_is_taken_over_after_its_lease(self):
        # Rig 2's supervisor is paused so that rig 1 claims the job; rig 1's workers are paused
        # so that the job stays running there; then every rig-1 process dies at once (SIGKILL:
        # no clean stop could queue the job again). Rig 2 takes it over when the lease ends.
        m = self.mid("killed")
        mx1 = self.rig.milter_pid()
        sup1 = children(mx1)
        sup2 = children(self.rig2.milter_pid())
        self.assertTrue(sup1 and sup2, (sup1, sup2))
        workers1 = [w for s in sup1 for w in tree(s) if w != s]
        self.assertTrue(workers1)
        for pid in sup2 + workers1:
            os.kill(pid, signal.SIGSTOP)
        try:
            self.inbound(self.rig, m, "Help %s [reply]" % self.t, HELP)
            running = wait_until(lambda: [j for j in (self.jobs(self.rig, m) or [])
                                          if j["state"] == "running"])
            self.assertTrue(running, self.jobs(self.rig, m))
            doomed = tree(mx1)
            for pid in doomed:
                os.kill(pid, signal.SIGSTOP)
            for pid in doomed:
                os.kill(pid, signal.SIGKILL)
            self.assertTrue(wait_until(lambda: not any(alive(p) for p in doomed)), doomed)
        finally:
            for pid in sup2:
                os.kill(pid, signal.SIGCONT)
        job_id = running[0]["id"]
        taken = "job=%s " % job_id
        self.assertTrue(wait_until(lambda: any(
            taken in line and "decision=taken-over" in line
            for line in self.log(self.rig2).splitlines()), timeout=LEASE + WAIT),
            self.rig2.tail(self.rig2.log_path))
        ran = wait_until(lambda: self.rig2.kv("testgood", "reply:%s" % m))
        self.assertEqual(ran, "0 ")
        self.rig2.wait_delivered(CAROL, "In-Reply-To: %s" % m, timeout=WAIT)
        done = wait_until(lambda: [j for j in (self.jobs(self.rig2, m) or [])
                                   if j["state"] == "done"])
        self.assertEqual(len(done), 1, self.jobs(self.rig2, m))
        self.assertEqual(done[0]["attempts"], 2, done)
        self.assertEqual(len(self.rig2.find_delivered(CAROL, "In-Reply-To: %s" % m)), 1)

    def test_09_queue_commands_act_on_the_shared_queue(self):
        # Rig 1's daemon is gone (case 8): its threadmillctl still sees and retries the job
        # rig 2 ran, and rig 2 runs it again.
        m = self.mid("parked")
        self.inbound(self.rig2, m, "Help %s [fail]" % self.t, HELP)
        parked = wait_until(lambda: [j for j in (self.jobs(self.rig2, m) or [])
                                     if j["state"] == "parked"])
        self.assertEqual(len(parked), 1, self.jobs(self.rig2, m))
        job_id = parked[0]["id"]
        shown = self.rig.ctl("--json", "queue", "show", job_id)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertEqual(json.loads(shown.stdout)["state"], "parked", shown.stdout)
        self.assertEqual(json.loads(shown.stdout)["file"], "", shown.stdout)  # in the database
        retried = self.rig.ctl("queue", "retry", job_id)
        self.assertEqual(retried.returncode, 0, retried.stderr)

        def parked_lines():
            return [line for line in self.log(self.rig2).splitlines()
                    if "job=%s " % job_id in line and "decision=parked" in line]
        self.assertTrue(wait_until(lambda: len(parked_lines()) == 2), parked_lines())
        again = self.jobs(self.rig, m)
        self.assertEqual([(j["state"], j["attempts"]) for j in again], [("parked", 1)], again)


if __name__ == "__main__":
    rigutil.main(missing())
