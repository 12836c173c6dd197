#!/usr/bin/env python3
"""End-to-end: signed reply addresses (issue 11) through a real Postfix (tests/e2e/rig).

threadmill runs with [threading] reply_token = "reply-to" and a root-only key file; help@ is
routed to the "testgood" fixture handler, which answers subjects with [reply]. The rig's
Postfix has recipient_delimiter = +, so help+TOKEN@example.com is delivered to help@.

Cases: the handler's reply carries Reply-To: help+TOKEN@example.com; a "reply" written as a
new message (no In-Reply-To, no References) to that address is put in the thread
(match=token) and reaches the thread's owner although no route names the address; the same
address with one token character changed matches nothing (match=none reason=token-invalid);
a group- or world-readable key file stops the daemon's start (threadmill -n).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rigutil  # noqa: E402
from rigutil import OUTSIDE_ADDR, bare, message, token, wait_until  # noqa: E402

HELP = "help@example.com"
CAROL = "carol@example.org"
WAIT = 90


class ReplyToken(rigutil.RigTestCase):

    @classmethod
    def setUpClass(cls):
        cls.t = token()
        rig = rigutil.fixture_rig("replytoken")
        key = os.path.join(rig.dir, "token.key")
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, os.urandom(32).hex().encode() + b"\n")
        os.close(fd)
        rigutil.add_conf(rig, "token.conf", """
[threading]
reply_token = "reply-to"
token_key_files = ["%(key)s"]

[handlers]
dir = "%(handlers)s"

[runtime]
workers = 1
poll_interval_ms = 200

[reply]
require_dmarc = false
require_authenticated_sender = false
sendmail = ["/usr/sbin/sendmail", "-C", "%(postfix)s"]
sender_period_seconds = 0
sendmail_retry_delay_ms = 200

[[routes]]
recipient = "help@example.com"
handler = "testgood"
""", key=key)
        cls.rig = rig.start()

    def mid(self, name):
        return "<%s.%s@example.org>" % (name, self.t)

    def send(self, msgid, subject, rcpt, extra=()):
        data = message([("From", "Carol <%s>" % CAROL), ("To", rcpt), ("Subject", subject),
                        ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"), ("Message-ID", msgid)]
                       + list(extra), body="Please help.\n")
        rc, out, qid = self.rig.swaks(data, CAROL, rcpt, xclient_addr=OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)
        return qid

    @staticmethod
    def headers(path):
        import email
        with open(path, "rb") as f:
            return email.message_from_binary_file(f)

    def test_01_reply_carries_token_address(self):
        m = self.mid("q1")
        self.send(m, "Printer on fire [reply]", HELP)
        path = self.rig.wait_delivered(CAROL, "In-Reply-To: %s" % m, timeout=WAIT)
        msg = self.headers(path)
        reply_to = msg["Reply-To"].strip().strip("<>")
        local, domain = reply_to.rsplit("@", 1)
        self.assertEqual(domain, "example.com", reply_to)
        self.assertTrue(local.startswith("help+"), reply_to)
        tok = local[len("help+"):]
        self.assertEqual(len(tok), 40, reply_to)
        self.assertEqual(tok, tok.lower(), reply_to)
        self.assertIn("help@example.com", msg["From"])  # reply-to mode leaves the From alone
        type(self).reply_to = reply_to
        type(self).thread_id = self.rig.lookup(m)["thread"]

    def test_02_new_message_to_token_address_joins_thread(self):
        reply_to = getattr(type(self), "reply_to", None)
        if not reply_to:
            self.skipTest("no reply from case 1")
        m = self.mid("q2")
        self.send(m, "About my printer", reply_to)  # no In-Reply-To, no References
        d = self.rig.wait_decision(msgid=m)
        self.assertEqual(d["match"], "token", d["raw"])
        self.assertEqual(d["thread"], type(self).thread_id, d["raw"])
        # No route names help+TOKEN@: the thread's owner gets it.
        env = wait_until(lambda: self.rig.kv("testgood", "env:%s" % m))
        self.assertIsNotNone(env, self.rig.tail(self.rig.log_path, 40))
        self.assertIn("thread=%s " % type(self).thread_id, env)
        self.assertIn("owner=testgood", env)
        self.rig.wait_delivered(HELP, m, timeout=WAIT)  # recipient_delimiter: help@'s mailbox

    def test_03_tampered_token_matches_nothing(self):
        reply_to = getattr(type(self), "reply_to", None)
        if not reply_to:
            self.skipTest("no reply from case 1")
        local, domain = reply_to.rsplit("@", 1)
        last = local[-1]
        forged = local[:-1] + ("a" if last != "a" else "b") + "@" + domain
        m = self.mid("q3")
        self.send(m, "About my printer", forged)
        d = self.rig.wait_decision(msgid=m)
        self.assertEqual(d["match"], "none", d["raw"])
        self.assertEqual(d["reason"], "token-invalid", d["raw"])
        self.assertNotEqual(d["thread"], type(self).thread_id, d["raw"])

    def test_04_world_readable_key_refused_at_start(self):
        import subprocess
        import tempfile
        with tempfile.TemporaryDirectory(dir=self.rig.dir) as d:
            key = os.path.join(d, "k")
            with open(key, "w") as f:
                f.write(os.urandom(32).hex())
            conf = os.path.join(d, "c.conf")
            with open(conf, "w") as f:
                f.write('[milter]\nuser = ""\n[threading]\nreply_token = "reply-to"\n'
                        'token_key_files = ["%s"]\n' % key)
            for mode, ok in ((0o644, False), (0o640, False), (0o600, True)):
                os.chmod(key, mode)
                p = subprocess.run([rigutil.threadmill_binary(), "-c", conf, "-n"],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode == 0, ok, (oct(mode), p.stdout, p.stderr))
                if not ok:
                    self.assertIn("group or world accessible", p.stderr, p.stderr)


if __name__ == "__main__":
    rigutil.main(rigutil.missing_prerequisites(fixtures=("good",)))
