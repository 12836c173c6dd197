#!/usr/bin/env python3
"""End-to-end with a real Sendmail: Debian's sendmail-bin (8.17) unpacked into a private root by
tests/sendmail/smrig, running as a daemon on 127.0.0.1 with
INPUT_MAIL_FILTER(`threadmill', `S=inet:PORT@127.0.0.1, F=T, ...').

The same conversation as tests/e2e/test_threading.py, in order (the cases build on each other):
outbound submitted with Sendmail's own sendmail binary -> inbound reply from an outside client
(matched by In-Reply-To) -> outbound reply to the reply over SMTP from inside -> inbound with
References only -> submission daemon. Every message must reach the private mailbox, and the queue
id on each decision line must be Sendmail's ({i} reaches threadmill).

How "outside" is simulated: Sendmail has no XCLIENT (Postfix's way of letting a test claim another
client address). Instead the test connects from a second loopback address, 127.0.0.2, which is a
real, different peer address on Linux's lo (127.0.0.0/8). Threadmill's [direction]
internal_hosts in this rig is ["127.0.0.1/32", "::1"], so Sendmail hands threadmill a client
address that is not internal: inbound, exactly as for a remote MTA. Mail from 127.0.0.1 (our
side, including everything the MSP relays) is outbound.

Local submission: Sendmail runs milters only for mail it receives over SMTP. `sendmail -C
submit.cf` is the mail submission program (MSP): it relays the message over SMTP to the private
MTA, where threadmill sees it as a client on 127.0.0.1. That is the path handler replies take too.
"""

import glob
import json
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import rigutil  # noqa: E402
from rigutil import bare, message, token  # noqa: E402

SMRIG = os.path.join(HERE, "smrig")
INSIDE = "127.0.0.1"
OUTSIDE = "127.0.0.2"  # not in internal_hosts: see the module docstring

ALICE = "alice@example.com"     # our side (outbound)
CAROL = "carol@example.org"     # the outside correspondent

QID = re.compile(r"^[0-9A-Za-z]{14}$")  # Sendmail 8.17 queue ids (e.g. 6AP9b3Yn020091)


