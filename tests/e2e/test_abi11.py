#!/usr/bin/env python3
"""End-to-end: handler ABI 1.1 through a real Postfix (tests/e2e/rig) and threadmill.

The fixture module tests/handlers/fixtures/abi11.c ("abi11") is routed abi@example.com. It
answers with reply_ex (its own subject, html, an attachment, an extra header), reads the
thread with host->thread, and from on_heartbeat starts a conversation with send_ex (cc and a
binary attachment). Its kv records say what the host returned; the test compares them with
what Postfix delivered to the Maildirs:
  - the reply: subject, attachment name/type/bytes, X-Abi11, In-Reply-To/References, and the
    Message-ID reply_ex returned is the delivered one and is recorded in the same thread;
  - host->thread shows the inbound message and the reply (directions, ids);
  - the heartbeat's send_ex: delivered to To and Cc with its attachment; the Message-ID and
    thread id it returned are the delivered / recorded ones (owner abi11); the log's send
    line names msgid=<that id>;
  - init may not send (not-allowed-in-init).
"""

import email
import email.policy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rigutil  # noqa: E402
from rigutil import OUTSIDE_ADDR, bare, message, token, wait_until  # noqa: E402

ABI = "abi@example.com"
CAROL = "carol@example.org"
DAVE = "dave@example.org"
WAIT = 90  # bounds a failing run only (busy machines); a passing run never waits it out


def parse(path):
    with open(path, "rb") as f:
        return email.message_from_binary_file(f, policy=email.policy.default)


def attachments(msg):
    return [(p.get_filename(), p.get_content_type(), p.get_payload(decode=True))
            for p in msg.iter_attachments()]


class Abi11(rigutil.RigTestCase):

    @classmethod
    def setUpClass(cls):
        cls.t = token()
        rig = rigutil.fixture_rig("abi11", "abi11")
        rigutil.add_conf(rig, "abi11.conf", """
[handlers]
dir = "%(handlers)s"

[runtime]
workers = 2
poll_interval_ms = 200
""" + rigutil.REPLY_CONF + """
[handler.abi11]
from = "abi@example.com"
heartbeat_seconds = 1
heartbeat_to = "%(carol)s"
heartbeat_cc = "%(dave)s"

[[routes]]
recipient = "abi@example.com"
handler = "abi11"
""", carol=CAROL, dave=DAVE)
        cls.rig = rig.start()

    def delivered_to(self, rcpt, needle):
        """Delivered copies in rcpt's own Maildir (find_delivered searches the whole domain)."""
        local = rcpt.split("@", 1)[0].lower()
        return [p for p in self.rig.find_delivered(rcpt, needle)
                if os.sep + local + os.sep in p]

    def test_01_reply_ex_subject_attachment_and_message_id(self):
        m = "<q1.%s@example.org>" % self.t
        data = message([("From", "Carol <%s>" % CAROL), ("To", ABI), ("Subject", "Quarterly"),
                        ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"), ("Message-ID", m),
                        ("References", "<root.%s@example.org>" % self.t)],
                       body="Send me the report.\n")
        rc, out, qid = self.rig.swaks(data, CAROL, ABI, xclient_addr=OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)
        returned = self.wait_kv("abi11", "reply:%s" % m)
        self.assertTrue(returned.startswith("<") and returned.endswith("@example.com>"),
                        returned)
        path = self.rig.wait_delivered(CAROL, "In-Reply-To: %s" % m, timeout=WAIT)
        msg = parse(path)
        self.assertEqual(msg["Message-ID"].strip(), returned)  # what reply_ex returned
        self.assertEqual(str(msg["Subject"]), "ABI 1.1: Quarterly")
        self.assertEqual(msg["X-Abi11"], "yes")
        self.assertEqual(msg["Auto-Submitted"], "auto-replied")
        self.assertEqual(" ".join(str(msg["References"]).split()),
                         "<root.%s@example.org> %s" % (self.t, m))
        self.assertEqual(msg.get_content_type(), "multipart/mixed")
        self.assertEqual(attachments(msg),
                         [("report.txt", "text/plain", ("report for %s\n" % m).encode())])
        body = msg.get_body(preferencelist=("plain",))
        self.assertIn("Your report is attached.", body.get_content())
        self.assertIsNotNone(msg.get_body(preferencelist=("html",)))
        # Recorded in the inbound message's thread, owned by the handler.
        inbound = self.rig.lookup(m)
        rec = wait_until(lambda: self.rig.lookup(returned))
        self.assertEqual(rec["thread"], inbound["thread"])
        self.assertEqual(rec["owner"], "abi11")
        # host->thread after the reply: the inbound message, then the reply.
        self.assertEqual(self.wait_kv("abi11", "thread:%s" % m), "2 in:%s out:%s" % (m, returned))

    def test_02_send_ex_from_heartbeat(self):
        msgid = self.wait_kv("abi11", "hb:msgid")
        self.assertIsNone(self.rig.kv("abi11", "hb:error"))
        thread = self.wait_kv("abi11", "hb:thread")
        path = self.rig.wait_delivered(CAROL, "Message-ID: %s" % msgid, timeout=WAIT)
        msg = parse(path)
        self.assertEqual(str(msg["Subject"]), "ABI 1.1 heartbeat")
        self.assertEqual(msg["Message-ID"].strip(), msgid)
        self.assertEqual(msg["Auto-Submitted"], "auto-generated")
        self.assertIn("abi@example.com", str(msg["From"]))
        self.assertEqual([a.addr_spec for a in msg["To"].addresses], [CAROL])
        self.assertEqual([a.addr_spec for a in msg["Cc"].addresses], [DAVE])
        self.assertIsNone(msg["In-Reply-To"])
        self.assertEqual(attachments(msg),
                         [("beat.bin", "application/octet-stream", bytes(range(256)))])
        # Cc is a recipient too: a copy in dave's own Maildir.
        self.assertTrue(wait_until(lambda: self.delivered_to(DAVE, "Message-ID: %s" % msgid)),
                        self.rig.delivery_diagnostics())
        # The returned thread id is the recorded one; the handler owns it.
        rec = wait_until(lambda: self.rig.lookup(msgid))
        self.assertEqual(rec["thread"], thread)
        self.assertEqual(rec["owner"], "abi11")
        # Sent once (the handler's kv guard), and the log names the new Message-ID.
        with open(self.rig.log_path, errors="replace") as f:
            self.assertIn("msgid=%s" % msgid, f.read())
        self.assertEqual(len(self.delivered_to(CAROL, "Message-ID: %s" % msgid)), 1)

    def test_03_init_may_not_send(self):
        value = self.wait_kv("abi11", "init:send")
        self.assertEqual(value, "3 not-allowed-in-init")


if __name__ == "__main__":
    rigutil.main(rigutil.missing_prerequisites(fixtures=("abi11",)))
