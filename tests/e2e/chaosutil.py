"""Fault injection on the rig for "exactly one reply through any crash" (issue 14).

Used by tests/e2e/test_crash_chaos.py (bounded, in the suite) and tests/bench/chaos/run (minutes,
figures for the README). A ChaosRig is the rig's private Postfix + threadmill with the shipped
autoreply routed for help@example.com and replies reinjected through a wrapper around Postfix's
sendmail that the caller can steer with files in the rig directory:

  hold        while it exists, a starting reinjection writes waiting.PID and waits (at most 60 s)
              before it execs sendmail: a kill is then certain to land mid-reinjection
  fail-next   claimed (renamed) by the next reinjection, which fails as the file says:
              "early"  exit 75 before reading the message (nothing queued: must be sent again)
              "late"   run sendmail (queued), then exit 75 (queued: must NOT be sent again)

Every reinjection appends its pid to `reinjections`. The stream sends routed messages from
distinct senders (carol+N@example.org, outside address via XCLIENT), retrying a 4xx or a
broken connection as an MTA's queue would; a message is "accepted" once answered 250.
Replies are counted from the senders' maildirs by Message-ID and In-Reply-To.

Limits: one rig per object; pids are found through /proc (daemon -> supervisor -> workers ->
wrapper); the daemon's restart uses `rig restart-milter`. Loopback only, bounded loops.
"""

import email.parser
import json
import os
import random
import signal
import smtplib
import socket
import subprocess
import threading
import time

import rigutil
from rigutil import OUTSIDE_ADDR, bare, message

HELP = "help@example.com"
DOMAIN = "example.org"

