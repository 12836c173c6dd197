#!/usr/bin/env python3
"""End-to-end: the handler registry through a real Postfix (tests/e2e/rig) and threadmill.

Each handler has its own worker pool and its workers load the module themselves, so:
  - a module file replaced at the same path, then SIGUSR1 to threadmill: the next message is
    answered by the new code (the reply text in the sender's Maildir says which version);
  - a handler whose jobs hang (support@ -> "hanger", job_timeout_seconds = 120) does not delay
    another handler's reply (help@ -> "versioned"), bounded well below that time-out (with one
    pool for all handlers, the two hung jobs held both workers for the whole time-out);
  - one module, two named instances ([handler.alpha] and [handler.beta], module = "exec" with
    different programs): each answers its own route with its own program's text;
  - a route to a handler that is not loaded: `threadmill -n` fails, a reload is refused by the
    daemon and the supervisor (the old routes and handlers keep answering);
  - a module removed behind threadmill's back and a supervisor restart: its route's jobs wait
    and `threadmillctl queue list` marks them;
  - heartbeat log lines name their call job=heartbeat-NAME-N.
Fixture modules: tests/handlers/fixtures (version.c built twice, hang.c); exec is the shipped
handler.
"""

import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rigutil  # noqa: E402
from rigutil import OUTSIDE_ADDR, message, token, wait_until  # noqa: E402

HELP = "help@example.com"
SUPPORT = "support@example.com"
ALPHA = "alpha@example.com"
BETA = "beta@example.com"
CAROL = "carol@example.org"

WAIT = 90  # only bounds a failing run


def missing():
    why = rigutil.missing_prerequisites()
    if why:
        return why
    for f in ("version1", "version2", "hang"):
        if not os.path.exists(rigutil.fixture_module(f)):
            return "fixture module %s not built (target threadmill_fixtures)" % f
    if not os.path.exists(rigutil.shipped_module("exec")):
        return "handlers/exec not built"
    return None


EXEC_PROGRAM = """#!/bin/sh
cat >/dev/null
printf '{"action": "reply", "text": "%s"}'
"""