class SendmailRig:
    """A running smrig: private Sendmail + threadmill under one temporary directory."""

    def __init__(self, name, *options):
        base = os.environ.get("THREADMILL_E2E_DIR") or None
        if base:
            os.makedirs(base, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="threadmill-e2e-sendmail-%s-" % name, dir=base)
        self.options = list(options)
        self.keep = bool(os.environ.get("THREADMILL_E2E_KEEP"))
        self.failed = False
        self.env = {}

    def _smrig(self, *args, check=True, timeout=180):
        env = dict(os.environ, THREADMILL_BUILD=rigutil.build_dir())
        p = subprocess.run([SMRIG, *args], env=env, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise rigutil.RigError("smrig %s failed (%d):\n%s\n%s"
                                   % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def start(self):
        p = self._smrig("start", self.dir, *self.options)
        for line in p.stdout.splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                self.env[k] = v.strip("'")
        return self

    def stop(self):
        try:
            self._smrig("stop", self.dir, check=False)
        finally:
            if self.keep or self.failed:
                print("smrig directory kept: %s" % self.dir)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)

    def pid(self, path):
        try:
            with open(os.path.join(self.dir, path)) as f:
                pid = int(f.read().split()[0])
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError, IndexError):
            return None

    # sending
    def smtp(self, data, mail_from, rcpts, source=INSIDE, port=None):
        """Send over SMTP from the given loopback source address. Returns Sendmail's queue id
        from the 250 reply ("2.0.0 <qid> Message accepted for delivery")."""
        if isinstance(rcpts, str):
            rcpts = [rcpts]
        if isinstance(data, str):
            data = data.encode()
        with smtplib.SMTP(INSIDE, port or int(self.env["SM_PORT"]), timeout=60,
                          source_address=(source, 0)) as s:
            s.ehlo("client.example.org")
            code, msg = s.mail(mail_from)
            if code // 100 != 2:
                raise smtplib.SMTPSenderRefused(code, msg, mail_from)
            for r in rcpts:
                code, msg = s.rcpt(r)
                if code // 100 != 2:
                    raise rigutil.RigError("RCPT %s refused: %d %r" % (r, code, msg))
            code, msg = s.data(data)
            if code // 100 != 2:
                raise rigutil.RigError("DATA refused: %d %r" % (code, msg))
            m = re.match(rb"2\.0\.0 ([0-9A-Za-z]+) Message accepted", msg)
            if not m:
                raise rigutil.RigError("no queue id in %r" % msg)
            return m.group(1).decode()

    def sendmail(self, data, mail_from, rcpts):
        """Submit with Sendmail's own sendmail binary (MSP, submit.cf): relayed over SMTP to the
        MTA from 127.0.0.1."""
        if isinstance(rcpts, str):
            rcpts = [rcpts]
        if isinstance(data, str):
            data = data.encode()
        p = subprocess.run([self.env["SM_SENDMAIL"], "-i", "-f", mail_from, "--", *rcpts],
                           input=data, capture_output=True, timeout=60)
        if p.returncode != 0:
            raise rigutil.RigError("sendmail failed (%d): %s"
                                   % (p.returncode, p.stderr.decode(errors="replace")))

    # results
    def delivered(self, rcpt, needle):
        if isinstance(needle, str):
            needle = needle.encode()
        box = os.path.join(self.env["SM_MAILDIR"], rcpt.split("@", 1)[0].lower())
        out = []
        for path in sorted(glob.glob(os.path.join(box, "*"))):
            if path.endswith(".tmp"):
                continue
            try:
                with open(path, "rb") as f:
                    if needle in f.read():
                        out.append(path)
            except OSError:
                pass
        return out

    def wait_delivered(self, rcpt, needle, timeout=30):
        deadline = time.time() + timeout
        while True:
            found = self.delivered(rcpt, needle)
            if found:
                return found[0]
            if time.time() > deadline:
                raise AssertionError("%r not delivered to %s within %ss; mailbox: %s; queue: %s; "
                                     "sendmail output:\n%s"
                                     % (needle, rcpt, timeout,
                                        os.listdir(self.env["SM_MAILDIR"]),
                                        os.listdir(self.env["SM_QUEUE"]),
                                        rigutil.Rig.tail(self.env["SM_LOG"])))
            time.sleep(0.1)

    def decisions(self):
        try:
            with open(self.env["RIG_LOG"], "rb") as f:
                return rigutil.parse_decisions(f.read().decode("utf-8", "replace"))
        except FileNotFoundError:
            return []

    def wait_decision(self, msgid=None, qid=None, timeout=30):
        deadline = time.time() + timeout
        while True:
            for d in self.decisions():
                if msgid is not None and bare(d.get("msgid")) != bare(msgid):
                    continue
                if qid is not None and d.get("qid") != qid:
                    continue
                return d
            if time.time() > deadline:
                raise AssertionError("no decision line for msgid=%s qid=%s within %ss; log tail:\n%s"
                                     % (msgid, qid, timeout, rigutil.Rig.tail(self.env["RIG_LOG"])))
            time.sleep(0.1)

    def ctl(self, *args):
        return subprocess.run([self.env["RIG_THREADMILLCTL"], "-c", self.env["RIG_CONFIG"], *args],
                              capture_output=True, text=True, timeout=30)

    def lookup(self, msgid):
        p = self.ctl("--json", "lookup", "<%s>" % bare(msgid))
        if p.returncode == 1:
            return None
        if p.returncode != 0:
            raise rigutil.RigError("threadmillctl lookup failed (%d): %s" % (p.returncode, p.stderr))
        return json.loads(p.stdout)

    def thread(self, thread_id):
        p = self.ctl("--json", "thread", thread_id)
        if p.returncode != 0:
            raise rigutil.RigError("threadmillctl thread failed (%d): %s%s"
                                   % (p.returncode, p.stdout, p.stderr))
        return json.loads(p.stdout)


def received_queue_id(path):
    """The queue id of the MTA's own Received header (the first one: "... with ESMTP id QID")."""
    with open(path, "rb") as f:
        head = f.read().split(b"\n\n", 1)[0].decode("utf-8", "replace")
    unfolded = re.sub(r"\r?\n[ \t]+", " ", head)
    for line in unfolded.splitlines():
        if line.lower().startswith("received:"):
            m = re.search(r"\bwith E?SMTP id ([0-9A-Za-z]+)", line)
            return m.group(1) if m else None
    return None