WRAPPER = r"""#!/bin/sh
# Reinjection wrapper of the chaos rig (tests/e2e/chaosutil.py).
d='%(dir)s'
echo $$ >> "$d/reinjections"
if mv "$d/fail-next" "$d/fail.$$" 2>/dev/null; then
    mode=$(cat "$d/fail.$$")
    echo "$mode $$" >> "$d/failures"
    if [ "$mode" = early ]; then
        exit 75
    fi
    /usr/sbin/sendmail -C "$d/postfix" "$@"
    exit 75
fi
if [ -e "$d/hold" ]; then
    : > "$d/waiting.$$"
    i=0
    while [ -e "$d/hold" ] && [ $i -lt 1200 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    rm -f "$d/waiting.$$"
fi
exec /usr/sbin/sendmail -C "$d/postfix" "$@"
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid):
    """Child pids of pid (from /proc/PID/task/*/children)."""
    out = []
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def alive(pid):
    """pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return False
    return text[text.rindex(")") + 2:].split()[0] != "Z"


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def wait_for(what, predicate, timeout):
    """Poll predicate until it returns something true; AssertionError after timeout seconds."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(0.05)


class Stream:
    """A routed stream at `rate` messages per second in a background thread, until stop()
    or `limit` messages. Each message is retried (4xx, connection refused or cut) every
    `retry_seconds` up to `max_tries`; accepted = answered 250."""

    def __init__(self, rig, tag, rate=4.0, limit=100000, retry_seconds=1.0, max_tries=60):
        self.rig, self.tag, self.rate, self.limit = rig, tag, rate, limit
        self.retry_seconds, self.max_tries = retry_seconds, max_tries
        self.accepted = {}  # bare Message-ID -> sender
        self.gave_up = []
        self.deferrals = 0
        self.sent = 0
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self._pacer = threading.Thread(target=self._pace, daemon=True)

    def start(self):
        self._pacer.start()
        return self

    def stop(self):
        self._stop.set()
        self._pacer.join()
        for t in list(self._threads):
            t.join()

    def accepted_count(self):
        with self.lock:
            return len(self.accepted)

    def _pace(self):
        start = time.time()
        n = 0
        while not self._stop.is_set() and n < self.limit:
            t = threading.Thread(target=self._one, args=(n,), daemon=True)
            t.start()
            self._threads.append(t)
            n += 1
            self._stop.wait(max(0.0, start + n / self.rate - time.time()))

    def _one(self, n):
        sender = "carol+c%d@%s" % (n, DOMAIN)
        msgid = "chaos%d.%s@%s" % (n, self.tag, DOMAIN)
        data = message([("From", "Carol <%s>" % sender), ("To", HELP),
                        ("Subject", "chaos %d" % n), ("Message-ID", "<%s>" % msgid)],
                       body="Please help (%d).\n" % n)
        with self.lock:
            self.sent += 1
        for _ in range(self.max_tries):
            code = self._send(sender, data)
            if code == 250:
                with self.lock:
                    self.accepted[msgid] = sender
                return
            with self.lock:
                self.deferrals += 1
            if code and code >= 500:
                break
            time.sleep(self.retry_seconds)  # the sending MTA's retry interval
        with self.lock:
            self.gave_up.append(msgid)

    def _send(self, sender, data):
        try:
            with smtplib.SMTP("127.0.0.1", self.rig.smtp_port, timeout=60) as s:
                s.ehlo("client.example.org")
                code, _ = s.docmd("XCLIENT", "ADDR=%s NAME=[UNAVAILABLE]" % OUTSIDE_ADDR)
                if code != 220:
                    return code
                s.ehlo("client.example.org")
                for code, _ in (s.mail(sender), s.rcpt(HELP)):
                    if code // 100 != 2:
                        return code
                code, _ = s.data(data.encode())
                return code
        except smtplib.SMTPResponseException as e:
            return e.smtp_code
        except (smtplib.SMTPException, OSError, socket.timeout):
            return 0


def missing():
    """A reason to skip a chaos test (the rig's prerequisites, the shipped autoreply), or None."""
    return rigutil.missing_prerequisites(handlers=("autoreply",))


class ChaosCase(rigutil.RigTestCase):
    """A test class on one ChaosRig (cls.chaos; cls.rig is its rig) made as NAME with OPTIONS
    (ChaosRig's keyword arguments) for all its cases; a held reinjection is let go before the
    rig stops."""

    NAME = None
    OPTIONS = {}

    @classmethod
    def setUpClass(cls):
        cls.chaos = ChaosRig(cls.NAME, **cls.OPTIONS)
        cls.rig = cls.chaos.rig
        with cls.starting():
            cls.chaos.start()

    @classmethod
    def tearDownClass(cls):
        cls.chaos.release()
        super().tearDownClass()


class ChaosRig:
    """The rig, the wrapper, the pids and the tally (see the module's docstring)."""

    def __init__(self, name, keep=None, workers=2, confirm_seconds=None):
        """confirm_seconds: [reply] reinject_confirm_seconds (None: threadmill's default)."""
        self.rig = rigutil.Rig(name, keep=keep)
        d = self.rig.dir
        self.dir = d
        handlers = rigutil.install_handlers(self.rig, {"autoreply": rigutil.autoreply_module()})
        self.wrapper = os.path.join(d, "chaos-sendmail")
        with open(self.wrapper, "w") as f:
            f.write(WRAPPER % {"dir": d})
        os.chmod(self.wrapper, 0o755)
        self.metrics_port = free_port()
        extra = os.path.join(d, "chaos.conf")
        with open(extra, "w") as f:
            f.write("""
[handlers]
dir = "%(handlers)s"

[runtime]
workers = %(workers)d
job_timeout_seconds = 5
max_attempts = 10
retry_initial_seconds = 1
retry_max_seconds = 2
poll_interval_ms = 200

[reply]
require_dmarc = false
sendmail = ["%(wrapper)s"]
sender_period_seconds = 0
sendmail_timeout_seconds = 90
%(confirm)s

[handler.autoreply]
template = "We got it."

[metrics]
listen = "127.0.0.1:%(port)d"

[[routes]]
recipient = "%(help)s"
handler = "autoreply"
""" % {"handlers": handlers, "wrapper": self.wrapper, "workers": workers,
                "confirm": "" if confirm_seconds is None else
                "reinject_confirm_seconds = %d" % confirm_seconds, "port": self.metrics_port, "help": HELP})
        self.rig.options += ["--conf-extra", extra]
        self.kills = {"worker": 0, "supervisor": 0, "daemon": 0}
        self.daemon_restarts = 0

    # lifecycle ------------------------------------------------------------------------------
    def start(self):
        self.rig.start()
        return self

    def stop(self):
        self.release()
        self.rig.stop()

    # pids -----------------------------------------------------------------------------------
    def daemon(self):
        pid = self.rig.milter_pid()
        return pid if pid and alive(pid) else None

    def supervisor(self):
        d = self.daemon()
        kids = [k for k in children(d) if alive(k)] if d else []
        return kids[0] if len(kids) == 1 else None

    def workers(self):
        s = self.supervisor()
        return [w for w in children(s) if alive(w)] if s else []

    def reinjecting_workers(self):
        return [w for w in self.workers()
                if any(self.wrapper in cmdline(c) or "sendmail" in cmdline(c)
                       for c in children(w))]

    # steering the wrapper -------------------------------------------------------------------
    def waiting(self):
        return sorted(int(n.split(".", 1)[1]) for n in os.listdir(self.dir)
                      if n.startswith("waiting."))

    def hold(self, timeout=120):
        """Hold reinjections and wait until one is held (a worker is mid-reinjection). Returns
        the held wrapper's pid. The bound covers a pause of replies after a daemon kill: the
        retried jobs wait for their echo on every worker while Postfix's pickup waits for its
        next scan (up to 60 s) to pass the orphaned replies through the milter."""
        open(os.path.join(self.dir, "hold"), "w").close()
        return wait_for("a reinjection to be held", self.waiting, timeout)[0]

    def release(self):
        try:
            os.unlink(os.path.join(self.dir, "hold"))
        except FileNotFoundError:
            pass

    def fail_next(self, mode):
        path = os.path.join(self.dir, "fail-next")
        with open(path + ".tmp", "w") as f:
            f.write(mode)
        os.rename(path + ".tmp", path)

    def failures(self):
        try:
            with open(os.path.join(self.dir, "failures")) as f:
                return [line.split()[0] for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def reinjections(self):
        try:
            with open(os.path.join(self.dir, "reinjections")) as f:
                return len(f.read().split())
        except FileNotFoundError:
            return 0

    # kills ----------------------------------------------------------------------------------
    def kill_worker(self, prefer_reinjecting=True, rnd=random):
        pool = (self.reinjecting_workers() if prefer_reinjecting else []) or self.workers()
        if not pool:
            return None
        pid = rnd.choice(pool)
        os.kill(pid, signal.SIGKILL)
        self.kills["worker"] += 1
        return pid

    def kill_supervisor(self, timeout=30):
        """kill -9 the supervisor; wait until the daemon has restarted it (a new pid)."""
        old = wait_for("a supervisor", self.supervisor, timeout)
        os.kill(old, signal.SIGKILL)
        self.kills["supervisor"] += 1
        wait_for("the supervisor's restart",
                 lambda: self.supervisor() not in (None, old) and self.supervisor(), timeout)
        return old

    def kill_daemon(self, timeout=60, release_while_down=False):
        """kill -9 the daemon; wait for its supervisor to notice (lifeline) and end; start the
        daemon again (rig restart-milter). release_while_down: let held reinjections finish
        while the daemon is down (sendmail hands them to Postfix's maildrop; pickup cannot
        pass them through the milter until it is back) and wait for them first."""
        d = wait_for("the daemon", self.daemon, timeout)
        sup = self.supervisor()
        os.kill(d, signal.SIGKILL)
        self.kills["daemon"] += 1
        wait_for("the killed daemon to be gone", lambda: not alive(d), timeout)
        if sup:
            wait_for("the orphaned supervisor %d to stop" % sup, lambda: not alive(sup), timeout)
        if release_while_down:
            held = self.waiting()
            self.release()
            wait_for("the held sendmail to finish", lambda: not any(alive(p) for p in held),
                     timeout)
        self.rig.restart_milter()
        self.daemon_restarts += 1
        wait_for("a supervisor after the daemon's restart", self.supervisor, timeout)
        return d

    # observation ----------------------------------------------------------------------------
    def log(self):
        with open(self.rig.log_path, errors="replace") as f:
            return f.read()

    def metric(self, name):
        """The value of a counter in /metrics (0 when absent)."""
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port,
                                    timeout=10) as r:
            text = r.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and not line.startswith("#"):
                total += float(line.split()[-1])
        return total

    def jobs(self):
        p = self.rig.ctl("--json", "queue", "list")
        if p.returncode != 0:
            raise AssertionError("threadmillctl queue list: %s" % p.stderr)
        return json.loads(p.stdout)

    def owed(self):
        """threadmillctl replies list: [{reply, state, to, ...}]."""
        p = self.rig.ctl("--json", "replies", "list")
        if p.returncode != 0:
            raise AssertionError("threadmillctl replies list: %s" % p.stderr)
        return json.loads(p.stdout)

    def replies(self):
        """Replies delivered to the senders: {In-Reply-To (bare): [Message-ID (bare), ...]}."""
        root = os.path.join(self.rig.env["RIG_MAILDIR"], DOMAIN)
        parser = email.parser.BytesHeaderParser()
        out = {}
        for dirpath, _dirs, files in os.walk(root):
            if os.path.basename(dirpath) not in ("new", "cur"):
                continue
            for name in files:
                try:
                    with open(os.path.join(dirpath, name), "rb") as f:
                        h = parser.parse(f)
                except OSError:
                    continue
                irt = bare(h.get("In-Reply-To", "") or "")
                if irt:
                    out.setdefault(irt, []).append(bare(h.get("Message-ID", "") or ""))
        return out

    def tally(self, accepted):
        """For the accepted Message-IDs: answered once, duplicates (extra copies of a reply's
        Message-ID, or more than one reply), parked uncertain (listed by `replies list`, not
        delivered), lost (neither), jobs not done/parked."""
        replies = self.replies()
        jobs = [j for j in self.jobs() if bare(j.get("msgid", "")) in accepted]
        owed = self.owed()
        uncertain = {o["to"] for o in owed if o["state"] == "uncertain"}
        res = {"accepted": len(accepted), "answered": 0, "duplicates": 0, "parked": 0,
               "lost": 0, "lost_ids": [], "dup_ids": [], "owed": owed,
               "jobs_by_state": {}}
        for j in jobs:
            res["jobs_by_state"][j["state"]] = res["jobs_by_state"].get(j["state"], 0) + 1
        for msgid, sender in accepted.items():
            got = replies.get(msgid, [])
            if got:
                res["answered"] += 1
                if len(got) > 1:
                    res["duplicates"] += len(got) - 1
                    res["dup_ids"].append((msgid, got))
            elif sender in uncertain:
                res["parked"] += 1
            else:
                res["lost"] += 1
                res["lost_ids"].append(msgid)
        return res

    def settled(self, accepted):
        """Every accepted message has a reply or an uncertain entry, and no job of theirs is
        queued, running or waiting for a retry."""
        t = self.tally(accepted)
        busy = {s: n for s, n in t["jobs_by_state"].items() if s not in ("done", "parked")}
        return t if t["lost"] == 0 and not busy else None
