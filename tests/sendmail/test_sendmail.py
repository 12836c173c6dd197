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


class SendmailRig(rigutil.RigBase):
    """A running smrig: private Sendmail + threadmill under one temporary directory."""

    SCRIPT = SMRIG
    KIND = "smrig"
    PREFIX = "threadmill-e2e-sendmail-"
    SCRIPT_TIMEOUT = 180
    LOOKUP_BARE_TOO = False

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
        with smtplib.SMTP(INSIDE, port or int(self.env["SM_PORT"]), timeout=60,
                          source_address=(source, 0)) as s:
            s.ehlo("client.example.org")
            msg = rigutil.smtp_transaction(s, mail_from, rigutil.as_list(rcpts), rigutil.as_bytes(data))
            m = re.match(rb"2\.0\.0 ([0-9A-Za-z]+) Message accepted", msg)
            if not m:
                raise rigutil.RigError("no queue id in %r" % msg)
            return m.group(1).decode()

    def sendmail(self, data, mail_from, rcpts):
        """Submit with Sendmail's own sendmail binary (MSP, submit.cf): relayed over SMTP to the
        MTA from 127.0.0.1."""
        self._submit([self.env["SM_SENDMAIL"]], data, mail_from, rcpts)

    # results
    def find_delivered(self, rcpt, needle):
        box = os.path.join(self.env["SM_MAILDIR"], rcpt.split("@", 1)[0].lower())
        return rigutil.files_containing([path for path in sorted(glob.glob(os.path.join(box, "*")))
                                         if not path.endswith(".tmp")], needle)

    def delivery_diagnostics(self):
        return "mailbox: %s; queue: %s; sendmail output:\n%s" % (
            os.listdir(self.env["SM_MAILDIR"]), os.listdir(self.env["SM_QUEUE"]),
            self.tail(self.env["SM_LOG"]))


def received_queue_id(path):
    """The queue id of the MTA's own Received header (the first one: "... with ESMTP id QID")."""
    for value in rigutil.header_values(rigutil.delivered_head(path, unfold=True), "Received"):
        m = re.search(r"\bwith E?SMTP id ([0-9A-Za-z]+)", value)
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


class SendmailConversation(rigutil.ConversationCase):
    @classmethod
    def make_rig(cls):
        return SendmailRig("threading")

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
        self.assertMatched(d, "in-reply-to", self.mid("out1"), thread, "1")
        self.assertLookup(self.mid("in1"), thread, "inbound")
        self.assertThreadHolds(thread, "out1", "in1")

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
        self.assertMatched(d, "references", self.mid("out2"), thread, "3")
        self.assertThreadHolds(thread, "out1", "in1", "out2", "in2")

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
        head = rigutil.delivered_head(path)
        ids = rigutil.header_values(head, "Message-ID")
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
        head = rigutil.delivered_head(path, unfold=True)
        ids = rigutil.header_values(head, "Message-ID")
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
        self.assertEqual(self.rig.find_delivered(ALICE, msgid), [])


class SendmailAutoreply(rigutil.RigTestCase):
    """A message to a routed address (help@example.com -> the shipped autoreply handler): the
    reply is submitted through Sendmail's own binary ([reply] sendmail = the rig's MSP wrapper),
    passes through threadmill again as outbound mail (recorded in the thread, never handed to a
    handler again) and lands in the sender's mailbox, threaded."""

    workdir = None

    @classmethod
    def setUpClass(cls):
        module = rigutil.autoreply_module()
        if not os.path.exists(module):
            raise unittest.SkipTest("no handlers/autoreply/autoreply.so in %s" % rigutil.build_dir())
        cls.workdir = tempfile.mkdtemp(prefix="threadmill-e2e-sendmail-handlers-")
        handlers = os.path.join(cls.workdir, "handlers.d")
        os.makedirs(handlers)
        os.chmod(cls.workdir, 0o755)
        os.chmod(handlers, 0o755)
        shutil.copy(module, os.path.join(handlers, "autoreply.so"))
        os.chmod(os.path.join(handlers, "autoreply.so"), 0o755)
        # The rig's threadmill runs without [auth] (no DNS here), so nothing can pass DMARC nor
        # authenticate MAIL FROM: require_dmarc and require_authenticated_sender are off for
        # this test only. [reply] sendmail is filled in by smrig.
        conf = os.path.join(cls.workdir, "handlers.conf")
        with open(conf, "w") as f:
            f.write('[handlers]\ndir = "%s"\n\n'
                    '[runtime]\nworkers = 1\npoll_interval_ms = 200\n\n'
                    '[reply]\nrequire_dmarc = false\nrequire_authenticated_sender = false\n'
                    'sendmail = ["@SM_SENDMAIL@"]\n\n'
                    '[[routes]]\nrecipient = "help@example.com"\nhandler = "autoreply"\n\n'
                    '[handler.autoreply]\ntemplate = "Hello {sender_name}, thanks for writing '
                    'about \\"{subject}\\". A human will follow up."\n' % handlers)
        with cls.starting():
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
        super().tearDownClass()
        if cls.workdir:
            shutil.rmtree(cls.workdir, ignore_errors=True)
            cls.workdir = None

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
        self.assertEqual(len(self.rig.find_delivered(CAROL, "In-Reply-To: %s" % question)), 1)
        self.assertEqual(self.rig.find_delivered("help@example.com", "In-Reply-To: %s" % question), [])


if __name__ == "__main__":
    rigutil.main(missing_prerequisites())
