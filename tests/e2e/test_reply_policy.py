#!/usr/bin/env python3
"""End-to-end: reply policies, predicted refusals and owner routing (issue 10 items 2-4).

One rig (tests/e2e/rig: a real Postfix, dnsmasq, threadmill) with the fixture handler
"testgood" (tests/handlers/fixtures/good.c: replies on "[reply]" and records what it saw,
including its envelope's no_reply_reason and flags, in its kv records) routed on help@ under
its default policy (conversation: testgood is not the autoreply) and on ooo@ with a route
policy of vacation. [reply] require_dmarc keeps its packaged default (on): example.org passes
DMARC (SPF for the outside client, aligned, p=none), partner.example.com passes SPF but
publishes no DMARC record (dmarc=none; an extra zone of this module).

Cases: a second message in a conversation is answered under conversation and refused under
vacation (reason=rate-sender policy=vacation in the reply line, and predicted in the
envelope); a dmarc=none message's envelope already says no_reply_reason=dmarc; a
correspondent's mail to alice@ in the bot-owned thread is not routed to the bot
(owner_skipped=testgood), while mail to the bot's own from address is; a robot answering
at once is stopped by the conversation loop guard (reason=loop).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rigutil  # noqa: E402
from rigutil import OUTSIDE_ADDR, message, token, wait_until  # noqa: E402

HELP = "help@example.com"
OOO = "ooo@example.com"
BOT = "bot@example.com"
ALICE = "alice@example.com"
NO_REPLY_FLAG = 1 << 4  # THREADMILL_ENV_NO_REPLY
WAIT = 90


class ReplyPolicy(rigutil.RigTestCase):

    @classmethod
    def setUpClass(cls):
        cls.t = token()
        rig = rigutil.fixture_rig("policy")
        zone = os.path.join(rig.dir, "policy-zone.conf")
        with open(zone, "w") as f:
            f.write('txt-record=partner.example.com,"v=spf1 ip4:192.0.2.0/24 -all"\n')
        rigutil.add_conf(rig, "handlers.conf", """
[handlers]
dir = "%(handlers)s"

[runtime]
workers = 2
job_timeout_seconds = 30
poll_interval_ms = 200

[reply]
sendmail = ["/usr/sbin/sendmail", "-C", "%(postfix)s"]
sendmail_retry_delay_ms = 200

[handler.testgood]
from = "bot@example.com"
loop_max_fast_turns = 2

[[routes]]
recipient = "help@example.com"
handler = "testgood"

