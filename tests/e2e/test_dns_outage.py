#!/usr/bin/env python3
"""End-to-end: replies survive a DNS outage (issue 14 item 8).

One rig with the shipped autoreply handler on help@example.com and the packaged DMARC reply
gate ([reply] require_dmarc = true). carol@example.org passes DMARC from the simulated outside
client (SPF allows 192.0.2.10, aligned). The rig's dnsmasq is frozen (SIGSTOP by its PID), so
the milter's SPF/DMARC end as temperror within the short DNS budget and the message is
accepted and spooled with dmarc=temperror.

1. DNS comes back within [auth] reauth_window_seconds: the job was deferred (reauth=deferred),
   is re-authenticated from the spool once dnsmasq answers again (reauth=done dmarc=pass) and
   the reply is delivered exactly once.
2. DNS stays down past the window: reauth=expired is logged, the handler runs on the
   temperror verdict and no reply is sent.
Both cases also see the resolver's one-line "dns upstream=down" / "upstream=up" reports.
Every wait is on an event (log line, mailbox file, job state) with a deadline.
"""

import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rigutil  # noqa: E402
from rigutil import OUTSIDE_ADDR, bare, message, token  # noqa: E402

HELP = "help@example.com"
CAROL = "carol@example.org"
WINDOW = 20  # reauth_window_seconds (room for a slow machine before DNS is thawed)


def missing():
    why = rigutil.missing_prerequisites()
    if why:
        return why
    if not os.path.exists(rigutil.autoreply_module()):
        return "autoreply module not built"
    return None


class DnsOutage(rigutil.RigTestCase):

    @classmethod
    def setUpClass(cls):
        cls.t = token()
        rig = rigutil.Rig("dnsout")
        handlers = rigutil.install_handlers(rig, {"autoreply": rigutil.autoreply_module()})
        extra = os.path.join(rig.dir, "dns-outage.conf")
        with open(extra, "w") as f:
            f.write('[handlers]\ndir = "%s"\n\n'
                    '[runtime]\npoll_interval_ms = 200\nretry_initial_seconds = 1\n'
                    'retry_max_seconds = 2\n\n'
                    '[reply]\nsendmail = ["/usr/sbin/sendmail", "-C", "%s/postfix"]\n'
                    'sender_period_seconds = 0\n\n'
                    '[[routes]]\nrecipient = "%s"\nhandler = "autoreply"\n\n'
                    '[handler.autoreply]\ntemplate = "We got it."\n' % (handlers, rig.dir, HELP))
        rig.options += ["--conf-extra", extra]
        # A short DNS budget (SMTP is not held long) and a short window for the test.
        rig.env_extra["RIG_AUTH_EXTRA"] = (
            "dns_timeout_ms = 400\nmessage_dns_budget_ms = 800\n"
            "reauth_window_seconds = %d\nreauth_retry_seconds = 1\n" % WINDOW)
        cls.rig = rig
        with cls.starting():
            rig.start()

    # --- helpers ---------------------------------------------------------------------------

    def dnsmasq_pid(self):
        with open(os.path.join(self.rig.dir, "dnsmasq.pid")) as f:
            return int(f.read().strip())

    def freeze_dns(self):
        os.kill(self.dnsmasq_pid(), signal.SIGSTOP)
        self.addCleanup(self.thaw_dns)  # never leave the rig's DNS frozen

    def thaw_dns(self):
        os.kill(self.dnsmasq_pid(), signal.SIGCONT)

    def log_text(self):
        with open(self.rig.log_path, errors="replace") as f:
            return f.read()

    def wait_line(self, pattern, timeout, after=0):
        """The first log line (at or past byte offset `after`) matching the regex."""
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        while True:
            text = self.log_text()[after:]
            for line in text.splitlines():
                if rx.search(line):
                    return line
            if time.time() > deadline:
                self.fail("no log line matching %r within %ss; log tail:\n%s"
                          % (pattern, timeout, self.rig.tail(self.rig.log_path, 40)))
            time.sleep(0.1)

    def job(self, job_id):
        p = self.rig.ctl("--json", "queue", "list")
        self.assertEqual(p.returncode, 0, p.stderr)
        for j in json.loads(p.stdout):
            if j.get("id") == job_id:
                return j
        return None

    def wait_job_done(self, job_id, timeout):
        deadline = time.time() + timeout
        while True:
            j = self.job(job_id)
            if j and j["state"] == "done":
                return j
            if time.time() > deadline:
                self.fail("job %s not done within %ss: %s" % (job_id, timeout, j))
            time.sleep(0.2)

    def send_during_outage(self, n):
        msgid = "<dns%d.%s@example.org>" % (n, self.t)
        data = message([("From", "Carol <%s>" % CAROL), ("To", HELP),
                        ("Subject", "Question %d during a DNS outage" % n),
                        ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"), ("Message-ID", msgid)])
        rc, out, _ = self.rig.swaks(data, CAROL, HELP, xclient_addr=OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)
        d = self.rig.wait_decision(msgid=msgid)
        self.assertEqual(d["dmarc"], "temperror", d["raw"])
        self.assertEqual(d["decision"], "queued", d["raw"])
        return msgid, d["job"]

    # --- cases -----------------------------------------------------------------------------

    def test_1_dns_back_within_window_reply_once(self):
        start = len(self.log_text())
        self.freeze_dns()
        msgid, job = self.send_during_outage(1)
        deferred = self.wait_line(r"job=%s .*reauth=deferred" % job, 20, start)
        self.assertIn("dmarc=temperror", deferred)
        self.wait_line(r"dns upstream=down", 20, start)  # the resolver said so, once
        # Still waiting for DNS: no reply yet, the handler has not run.
        self.assertEqual(self.rig.find_delivered(CAROL, "In-Reply-To: %s" % msgid), [])
        self.thaw_dns()
        done = self.wait_line(r"job=%s .*reauth=done" % job, 30, start)
        self.assertIn("dmarc=pass", done)
        self.assertIn("sender_auth=yes", done)
        self.rig.wait_delivered(CAROL, "In-Reply-To: %s" % msgid, timeout=30)
        self.wait_job_done(job, 30)
        copies = self.rig.find_delivered(CAROL, "In-Reply-To: %s" % msgid)
        self.assertEqual(len(copies), 1, "%s answered %d times" % (msgid, len(copies)))
        self.wait_line(r"dns upstream=up", 20, start)
        text = self.log_text()[start:]
        self.assertEqual(len(re.findall(r"job=%s .*reauth=done" % job, text)), 1)
        # One "down" line per process whose resolver saw the outage, not one per query.
        downs = len(re.findall(r"dns upstream=down", text))
        self.assertLessEqual(downs, 4, text)

    def test_2_dns_down_past_window_no_reply(self):
        start = len(self.log_text())
        self.freeze_dns()
        msgid, job = self.send_during_outage(2)
        self.wait_line(r"job=%s .*reauth=deferred" % job, 20, start)
        expired = self.wait_line(r"job=%s .*reauth=expired" % job, WINDOW + 30, start)
        self.assertIn("dmarc=temperror", expired)
        self.wait_job_done(job, 30)
        self.thaw_dns()
        # The handler ran on the temperror verdict and was told not to reply.
        self.wait_line(r"job=%s: no autoreply .*threadmill will not reply" % job, 10, start)
        self.assertEqual(self.rig.find_delivered(CAROL, "In-Reply-To: %s" % msgid), [])


if __name__ == "__main__":
    rigutil.main(missing())