class HandlerPools(rigutil.RigTestCase):

    @classmethod
    def setUpClass(cls):
        cls.t = token()
        rig = rigutil.Rig("pools")
        cls.handlers = rigutil.install_handlers(rig, {
            "versioned": rigutil.fixture_module("version1"),
            "hang": rigutil.fixture_module("hang"),
            "exec": rigutil.shipped_module("exec"),
        })
        programs = {}
        for name in ("alpha", "beta"):
            path = os.path.join(cls.handlers, name + ".sh")
            with open(path, "w") as f:
                f.write(EXEC_PROGRAM % ("instance %s answers" % name))
            os.chmod(path, 0o755)
            programs[name] = path
        extra = os.path.join(rig.dir, "pools.conf")
        with open(extra, "w") as f:
            f.write("""
[handlers]
dir = "%(handlers)s"

[runtime]
workers = 2
job_timeout_seconds = 120
max_attempts = 2
retry_initial_seconds = 1
retry_max_seconds = 1
poll_interval_ms = 200

[reply]
require_dmarc = false
sendmail = ["/usr/sbin/sendmail", "-C", "%(postfix)s"]
sender_period_seconds = 0
sendmail_retry_delay_ms = 200

[handler.versioned]
heartbeat_seconds = 1

[handler.alpha]
module = "exec"
command = ["%(alpha)s"]

[handler.beta]
module = "exec.so"
command = ["%(beta)s"]

[[routes]]
recipient = "help@example.com"
handler = "versioned"

[[routes]]
recipient = "support@example.com"
handler = "hanger"

[[routes]]
recipient = "alpha@example.com"
handler = "alpha"

[[routes]]
recipient = "beta@example.com"
handler = "beta"
""" % {"handlers": cls.handlers, "postfix": os.path.join(rig.dir, "postfix"),
       "alpha": programs["alpha"], "beta": programs["beta"]})
        rig.options += ["--conf-extra", extra]
        cls.rig = rig.start()

    def mid(self, name):
        return "<%s.%s@example.org>" % (name, self.t)

    def send(self, msgid, subject, rcpt):
        data = message([("From", "Carol <%s>" % CAROL), ("To", rcpt), ("Subject", subject),
                        ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"), ("Message-ID", msgid)],
                       body="Please help.\n")
        rc, out, qid = self.rig.swaks(data, CAROL, rcpt, xclient_addr=OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)
        return qid

    def reply_body(self, msgid, timeout=WAIT):
        path = self.rig.wait_delivered(CAROL, "In-Reply-To: %s" % msgid, timeout=timeout)
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log(self):
        with open(self.rig.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def reload(self):
        """SIGUSR1 to threadmill; waits until its supervisor says it reloaded."""
        before = self.log().count("supervisor: reloaded:")
        os.kill(self.rig.milter_pid(), signal.SIGUSR1)
        self.assertTrue(wait_until(lambda: self.log().count("supervisor: reloaded:") > before),
                        self.rig.tail(self.rig.log_path, 40))

    def test_01_replaced_module_answers_after_reload(self):
        m1 = self.mid("v1")
        self.send(m1, "Which version?", HELP)
        self.assertIn("versioned handler, version 1.", self.reply_body(m1))
        # A new build installed at the same path (a new file renamed over the old one).
        tmp = os.path.join(self.handlers, ".versioned.new")
        shutil.copyfile(rigutil.fixture_module("version2"), tmp)
        os.chmod(tmp, 0o644)
        os.rename(tmp, os.path.join(self.handlers, "versioned.so"))
        self.reload()
        log = self.log()
        self.assertIn("handler=versioned reload=changed", log)
        self.assertIn("handler=alpha reload=unchanged", log)
        m2 = self.mid("v2")
        self.send(m2, "Which version now?", HELP)
        self.assertIn("versioned handler, version 2.", self.reply_body(m2))

    def test_02_hung_handler_does_not_delay_another(self):
        hung = [self.mid("hang%d" % i) for i in range(3)]
        for m in hung:
            self.send(m, "Hang on", SUPPORT)
        self.assertTrue(wait_until(lambda: "handler=hanger" in self.log() and
                                   len([j for j in self.jobs("running")
                                        if j["handler"] == "hanger"]) == 2),
                        self.jobs("running"))
        start = time.time()
        m = self.mid("free")
        self.send(m, "Not stuck behind the hanger", HELP)
        self.assertIn("versioned handler", self.reply_body(m, timeout=60))
        # Far below the 120 s job time-out (the bound only guards a busy machine).
        self.assertLess(time.time() - start, 60)

    def jobs(self, state):
        import json
        p = self.rig.ctl("--json", "queue", "list", state)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def test_03_two_exec_instances_answer_their_routes(self):
        ma, mb = self.mid("alpha"), self.mid("beta")
        self.send(ma, "To alpha", ALPHA)
        self.send(mb, "To beta", BETA)
        body_a, body_b = self.reply_body(ma), self.reply_body(mb)
        self.assertIn("instance alpha answers", body_a)
        self.assertNotIn("instance beta", body_a)
        self.assertIn("instance beta answers", body_b)
        self.assertIn("alpha@example.com", body_a.split("\n\n", 1)[0])  # From: the route's address

    def test_05_heartbeat_lines_name_their_job(self):
        # Host log lines of a heartbeat carry job=heartbeat-NAME-N (it used to be empty).
        self.assertTrue(wait_until(lambda: "handler=versioned job=heartbeat-versioned-"
                                   in self.log()), self.rig.tail(self.rig.log_path, 40))
        self.assertNotIn("handler=versioned job=: versioned heartbeat", self.log())

    def test_04_route_to_missing_handler_is_refused(self):
        conf = self.rig.env["RIG_CONFIG"]
        with open(conf) as f:
            original = f.read()
        try:
            with open(conf, "a") as f:
                f.write('\n[[routes]]\nrecipient = "nobody@example.com"\nhandler = "nobody-home"\n')
            daemon = os.path.join(rigutil.build_dir(), "milter", "threadmill")
            p = subprocess.run([daemon, "-n", "-c", conf], capture_output=True, text=True)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn('handler "nobody-home" is not loaded', p.stderr)
            # A reload is refused by the daemon (its routes) and the supervisor (its handlers).
            ours = "reload refused, keeping the running configuration"
            theirs = "supervisor: reload refused"
            before = (self.log().count(ours), self.log().count(theirs))
            os.kill(self.rig.milter_pid(), signal.SIGUSR1)
            self.assertTrue(wait_until(lambda: self.log().count(ours) > before[0]
                                       and self.log().count(theirs) > before[1]),
                            self.rig.tail(self.rig.log_path, 40))
            self.assertIn('handler "nobody-home" is not loaded', self.log())
            # The running routes stay: the message is not routed, no job waits for nobody.
            m = self.mid("nobody")
            self.send(m, "Anyone?", "nobody@example.com")
            d = self.rig.wait_decision(msgid=m)
            self.assertNotIn("handler", d, d)  # routed messages name their handler(s)
            self.assertFalse([j for j in self.jobs("queued") if j["handler"] == "nobody-home"])
            # The supervisor kept its handlers.
            m2 = self.mid("still")
            self.send(m2, "Still there?", HELP)
            self.assertIn("versioned handler", self.reply_body(m2))
        finally:
            with open(conf, "w") as f:
                f.write(original)

    def test_06_jobs_of_a_vanished_module_wait_and_are_reported(self):
        # A module removed behind threadmill's back, then a supervisor restart: the start
        # cannot refuse any more, so the route's jobs wait and `queue list` says why.
        import chaosutil
        module = os.path.join(self.handlers, "hang.so")
        aside = os.path.join(self.rig.dir, "hang.so.aside")
        os.rename(module, aside)
        try:
            daemon = self.rig.milter_pid()
            old = wait_until(lambda: [k for k in chaosutil.children(daemon)
                                      if chaosutil.alive(k)])
            self.assertEqual(len(old), 1, old)
            os.kill(old[0], signal.SIGKILL)
            self.assertTrue(wait_until(lambda: self.log().count(
                'handler "hanger" is not loaded') > 0 and "its jobs wait" in self.log()),
                self.rig.tail(self.rig.log_path, 40))
            m = self.mid("vanished")
            self.send(m, "Hello?", SUPPORT)
            waiting = wait_until(lambda: [
                j for j in self.jobs("queued")
                if j["handler"] == "hanger" and j.get("waiting") == "handler-not-loaded"])
            self.assertTrue(waiting, self.jobs("queued"))
        finally:
            os.rename(aside, module)

if __name__ == "__main__":
    rigutil.main(missing())