[[routes]]
recipient = "ooo@example.com"
handler = "testgood"
policy = "vacation"
""")
        rig.options += ["--zone", zone]
        cls.rig = rig
        with cls.starting():
            rig.start()

    # helpers
    def mid(self, name):
        return "<%s.%s@example.org>" % (name, self.t)

    def send(self, msgid, subject, sender, rcpt, extra=()):
        data = message([("From", sender), ("To", rcpt), ("Subject", subject),
                        ("Date", "Mon, 07 Dec 2026 09:00:00 +0000"), ("Message-ID", msgid)]
                       + list(extra), body="Hello bot.\n")
        rc, out, qid = self.rig.swaks(data, sender, rcpt, xclient_addr=OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)
        return self.rig.wait_decision(msgid=msgid)

    def reply_to(self, sender, msgid):
        """The Message-ID of the reply to msgid delivered to sender."""
        path = self.rig.wait_delivered(sender, "In-Reply-To: %s" % msgid, timeout=WAIT)
        head = rigutil.delivered_head(path, unfold=True)
        return rigutil.header_values(head, "Message-ID")[0].strip()

    def reply_line(self, msgid):
        """The replier's log line for msgid (reply job=... decision=...)."""
        def find():
            with open(self.rig.log_path, errors="replace") as f:
                for line in f:
                    if " reply job=" in line and "msgid=%s" % msgid in line:
                        return line
            return None
        line = wait_until(find)
        self.assertIsNotNone(line, "no reply line for %s" % msgid)
        return line

    @staticmethod
    def env_field(env, key):
        for part in env.split(" "):
            if part.startswith(key + "="):
                return part[len(key) + 1:]
        return None

    def turn_twice(self, sender, rcpt, name):
        """Two turns of one conversation to rcpt: returns (second msgid, its kv reply value,
        its kv env)."""
        first = self.mid(name + "1")
        d = self.send(first, "Question [reply]", sender, rcpt)
        self.assertEqual(d["dmarc"], "pass", d["raw"])
        self.assertEqual(self.wait_kv("testgood", "reply:%s" % first), "0 ")
        reply = self.reply_to(sender, first)
        second = self.mid(name + "2")
        self.send(second, "Re: Question [reply]", sender, rcpt,
                  extra=[("In-Reply-To", reply), ("References", "%s %s" % (first, reply))])
        return (second, self.wait_kv("testgood", "reply:%s" % second),
                self.wait_kv("testgood", "env:%s" % second), reply)

    # cases
    def test_1_conversation_answers_the_second_turn(self):
        carol = "carol@example.org"
        second, got, env, reply = self.turn_twice(carol, HELP, "conv")
        self.assertEqual(got, "0 ", env)
        self.assertEqual(self.env_field(env, "no_reply"), "")
        self.assertEqual(self.env_field(env, "allowed"), "1", env)
        self.rig.wait_delivered(carol, "In-Reply-To: %s" % second, timeout=WAIT)
        line = self.reply_line(second)
        self.assertIn("decision=sent", line)
        self.assertIn("policy=conversation", line)
        type(self).bot_reply = reply

    def test_2_vacation_refuses_the_second_turn(self):
        erin = "erin@example.org"
        second, got, env, _ = self.turn_twice(erin, OOO, "vac")
        # Predicted at dispatch (the envelope) and refused at reply time, with the reason.
        self.assertEqual(self.env_field(env, "no_reply"), "rate-sender", env)
        self.assertEqual(self.env_field(env, "allowed"), "0", env)  # reply_allowed
        self.assertTrue(int(self.env_field(env, "flags")) & NO_REPLY_FLAG, env)
        self.assertEqual(got, "1 rate-sender")
        line = self.reply_line(second)
        self.assertIn("decision=refused reason=rate-sender", line)
        self.assertIn("policy=vacation", line)
        time.sleep(1)
        self.assertEqual(self.rig.find_delivered(erin, "In-Reply-To: %s" % second), [])

    def test_3_dmarc_none_is_predicted_in_the_envelope(self):
        pat = "pat@partner.example.com"
        m = self.mid("none")
        d = self.send(m, "No DMARC here [reply]", pat, HELP)
        self.assertEqual(d["dmarc"], "none", d["raw"])
        self.assertEqual(d["spf"], "pass", d["raw"])
        self.assertNotIn("noreply", d, d["raw"])  # the milter alone sees no reason
        env = self.wait_kv("testgood", "env:%s" % m)
        self.assertEqual(self.env_field(env, "no_reply"), "dmarc", env)
        self.assertEqual(self.env_field(env, "allowed"), "0", env)  # reply_allowed
        self.assertTrue(int(self.env_field(env, "flags")) & NO_REPLY_FLAG, env)
        self.assertEqual(self.wait_kv("testgood", "reply:%s" % m), "1 dmarc")

    def test_4_mail_to_a_person_in_the_bots_thread_stays_with_the_person(self):
        reply = getattr(type(self), "bot_reply", None)
        if not reply:
            self.skipTest("no bot reply from case 1")
        carol = "carol@example.org"
        to_alice = self.mid("to-alice")
        d = self.send(to_alice, "Re: Question [reply]", carol, ALICE,
                      extra=[("In-Reply-To", reply), ("References", reply)])
        self.assertEqual(d.get("owner_skipped"), "testgood", d["raw"])
        self.assertNotIn("job", d, d["raw"])
        self.rig.wait_delivered(ALICE, to_alice.strip("<>"), timeout=WAIT)
        # Addressed to the bot's own from address, the same answer reaches the bot.
        to_bot = self.mid("to-bot")
        d = self.send(to_bot, "Re: Question", carol, BOT,
                      extra=[("In-Reply-To", reply), ("References", reply)])
        self.assertEqual(d.get("handler"), "testgood", d["raw"])
        env = self.wait_kv("testgood", "env:%s" % to_bot)
        self.assertIn("owner=testgood", env)
        # Nothing ran for alice's copy (its job would have been queued with the decision).
        self.assertIsNone(self.rig.kv("testgood", "seen:%s" % to_alice))
        self.assertEqual(self.rig.find_delivered(carol, "In-Reply-To: %s" % to_alice), [])

    def test_5_loop_guard_stops_a_fast_robot(self):
        # Four messages of one sender within seconds (a robot answering at once): the first
        # and loop_max_fast_turns = 2 fast turns are answered, the next fast one is refused.
        robot = "robot@example.org"
        ids = [self.mid("loop%d" % i) for i in range(4)]
        for m in ids:
            self.send(m, "Beep [reply]", robot, HELP)
        got = sorted(self.wait_kv("testgood", "reply:%s" % m) for m in ids)
        self.assertEqual(got, ["0 ", "0 ", "0 ", "1 loop"], got)
        refused = [m for m in ids if self.rig.kv("testgood", "reply:%s" % m) == "1 loop"][0]
        line = self.reply_line(refused)
        self.assertIn("decision=refused reason=loop policy=conversation", line)


if __name__ == "__main__":
    rigutil.main(rigutil.missing_prerequisites(fixtures=("good",)))
