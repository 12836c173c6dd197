"""The DMARC reply gate end to end: the seed platform answers only mail whose DMARC passed.

One rig with the shipped autoreply handler on help@example.com and the packaged default
[reply] require_dmarc = true. example.org passes DMARC (SPF allows the simulated outside client
192.0.2.10, aligned); example.net publishes "v=spf1 -all" and p=reject, so the same client fails
DMARC. The passing sender gets a threaded reply; the failing one gets none: its MAIL FROM is not
authenticated either (SPF fails), so the decision line says noreply=unauthenticated-sender and
the handler (which honours the envelope's no_reply_reason) does not even try. enforce_dmarc stays
off, so both messages are delivered.

Reply reflection (issue 8 item 6): an attacker signs with its own domain (dkim.example, DMARC
passes for From) and sets MAIL FROM:<victim@example.net> (SPF fails). Replies go to MAIL FROM,
so threadmill must refuse: the decision line says noreply=unauthenticated-sender, the reply
rules refuse with reason=unauthenticated-sender, and nothing reaches the victim.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import rigutil  # noqa: E402
import auth_world  # noqa: E402


class ReplyGate(rigutil.RigTestCase):
    @classmethod
    def setUpClass(cls):
        rig = rigutil.Rig("gate")
        handlers = rigutil.install_handlers(rig, {"autoreply": rigutil.autoreply_module()})
        zone = os.path.join(rig.dir, "gate-zone.conf")
        with open(zone, "w") as f:
            f.write('txt-record=_dmarc.example.net,"v=DMARC1; p=reject"\n')
        extra = os.path.join(rig.dir, "gate.conf")
        with open(extra, "w") as f:
            f.write('[handlers]\ndir = "%s"\n\n[runtime]\npoll_interval_ms = 200\n\n'
                    '[reply]\nsendmail = ["/usr/sbin/sendmail", "-C", "%s/postfix"]\n\n'
                    '[[routes]]\nrecipient = "help@example.com"\nhandler = "autoreply"\n\n'
                    '[handler.autoreply]\ntemplate = "We got it."\n' % (handlers, rig.dir))
        cls.world = auth_world.World(rig.dir)  # DKIM keys: dkim.example signs
        rig.options += ["--conf-extra", extra, "--zone", zone, "--zone", cls.world.zone_path]
        cls.rig = rig
        with cls.starting():
            rig.start()
        cls.t = rigutil.token()

    def send(self, sender, n):
        msgid = "<gate-%s-%d@%s>" % (self.t, n, sender.split("@")[1])
        data = rigutil.message([("From", sender), ("To", "help@example.com"),
                                ("Subject", "question %d" % n), ("Message-ID", msgid)])
        rc, out, _ = self.rig.swaks(data, sender, "help@example.com",
                                    xclient_addr=rigutil.OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)
        return msgid, self.rig.wait_decision(msgid=msgid)

    def log_lines(self, needle, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with open(self.rig.log_path, errors="replace") as f:
                lines = [l for l in f if needle in l]
            if lines:
                return lines
            time.sleep(0.2)
        return []

    def test_1_dmarc_pass_gets_reply(self):
        msgid, d = self.send("carol@example.org", 1)
        self.assertEqual(d["dmarc"], "pass")
        self.assertEqual(d["decision"], "queued")
        reply = self.rig.wait_delivered("carol@example.org", msgid.strip("<>"), timeout=30)
        with open(reply, errors="replace") as f:
            text = f.read()
        self.assertIn("In-Reply-To: %s" % msgid, text)
        self.assertIn("From: <help@example.com>", text)

    def test_2_dmarc_fail_gets_no_reply(self):
        msgid, d = self.send("dave@example.net", 2)
        self.assertEqual(d["dmarc"], "fail")
        self.assertEqual(d["dmarc_policy"], "reject")
        self.assertEqual(d["decision"], "queued")  # the handler still sees it
        self.assertEqual(d.get("noreply"), "unauthenticated-sender", d["raw"])
        told = self.log_lines("threadmill will not reply (unauthenticated-sender)")
        self.assertTrue(told, "the handler was not told in %s" % self.rig.log_path)
        # The message itself was delivered (enforce_dmarc is off), and nothing answered it.
        self.rig.wait_delivered("help@example.com", msgid.strip("<>"))
        time.sleep(1)
        self.assertEqual(self.rig.find_delivered("dave@example.net", msgid.strip("<>")), [])

    def test_3_reflection_to_unauthenticated_mail_from_refused(self):
        victim = "dave@example.net"
        msgid = "<gate-%s-3@dkim.example>" % self.t
        data = rigutil.message([("From", "Mallory <mallory@dkim.example>"),
                                ("To", "help@example.com"), ("Subject", "Please answer my victim"),
                                ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"),
                                ("Message-ID", msgid)])
        signed = self.world.sign(rigutil.as_bytes(data), "dkim.example", "sel1")
        rc, out, _ = self.rig.swaks(signed, victim, "help@example.com",
                                    xclient_addr=rigutil.OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)
        d = self.rig.wait_decision(msgid=msgid)
        self.assertEqual(d["dmarc"], "pass", d["raw"])   # From is authenticated...
        self.assertEqual(d["spf"], "fail", d["raw"])     # ...MAIL FROM is not
        self.assertEqual(d.get("noreply"), "unauthenticated-sender", d["raw"])
        self.assertEqual(d["decision"], "queued", d["raw"])  # the handler still sees it
        job = d["job"]
        told = self.log_lines("job=%s: no autoreply to <%s>: threadmill will not reply "
                              "(unauthenticated-sender)" % (job, victim))
        self.assertTrue(told, "the handler was not told in %s" % self.rig.log_path)
        self.rig.wait_delivered("help@example.com", msgid.strip("<>"))
        time.sleep(1)
        self.assertEqual(self.rig.find_delivered(victim, msgid.strip("<>")), [])


if __name__ == "__main__":
    missing = rigutil.missing_prerequisites()
    if not missing and not os.path.exists(rigutil.autoreply_module()):
        missing = "autoreply module not built"
    if not missing:
        missing = auth_world.missing_prerequisites()
    rigutil.main(missing)