def missing_prerequisites():
    if os.geteuid() != 0:
        return "needs root (private Sendmail instance)"
    for tool in ("m4", "dpkg-deb", "apt-get", "unshare"):
        if shutil.which(tool) is None:
            return "missing " + tool
    if not os.access(rigutil.threadmill_binary(), os.X_OK):
        return "no threadmill binary at %s (set THREADMILL_BUILD)" % rigutil.threadmill_binary()
    # Debian's Sendmail, unpacked into the cache (downloaded on first use), like a missing
    # postfix package for the Postfix tests.
    p = subprocess.run([SMRIG, "root"], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        return "no Sendmail root (smrig root failed: %s)" % p.stderr.strip()[-300:]
    # A second loopback address is how this test plays the outside client.
    import socket
    s = socket.socket()
    try:
        s.bind((OUTSIDE, 0))
    except OSError as e:
        return "cannot bind %s (%s): no way to simulate an outside client" % (OUTSIDE, e)
    finally:
        s.close()
    return None


class SendmailConversation(unittest.TestCase):
    rig = None

    @classmethod
    def setUpClass(cls):
        cls.rig = SendmailRig("threading").start()
        cls.t = token()
        cls.ids = {}
        cls.thread = None

    @classmethod
    def tearDownClass(cls):
        if cls.rig:
            cls.rig.stop()

    def run(self, result=None):
        result = super().run(result)
        if result is not None and (result.failures or result.errors) and self.rig:
            self.rig.failed = True
        return result

    def mid(self, name):
        if name not in self.ids:
            self.ids[name] = "<%s.%s@example.%s>" % (name, self.t, "com" if name.startswith("out") else "org")
        return self.ids[name]

    def need_thread(self):
        if not type(self).thread:
            self.skipTest("the outbound message was not recorded")
        return type(self).thread

    def assertLookup(self, msgid, thread, direction):
        rec = self.rig.lookup(msgid)
        self.assertIsNotNone(rec, "threadmillctl lookup %s: unknown" % msgid)
        self.assertEqual(bare(rec["msgid"]), bare(msgid), rec)
        self.assertEqual(rec["thread"], thread, rec)
        self.assertEqual(rec["direction"], direction, rec)
        return rec

    def inbound(self, msgid, subject, extra_headers, rcpt=ALICE):
        data = message([("From", "Carol <%s>" % CAROL), ("To", rcpt), ("Subject", subject),
                        ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"), ("Message-ID", msgid)]
                       + extra_headers, body="Reply text %s\n" % msgid)
        qid = self.rig.smtp(data, CAROL, rcpt, source=OUTSIDE)
        path = self.rig.wait_delivered(rcpt, "Message-ID: %s" % msgid)
        self.assertEqual(received_queue_id(path), qid)
        d = self.rig.wait_decision(msgid=msgid)
        self.assertRegex(d["qid"], QID, d["raw"])
        self.assertEqual(d["qid"], qid, d["raw"])  # {i} reached threadmill
        self.assertEqual(d["direction"], "inbound", d["raw"])
        return d

    # ------------------------------------------------------------------------------------------

    def test_01_outbound_sendmail_binary_recorded(self):
        msgid = self.mid("out1")
        data = message([("From", "Alice <%s>" % ALICE), ("To", CAROL),
                        ("Subject", "Quote request %s" % self.t),
                        ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"), ("Message-ID", msgid)],
                       body="Text %s\n" % msgid, crlf=False)
        self.rig.sendmail(data, ALICE, CAROL)
        path = self.rig.wait_delivered(CAROL, "Message-ID: %s" % msgid)
        d = self.rig.wait_decision(msgid=msgid)
        self.assertEqual(d["direction"], "outbound", d["raw"])
        self.assertEqual(d["decision"], "recorded", d["raw"])
        self.assertTrue(d["thread"], d["raw"])
        self.assertIn(CAROL, d.get("to", ""), d["raw"])
        self.assertIn(ALICE, d.get("from", ""), d["raw"])
        self.assertEqual(d.get("refs"), "0", d["raw"])
        # The queue id on the line is the MTA's (the MSP's own id is another one).
        self.assertRegex(d["qid"], QID, d["raw"])
        self.assertEqual(d["qid"], received_queue_id(path), d["raw"])
        type(self).thread = d["thread"]
        rec = self.assertLookup(msgid, d["thread"], "outbound")
        self.assertTrue(rec.get("time"), rec)

    def test_02_inbound_reply_from_outside_matched_in_reply_to(self):
        thread = self.need_thread()
        d = self.inbound(self.mid("in1"), "Re: Quote request %s" % self.t,
                         [("In-Reply-To", self.mid("out1")), ("References", self.mid("out1"))])
        self.assertEqual(d["decision"], "matched", d["raw"])
        self.assertEqual(d["match"], "in-reply-to", d["raw"])
        self.assertEqual(bare(d["parent"]), bare(self.mid("out1")), d["raw"])
        self.assertEqual(d["thread"], thread, d["raw"])
        self.assertEqual(d["refs"], "1", d["raw"])
        self.assertLookup(self.mid("in1"), thread, "inbound")
        t = self.rig.thread(thread)
        ids = {bare(m["msgid"]) for m in t["messages"]}
        self.assertIn(bare(self.mid("out1")), ids, t)
        self.assertIn(bare(self.mid("in1")), ids, t)

    def test_03_reply_to_reply_over_smtp_from_inside_stays_in_thread(self):
        thread = self.need_thread()
        msgid = self.mid("out2")
        data = message([("From", "Alice <%s>" % ALICE), ("To", CAROL),
                        ("Subject", "Re: Quote request %s" % self.t), ("Message-ID", msgid),
                        ("In-Reply-To", self.mid("in1")),
                        ("References", "%s %s" % (self.mid("out1"), self.mid("in1")))],
                       body="Text %s\n" % msgid)
        qid = self.rig.smtp(data, ALICE, CAROL, source=INSIDE)
        self.rig.wait_delivered(CAROL, "Message-ID: %s" % msgid)
        d = self.rig.wait_decision(msgid=msgid)
        self.assertEqual(d["qid"], qid, d["raw"])
        self.assertEqual(d["direction"], "outbound", d["raw"])
        self.assertEqual(d["decision"], "recorded", d["raw"])
        self.assertEqual(d["thread"], thread, d["raw"])
        self.assertLookup(msgid, thread, "outbound")

    def test_04_inbound_references_only(self):
        thread = self.need_thread()
        refs = "%s\r\n %s\r\n %s" % (self.mid("out1"), self.mid("in1"), self.mid("out2"))  # folded
        d = self.inbound(self.mid("in2"), "Re: Quote request %s" % self.t, [("References", refs)])
        self.assertEqual(d["decision"], "matched", d["raw"])
        self.assertEqual(d["match"], "references", d["raw"])
        self.assertEqual(bare(d["parent"]), bare(self.mid("out2")), d["raw"])
        self.assertEqual(d["thread"], thread, d["raw"])
        self.assertEqual(d["refs"], "3", d["raw"])
        t = self.rig.thread(thread)
        ids = {bare(m["msgid"]) for m in t["messages"]}
        self.assertTrue({bare(self.mid(n)) for n in ("out1", "in1", "out2", "in2")} <= ids, t)

    def test_05_fresh_inbound_from_outside_new_thread(self):
        d = self.inbound(self.mid("in3"), "Hello %s" % self.t, [])
        self.assertEqual(d["decision"], "new-thread", d["raw"])
        self.assertEqual(d["match"], "none", d["raw"])
        if type(self).thread:
            self.assertNotEqual(d["thread"], type(self).thread, d["raw"])

    def test_06_submission_daemon_name_is_outbound(self):
        # Outside address, but on the listener named ORIGINATING: {daemon_name} at connect
        # makes it outbound (threadmill's default submission_daemons).
        msgid = self.mid("outmsa")
        data = message([("From", ALICE), ("To", CAROL), ("Subject", "Submitted %s" % self.t),
                        ("Message-ID", msgid)])
        qid = self.rig.smtp(data, ALICE, CAROL, source=OUTSIDE, port=int(self.rig.env["SM_MSA_PORT"]))
        self.rig.wait_delivered(CAROL, msgid)
        d = self.rig.wait_decision(msgid=msgid)
        self.assertEqual(d["qid"], qid, d["raw"])
        self.assertEqual(d["direction"], "outbound", d["raw"])
        self.assertEqual(d["decision"], "recorded", d["raw"])

    def test_07_outbound_without_message_id(self):
        # Sendmail's MSP adds a Message-ID itself; the one delivered is the one recorded.
        subject = "No id %s" % self.t
        data = message([("From", ALICE), ("To", CAROL), ("Subject", subject)], crlf=False)
        self.rig.sendmail(data, ALICE, CAROL)
        path = self.rig.wait_delivered(CAROL, subject)
        with open(path, "rb") as f:
            head = f.read().split(b"\n\n", 1)[0].decode("utf-8", "replace")
        ids = [line.split(":", 1)[1].strip() for line in head.splitlines()
               if line.lower().startswith("message-id:")]
        self.assertEqual(len(ids), 1, head)
        d = self.rig.wait_decision(qid=received_queue_id(path))
        self.assertEqual(d["decision"], "recorded", d["raw"])
        self.assertEqual(bare(d["msgid"]), bare(ids[0]), d["raw"])

    def test_08_outbound_smtp_without_message_id(self):
        # Over SMTP from inside, no Message-ID: threadmill adds one at end of message (Sendmail's
        # own H?M?Message-Id would only be added at delivery, and only when none is present).
        # The delivered copy carries exactly one, and it is the one recorded.
        subject = "No id smtp %s" % self.t
        data = message([("From", ALICE), ("To", CAROL), ("Subject", subject)])
        qid = self.rig.smtp(data, ALICE, CAROL, source=INSIDE)
        path = self.rig.wait_delivered(CAROL, subject)
        with open(path, "rb") as f:
            head = re.sub(r"\r?\n[ \t]+", " ", f.read().split(b"\n\n", 1)[0].decode("utf-8", "replace"))
        ids = [line.split(":", 1)[1].strip() for line in head.splitlines()
               if line.lower().startswith("message-id:")]
        self.assertEqual(len(ids), 1, head)
        d = self.rig.wait_decision(qid=qid)
        self.assertEqual(d["direction"], "outbound", d["raw"])
        self.assertEqual(d["decision"], "recorded", d["raw"])
        self.assertEqual(bare(d["msgid"]), bare(ids[0]), d["raw"])
        self.assertIsNotNone(self.rig.lookup(ids[0]))

    def test_09_two_messages_one_session_with_rset(self):
        # Sendmail keeps one milter connection per SMTP session and aborts it on RSET: each
        # transaction gets its own queue id, envelope and decision line, the aborted one none.
        ids = [self.mid("insess%d" % i) for i in range(3)]
        qids = {}
        with smtplib.SMTP(INSIDE, int(self.rig.env["SM_PORT"]), timeout=60,
                          source_address=(OUTSIDE, 0)) as s:
            s.ehlo("client.example.org")
            for i, msgid in enumerate(ids):
                sender = "carol%d@example.org" % i
                self.assertEqual(s.mail(sender)[0], 250)
                self.assertEqual(s.rcpt(ALICE)[0], 250)
                if i == 1:
                    self.assertEqual(s.rset()[0], 250)
                    continue
                code, msg = s.data(message([("From", sender), ("To", ALICE), ("Subject", "Session %d" % i),
                                            ("Message-ID", msgid),
                                            ("In-Reply-To", self.mid("out1"))]).encode())
                self.assertEqual(code, 250, msg)
                qids[i] = re.match(rb"2\.0\.0 (\S+) ", msg).group(1).decode()
        for i in (0, 2):
            self.rig.wait_delivered(ALICE, "Message-ID: %s" % ids[i])
            d = self.rig.wait_decision(msgid=ids[i])
            self.assertEqual(d["qid"], qids[i], d["raw"])
            self.assertIn("carol%d@example.org" % i, d["from"], d["raw"])
            self.assertEqual(d["direction"], "inbound", d["raw"])
            if type(self).thread:
                self.assertEqual(d["decision"], "matched", d["raw"])
                self.assertEqual(d["thread"], type(self).thread, d["raw"])
        time.sleep(0.5)
        self.assertEqual([x for x in self.rig.decisions() if bare(x.get("msgid")) == bare(ids[1])], [])
        self.assertEqual(len([x for x in self.rig.decisions() if "carol1@" in x.get("from", "")]), 0)

    def test_99_daemons_alive_and_every_line_well_formed(self):
        self.assertTrue(self.rig.pid("milter/milter.pid"), "threadmill died")
        self.assertTrue(self.rig.pid("sendmail.daemon.pid"), "sendmail died")
        lines = self.rig.decisions()
        self.assertTrue(lines)
        for d in lines:
            for key in ("direction", "from", "to", "msgid", "refs", "thread", "match", "parent",
                        "decision", "reason"):
                self.assertIn(key, d, d["raw"])
            self.assertRegex(d["qid"], QID, d["raw"])

    def test_z_milter_down_tempfails(self):
        # Last (after test_99): F=T in INPUT_MAIL_FILTER. With threadmill down Sendmail answers
        # MAIL with 451 4.3.2 and nothing is delivered.
        subprocess.run([rigutil.RIG, "stop-milter", os.path.join(self.rig.dir, "milter")],
                       check=True, capture_output=True, timeout=60)
        msgid = self.mid("indown")
        data = message([("From", CAROL), ("To", ALICE), ("Subject", "Down %s" % self.t),
                        ("Message-ID", msgid)])
        with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
            self.rig.smtp(data, CAROL, ALICE, source=OUTSIDE)
        self.assertEqual(cm.exception.smtp_code, 451, cm.exception)
        self.assertIn(b"4.3.2", cm.exception.smtp_error)
        time.sleep(1)
        self.assertEqual(self.rig.delivered(ALICE, msgid), [])


def autoreply_module():
    path = os.path.join(rigutil.build_dir(), "handlers", "autoreply", "autoreply.so")
    return path if os.path.exists(path) else None


class SendmailAutoreply(unittest.TestCase):
    """A message to a routed address (help@example.com -> the shipped autoreply handler): the
    reply is submitted through Sendmail's own binary ([reply] sendmail = the rig's MSP wrapper),
    passes through threadmill again as outbound mail (recorded in the thread, never handed to a
    handler again) and lands in the sender's mailbox, threaded."""

    rig = None
    workdir = None

    @classmethod
    def setUpClass(cls):
        module = autoreply_module()
        if not module:
            raise unittest.SkipTest("no handlers/autoreply/autoreply.so in %s" % rigutil.build_dir())
        cls.workdir = tempfile.mkdtemp(prefix="threadmill-e2e-sendmail-handlers-")
        handlers = os.path.join(cls.workdir, "handlers.d")
        os.makedirs(handlers)
        os.chmod(cls.workdir, 0o755)
        os.chmod(handlers, 0o755)
        shutil.copy(module, os.path.join(handlers, "autoreply.so"))
        os.chmod(os.path.join(handlers, "autoreply.so"), 0o755)
        # The rig's threadmill runs without [auth] (no DNS here), so nothing can pass DMARC:
        # require_dmarc is off for this test only. [reply] sendmail is filled in by smrig.
        conf = os.path.join(cls.workdir, "handlers.conf")
        with open(conf, "w") as f:
            f.write('[handlers]\ndir = "%s"\n\n'
                    '[runtime]\nworkers = 1\npoll_interval_ms = 200\n\n'
                    '[reply]\nrequire_dmarc = false\nsendmail = ["@SM_SENDMAIL@"]\n\n'
                    '[[routes]]\nrecipient = "help@example.com"\nhandler = "autoreply"\n\n'
                    '[handler.autoreply]\ntemplate = "Hello {sender_name}, thanks for writing '
                    'about \\"{subject}\\". A human will follow up."\n' % handlers)
        try:
            # A unix socket (S=local:...) here, as a packaged Sendmail set-up would have.
            cls.rig = SendmailRig("autoreply", "--socket", "unix", "--conf-extra", conf).start()
            # A daemon built before the handler runtime was wired in accepts the keys but runs
            # no handlers: it never logs its supervisor.
            deadline = time.time() + 10
            while not cls.supervisor_line():
                if time.time() > deadline:
                    raise unittest.SkipTest("this threadmill build runs no handlers "
                                            "(no supervisor line in its log)")
                time.sleep(0.2)
        except BaseException:
            cls.tearDownClass()  # unittest does not call it when setUpClass raises
            raise
        cls.t = token()

    @classmethod
    def supervisor_line(cls):
        try:
            with open(cls.rig.env["RIG_LOG"], errors="replace") as f:
                return [l for l in f if re.search(r"supervisor \d+ started: [1-9]\d* handler", l)]
        except OSError:
            return []

    @classmethod
    def tearDownClass(cls):
        if cls.rig:
            cls.rig.stop()
            cls.rig = None
        if cls.workdir:
            shutil.rmtree(cls.workdir, ignore_errors=True)
            cls.workdir = None

    def run(self, result=None):
        result = super().run(result)
        if result is not None and (result.failures or result.errors) and self.rig:
            self.rig.failed = True
        return result

    def test_routed_autoreply_reinjected_through_sendmail(self):
        question = "<help.%s@example.org>" % self.t
        subject = "Printer on fire %s" % self.t
        data = message([("From", "Carol <%s>" % CAROL), ("To", "help@example.com"),
                        ("Subject", subject), ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"),
                        ("Message-ID", question)], body="It is on fire.\n")
        qid = self.rig.smtp(data, CAROL, "help@example.com", source=OUTSIDE)
        d = self.rig.wait_decision(msgid=question)
        self.assertEqual(d["qid"], qid, d["raw"])
        self.assertEqual(d["direction"], "inbound", d["raw"])
        self.assertEqual(d.get("handler"), "autoreply", d["raw"])
        self.rig.wait_delivered("help@example.com", "Message-ID: %s" % question)  # action copy

        # The reply: in Carol's mailbox, threaded, through the MSP and the MTA.
        path = self.rig.wait_delivered(CAROL, "In-Reply-To: %s" % question, timeout=60)
        with open(path, "rb") as f:
            raw = f.read().decode("utf-8", "replace")
        head = re.sub(r"\r?\n[ \t]+", " ", raw.split("\n\n", 1)[0])
        hdr = {}
        received = []
        for line in head.splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                if k.lower() == "received":
                    received.append(v.strip())
                hdr.setdefault(k.lower(), v.strip())
        self.assertIn(bare(question), hdr.get("references", ""), head)
        self.assertIn("help@example.com", hdr.get("from", ""), head)
        self.assertTrue(hdr.get("subject", "").startswith("Re:"), head)
        self.assertIn(subject, hdr.get("subject", ""), head)
        self.assertEqual(hdr.get("auto-submitted"), "auto-replied", head)
        self.assertIn("thanks for writing", raw)
        # Two Received lines: the MTA's (SMTP from 127.0.0.1, the MSP relaying) and the MSP's.
        self.assertGreaterEqual(len(received), 2, head)
        self.assertRegex(received[0], r"\[127\.0\.0\.1\].*with E?SMTP id", head)
        mta_qid = received_queue_id(path)

        # threadmill saw the reply as outbound, recorded it in the question's thread.
        reply_id = hdr.get("message-id")
        self.assertTrue(reply_id, head)
        r = self.rig.wait_decision(msgid=reply_id)
        self.assertEqual(r["qid"], mta_qid, r["raw"])
        self.assertEqual(r["direction"], "outbound", r["raw"])
        self.assertEqual(r["decision"], "recorded", r["raw"])
        self.assertEqual(r["thread"], d["thread"], r["raw"])
        rec = self.rig.lookup(reply_id)
        self.assertIsNotNone(rec)
        self.assertEqual(rec["thread"], d["thread"], rec)

        # Exactly one reply, and the reply was not answered in turn.
        time.sleep(2)
        self.assertEqual(len(self.rig.delivered(CAROL, "In-Reply-To: %s" % question)), 1)
        self.assertEqual(self.rig.delivered("help@example.com", "In-Reply-To: %s" % question), [])


if __name__ == "__main__":
    why = missing_prerequisites()
    if why:
        print("SKIP: " + why)
        sys.exit(rigutil.SKIP)
    unittest.main(verbosity=2)
