#!/usr/bin/env python3
"""End-to-end: exactly one reply per message through worker kills during reinjection.

A routed stream of messages to help@ (the fixture handler "testgood" replies to each) goes
through the real Postfix. Replies are reinjected through a wrapper that waits 3 s before it
runs Postfix's sendmail, longer than job_timeout_seconds (2 s): the supervisor must not kill a
worker in the middle of a reinjection (issue 14: "a reinjection slower than
job_timeout_seconds gave max_attempts copies"). While the stream runs, workers are killed
with SIGKILL exactly while their sendmail runs (a worker with a wrapper child). Each killed
job is retried; the retry finds its reply "reinjecting", waits for the orphaned sendmail and
the reply's echo through threadmill's own milter (non_smtpd_milters), and does not send it
again. Required: every message answered (0 lost), none twice (0 duplicates).
"""

import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rigutil  # noqa: E402
from rigutil import OUTSIDE_ADDR, bare, message, token  # noqa: E402

HELP = "help@example.com"
CAROL = "carol@example.org"
MESSAGES = 8
MAX_KILLS = 4


def missing():
    why = rigutil.missing_prerequisites()
    if why:
        return why
    if not os.path.exists(rigutil.fixture_module("good")):
        return "fixture module good not built (target threadmill_fixtures)"
    return None


def children(pid):
    p = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(x) for x in p.stdout.split()]


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class ReplyChaos(rigutil.RigTestCase):

    @classmethod
    def setUpClass(cls):
        cls.t = token()
        rig = rigutil.Rig("chaos")
        handlers = rigutil.install_handlers(rig, {"good": rigutil.fixture_module("good")})
        cls.wrapper = os.path.join(rig.dir, "slow-sendmail")
        cls.reinjections = os.path.join(rig.dir, "reinjections")
        with open(cls.wrapper, "w") as f:
            f.write("#!/bin/sh\necho $$ >> '%s'\nsleep 3\nexec /usr/sbin/sendmail -C '%s' \"$@\"\n"
                    % (cls.reinjections, os.path.join(rig.dir, "postfix")))
        os.chmod(cls.wrapper, 0o755)
        extra = os.path.join(rig.dir, "handlers.conf")
        with open(extra, "w") as f:
            f.write("""
[handlers]
dir = "%(handlers)s"

[runtime]
workers = 2
job_timeout_seconds = 2
max_attempts = 5
retry_initial_seconds = 1
retry_max_seconds = 2
poll_interval_ms = 200

[reply]
require_dmarc = false
sendmail = ["%(wrapper)s"]
sender_period_seconds = 0
sendmail_timeout_seconds = 60
reinject_confirm_seconds = 60

[handler.testgood]
reply_policy = "vacation"  # period 0 above: many quick messages of one sender all answered

[[routes]]
recipient = "help@example.com"
handler = "testgood"
""" % {"handlers": handlers, "wrapper": cls.wrapper})
        rig.options += ["--conf-extra", extra]
        cls.rig = rig
        with cls.starting():
            rig.start()

    def mid(self, i):
        return "<chaos%d.%s@example.org>" % (i, self.t)

    def send(self, msgid):
        data = message([("From", "Carol <%s>" % CAROL), ("To", HELP),
                        ("Subject", "Chaos %s [reply]" % msgid),
                        ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"), ("Message-ID", msgid)])
        rc, out, qid = self.rig.swaks(data, CAROL, HELP, xclient_addr=OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)

    def workers_reinjecting(self):
        """Worker pids that have a reinjection (the wrapper) running as their child."""
        milter = self.rig.milter_pid()
        found = []
        for sup in children(milter) if milter else []:
            for worker in children(sup):
                if any(self.wrapper in cmdline(c) for c in children(worker)):
                    found.append(worker)
        return found

    def jobs(self):
        p = self.rig.ctl("--json", "queue", "list")
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def test_kill9_during_reinjection_no_duplicate_no_loss(self):
        ids = [self.mid(i) for i in range(MESSAGES)]
        kills = 0
        sent = 0
        deadline = time.time() + 120
        # Send the stream while killing workers caught in the middle of a reinjection.
        while time.time() < deadline and (sent < MESSAGES or kills < 2):
            if sent < MESSAGES:
                self.send(ids[sent])
                sent += 1
            if kills < MAX_KILLS:
                for worker in self.workers_reinjecting()[:1]:
                    os.kill(worker, signal.SIGKILL)
                    kills += 1
            if sent >= MESSAGES:
                time.sleep(0.05)
        self.assertEqual(sent, MESSAGES)
        self.assertGreaterEqual(kills, 2, "no worker was caught during reinjection")

        # 0 lost: every message is answered.
        for m in ids:
            self.rig.wait_delivered(CAROL, "In-Reply-To: %s" % m, timeout=180)
        # Every job finished (none left to retry into a second copy), none parked.
        wanted = {bare(m) for m in ids}

        def finished():
            mine = [j for j in self.jobs() if bare(j["msgid"]) in wanted]
            return len(mine) == MESSAGES and all(j["state"] == "done" for j in mine)

        limit = time.time() + 120
        while not finished() and time.time() < limit:
            time.sleep(0.2)
        self.assertTrue(finished(), [j for j in self.jobs() if bare(j["msgid"]) in wanted])
        # 0 duplicates: each message answered exactly once (same Message-ID delivered once).
        for m in ids:
            copies = self.rig.find_delivered(CAROL, "In-Reply-To: %s" % m)
            self.assertEqual(len(copies), 1, "%s answered %d times" % (m, len(copies)))
        with open(self.reinjections) as f:
            runs = len(f.read().split())
        self.assertEqual(runs, MESSAGES, "reinjections started: %d for %d replies" % (runs, MESSAGES))
        with open(self.rig.log_path, errors="replace") as f:
            log = f.read()
        self.assertIn("reason=seen-outbound", log)  # a retry recognised the orphan's reply
        print("kills during reinjection: %d, replies: %d, duplicates: 0" % (kills, MESSAGES))


if __name__ == "__main__":
    rigutil.main(missing())
