#!/usr/bin/env python3
"""End-to-end: Postfix's behaviour while threadmill is down follows milter_default_action.

tempfail: SMTP clients get 451 4.7.1 and nothing is delivered; accept: mail is delivered
without a decision line; after restarting threadmill mail is filtered again.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rigutil  # noqa: E402
from rigutil import OUTSIDE_ADDR, message, token  # noqa: E402

SENDER = "carol@example.org"
RCPT = "alice@example.com"


class MilterDown(rigutil.RigTestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = rigutil.Rig("down", default_action="tempfail").start()
        cls.t = token()

    def msg(self, name):
        msgid = "<%s.%s@example.org>" % (name, self.t)
        return msgid, message([("From", SENDER), ("To", RCPT), ("Subject", "%s %s" % (name, self.t)),
                               ("Message-ID", msgid)])

    def send_until(self, name, want_ok, timeout=15):
        """Postfix reload replaces smtpd processes lazily: retry until the new setting shows."""
        deadline = time.time() + timeout
        while True:
            msgid, data = self.msg(name)
            rc, out, qid = self.rig.swaks(data, SENDER, RCPT, xclient_addr=OUTSIDE_ADDR)
            if (rc == 0) == want_ok or time.time() > deadline:
                return msgid, rc, out, qid
            time.sleep(0.5)

    def test_1_up(self):
        msgid, data = self.msg("up")
        rc, out, qid = self.rig.swaks(data, SENDER, RCPT, xclient_addr=OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)
        self.rig.wait_delivered(RCPT, msgid)
        self.rig.wait_decision(msgid=msgid)

    def test_2_down_tempfail(self):
        self.rig.stop_milter()
        self.assertFalse(self.rig.milter_alive())
        msgid, data = self.msg("downtempfail")
        rc, out, qid = self.rig.swaks(data, SENDER, RCPT, xclient_addr=OUTSIDE_ADDR)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("451 4.7.1", out)
        self.assertIsNone(qid, out)
        time.sleep(1)
        self.assertEqual(self.rig.find_delivered(RCPT, msgid), [])

    def test_3_down_accept(self):
        self.rig.postconf("milter_default_action = accept")
        msgid, rc, out, qid = self.send_until("downaccept", want_ok=True)
        self.assertEqual(rc, 0, out)
        self.rig.wait_delivered(RCPT, msgid)
        self.assertFalse([d for d in self.rig.decisions() if d.get("msgid", "").strip("<>") == msgid.strip("<>")])

    def test_4_restarted(self):
        self.rig.postconf("milter_default_action = tempfail")
        self.rig.restart_milter()
        self.assertTrue(self.rig.milter_alive())
        msgid, data = self.msg("restarted")
        rc, out, qid = self.rig.swaks(data, SENDER, RCPT, xclient_addr=OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)
        self.rig.wait_delivered(RCPT, msgid)
        d = self.rig.wait_decision(msgid=msgid)
        self.assertEqual(d["qid"], qid)
        # The first message's record survived the restart (same LMDB store).
        self.assertIsNotNone(self.rig.lookup("<up.%s@example.org>" % self.t))


if __name__ == "__main__":
    rigutil.main(rigutil.missing_prerequisites())
