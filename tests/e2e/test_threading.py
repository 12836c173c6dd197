#!/usr/bin/env python3
"""End-to-end: a real Postfix with threadmill as smtpd_milters/non_smtpd_milters.

One conversation, in order (the cases build on each other, hence the numbers):
outbound via sendmail -> inbound reply via swaks (XCLIENT outside address) -> outbound reply
to the reply -> inbound with References only -> 101 References -> Thread-Index fallback ->
unknown parent. Every message must also reach the Maildir.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rigutil  # noqa: E402
from rigutil import OUTSIDE_ADDR, bare, message  # noqa: E402

ALICE = "alice@example.com"     # our side (outbound)
CAROL = "carol@example.org"     # the outside correspondent


class Conversation(rigutil.ConversationCase):
    @classmethod
    def make_rig(cls):
        return rigutil.Rig("threading")

    def inbound(self, msgid, subject, extra_headers, rcpt=ALICE):
        data = message([("From", "Carol <%s>" % CAROL), ("To", rcpt), ("Subject", subject),
                        ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"), ("Message-ID", msgid)]
                       + extra_headers, body="Reply text %s\n" % msgid)
        rc, out, qid = self.rig.swaks(data, CAROL, rcpt, xclient_addr=OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)
        self.assertIsNotNone(qid, out)
        self.rig.wait_delivered(rcpt, "Message-ID: %s" % msgid)
        d = self.rig.wait_decision(msgid=msgid)
        self.assertEqual(d["qid"], qid, d["raw"])
        self.assertEqual(d["direction"], "inbound", d["raw"])
        return d

    def outbound(self, msgid, subject, extra_headers, rcpt=CAROL):
        data = message([("From", "Alice <%s>" % ALICE), ("To", rcpt), ("Subject", subject),
                        ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"), ("Message-ID", msgid)]
                       + extra_headers, body="Text %s\n" % msgid, crlf=False)
        self.rig.sendmail(data, ALICE, rcpt)
        self.rig.wait_delivered(rcpt, "Message-ID: %s" % msgid)
        d = self.rig.wait_decision(msgid=msgid)
        self.assertEqual(d["direction"], "outbound", d["raw"])
        self.assertEqual(d["decision"], "recorded", d["raw"])
        return d

    # ------------------------------------------------------------------------------------------

    def test_01_outbound_sendmail_recorded(self):
        d = self.outbound(self.mid("out1"), "Quote request %s" % self.t, [])
        self.assertTrue(d["thread"], d["raw"])
        self.assertEqual(bare(d["msgid"]), bare(self.mid("out1")))
        self.assertIn(CAROL, d.get("to", ""), d["raw"])
        self.assertIn(ALICE, d.get("from", ""), d["raw"])
        self.assertEqual(d.get("refs"), "0", d["raw"])
        type(self).thread = d["thread"]
        rec = self.assertLookup(self.mid("out1"), d["thread"], "outbound")
        self.assertTrue(rec.get("time"), rec)

    def test_02_inbound_reply_matched_in_reply_to(self):
        thread = self.need_thread()
        d = self.inbound(self.mid("in1"), "Re: Quote request %s" % self.t,
                         [("In-Reply-To", self.mid("out1")), ("References", self.mid("out1"))])
        self.assertMatched(d, "in-reply-to", self.mid("out1"), thread, "1")
        self.assertLookup(self.mid("in1"), thread, "inbound")
        self.assertThreadHolds(thread, "out1", "in1")

    def test_03_reply_to_reply_outbound_stays_in_thread(self):
        thread = self.need_thread()
        d = self.outbound(self.mid("out2"), "Re: Quote request %s" % self.t,
                          [("In-Reply-To", self.mid("in1")),
                           ("References", "%s %s" % (self.mid("out1"), self.mid("in1")))])
        self.assertEqual(d["thread"], thread, d["raw"])
        self.assertLookup(self.mid("out2"), thread, "outbound")

    def test_04_inbound_references_only(self):
        thread = self.need_thread()
        refs = "%s\r\n %s\r\n %s" % (self.mid("out1"), self.mid("in1"), self.mid("out2"))  # folded
        d = self.inbound(self.mid("in2"), "Re: Quote request %s" % self.t, [("References", refs)])
        self.assertMatched(d, "references", self.mid("out2"), thread, "3")
        self.assertLookup(self.mid("in2"), thread, "inbound")
        self.assertThreadHolds(thread, "out1", "in1", "out2", "in2")

    def test_05_references_over_limit_no_reply(self):
        thread = self.need_thread()
        refs = ["<old%03d.%s@example.org>" % (i, self.t) for i in range(100)] + [self.mid("out2")]
        d = self.inbound(self.mid("in3"), "Re: loop %s" % self.t,
                         [("In-Reply-To", self.mid("out2")), ("References", "\r\n ".join(refs))])
        self.assertEqual(d["decision"], "no-reply", d["raw"])
        self.assertEqual(d["reason"], "references", d["raw"])
        self.assertEqual(d["refs"], "101", d["raw"])
        self.assertEqual(d["thread"], thread, d["raw"])

    def test_06_exactly_max_references_is_fine(self):
        thread = self.need_thread()
        refs = ["<old%03d.%s@example.org>" % (i, self.t) for i in range(99)] + [self.mid("out2")]
        d = self.inbound(self.mid("in4"), "Re: long %s" % self.t, [("References", "\r\n ".join(refs))])
        self.assertEqual(d["refs"], "100", d["raw"])
        self.assertEqual(d["decision"], "matched", d["raw"])
        self.assertEqual(d["thread"], thread, d["raw"])

    def test_06b_references_counted_as_listed(self):
        # Issue 11: duplicates count; a last id cut by a relay does not.
        thread = self.need_thread()
        refs = [self.mid("out2")] * 101
        d = self.inbound(self.mid("indup"), "Re: dup %s" % self.t, [("References", " ".join(refs))])
        self.assertEqual(d["refs"], "101", d["raw"])
        self.assertEqual(d["decision"], "no-reply", d["raw"])
        self.assertEqual(d["thread"], thread, d["raw"])
        refs = ["<old%03d.%s@example.org>" % (i, self.t) for i in range(99)] + [self.mid("out2")]
        d = self.inbound(self.mid("incut"), "Re: cut %s" % self.t,
                         [("References", "\r\n ".join(refs) + "\r\n <cut-by-a-rel")])
        self.assertEqual(d["refs"], "100", d["raw"])
        self.assertEqual(d["decision"], "matched", d["raw"])

    def test_07_thread_index_only(self):
        guid = os.urandom(16)
        out = self.outbound(self.mid("outti"), "Outlook thread %s" % self.t,
                            [("Thread-Topic", "Outlook thread"), ("Thread-Index", rigutil.thread_index(guid, 0))])
        d = self.inbound(self.mid("inti"), "RE: Outlook thread %s" % self.t,
                         [("Thread-Topic", "Outlook thread"), ("Thread-Index", rigutil.thread_index(guid, 1))])
        self.assertEqual(d["decision"], "matched", d["raw"])
        self.assertEqual(d["match"], "thread-index", d["raw"])
        self.assertEqual(d["thread"], out["thread"], d["raw"])
        # Issue 11: the longest known prefix of the conversation names the parent.
        self.assertEqual(bare(d["parent"]), bare(self.mid("outti")), d["raw"])
        self.outbound(self.mid("outti2"), "RE: Outlook thread %s" % self.t,
                      [("Thread-Topic", "Outlook thread"), ("Thread-Index", rigutil.thread_index(guid, 2))])
        d3 = self.inbound(self.mid("inti3"), "RE: Outlook thread %s" % self.t,
                          [("Thread-Topic", "Outlook thread"), ("Thread-Index", rigutil.thread_index(guid, 3))])
        self.assertEqual(d3["match"], "thread-index", d3["raw"])
        self.assertEqual(bare(d3["parent"]), bare(self.mid("outti2")), d3["raw"])
        self.assertEqual(d3["thread"], out["thread"], d3["raw"])
        rec = self.assertLookup(self.mid("inti3"), out["thread"], "inbound")
        self.assertEqual(bare(rec["parent"]), bare(self.mid("outti2")), rec)
        listed = {bare(m["msgid"]): m for m in self.rig.thread(out["thread"])["messages"]}
        self.assertEqual(bare(listed[bare(self.mid("inti3"))]["parent"]), bare(self.mid("outti2")))

    def test_07b_thread_index_root_never_sent(self):
        # A conversation root only inbound mail carried matches nothing by itself.
        guid = os.urandom(16)
        first = self.inbound(self.mid("inforeign1"), "Foreign Outlook %s" % self.t,
                             [("Thread-Index", rigutil.thread_index(guid, 1))])
        self.assertEqual(first["match"], "none", first["raw"])
        second = self.inbound(self.mid("inforeign2"), "RE: Foreign Outlook %s" % self.t,
                              [("Thread-Index", rigutil.thread_index(guid, 2))])
        self.assertEqual(second["match"], "none", second["raw"])
        self.assertNotEqual(second["thread"], first["thread"], second["raw"])

    def test_07c_auto_responders_never_answered(self):
        # Issue 11: each dialect is recognised by the milter, with its own reason keyword.
        for name, headers, reason in (
                ("inrobot1", [("X-Autoreply", "yes"), ("Precedence", "auto_reply")], "precedence"),
                ("inrobot2", [("X-Autoreply", "yes")], "x-autoreply"),
                ("inrobot3", [("X-Auto-Response-Suppress", "All")], "x-auto-response-suppress"),
                ("inrobot4", [("Feedback-ID", "1:campaign:esp")], "bulk")):
            d = self.inbound(self.mid(name), "Out of office %s" % self.t, headers)
            self.assertEqual(d.get("noreply"), reason, d["raw"])

    def test_08_unknown_parent_new_thread(self):
        d = self.inbound(self.mid("in5"), "Re: something else %s" % self.t,
                         [("In-Reply-To", "<never-seen.%s@example.org>" % self.t)])
        self.assertEqual(d["decision"], "new-thread", d["raw"])
        self.assertEqual(d["match"], "none", d["raw"])
        self.assertTrue(d["thread"], d["raw"])
        if type(self).thread:
            self.assertNotEqual(d["thread"], type(self).thread, d["raw"])

    def test_09_fresh_inbound_new_thread(self):
        d = self.inbound(self.mid("in6"), "Hello %s" % self.t, [])
        self.assertEqual(d["decision"], "new-thread", d["raw"])
        self.assertEqual(d["match"], "none", d["raw"])

    def test_10_outbound_smtp_without_message_id(self):
        # From an internal host (127.0.0.1, no XCLIENT): outbound. Either Postfix or threadmill
        # adds the Message-ID; the delivered copy must carry exactly one, and it is the one
        # threadmill recorded.
        subject = "No id %s" % self.t
        data = message([("From", ALICE), ("To", CAROL), ("Subject", subject)])
        rc, out, qid = self.rig.swaks(data, ALICE, CAROL)
        self.assertEqual(rc, 0, out)
        path = self.rig.wait_delivered(CAROL, subject)
        head = rigutil.delivered_head(path)
        ids = rigutil.header_values(head, "Message-ID")
        self.assertEqual(len(ids), 1, head)
        d = self.rig.wait_decision(qid=qid)
        self.assertEqual(d["direction"], "outbound", d["raw"])
        self.assertEqual(d["decision"], "recorded", d["raw"])
        self.assertEqual(bare(d["msgid"]), bare(ids[0]), d["raw"])
        self.assertLookup(ids[0], d["thread"], "outbound")

    def test_11_submission_daemon_is_outbound(self):
        # Outside client address, but on the ORIGINATING (submission) smtpd: outbound.
        msgid = self.mid("outsub")
        data = message([("From", ALICE), ("To", CAROL), ("Subject", "Submitted %s" % self.t),
                        ("Message-ID", msgid)])
        rc, out, qid = self.rig.swaks(data, ALICE, CAROL, xclient_addr=OUTSIDE_ADDR,
                                      port=self.rig.submission_port)
        self.assertEqual(rc, 0, out)
        self.rig.wait_delivered(CAROL, msgid)
        d = self.rig.wait_decision(msgid=msgid)
        self.assertEqual(d["direction"], "outbound", d["raw"])
        self.assertEqual(d["decision"], "recorded", d["raw"])

    def test_12_multiple_recipients_one_line(self):
        msgid = self.mid("inmulti")
        rcpts = ["alice@example.com", "bob@example.com", "help@example.net"]
        data = message([("From", CAROL), ("To", ", ".join(rcpts)), ("Subject", "Many %s" % self.t),
                        ("Message-ID", msgid), ("In-Reply-To", self.mid("out1"))])
        rc, out, qid = self.rig.swaks(data, CAROL, rcpts, xclient_addr=OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)
        for r in rcpts:
            self.rig.wait_delivered(r, msgid)
        d = self.rig.wait_decision(msgid=msgid)
        for r in rcpts:
            self.assertIn(r, d.get("to", ""), d["raw"])
        lines = [x for x in self.rig.decisions() if bare(x.get("msgid")) == bare(msgid)]
        self.assertEqual(len(lines), 1, [x["raw"] for x in lines])

    def test_13_ctl_unknown_msgid(self):
        p = self.rig.ctl("lookup", "<unknown.%s@example.org>" % self.t)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertTrue((p.stdout + p.stderr).strip(), "threadmillctl should say why")

    def test_14_ctl_text_output(self):
        thread = self.need_thread()
        p = self.rig.ctl("lookup", self.mid("out1"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(thread, p.stdout)
        p = self.rig.ctl("thread", thread)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(bare(self.mid("in1")), p.stdout)

    def test_99_daemon_alive_and_every_line_well_formed(self):
        self.assertTrue(self.rig.milter_alive(), "threadmill died")
        for d in self.rig.decisions():
            for key in ("direction", "from", "to", "msgid", "refs", "thread", "match", "parent",
                        "decision", "reason"):
                self.assertIn(key, d, d["raw"])
            self.assertIn(d["direction"], ("inbound", "outbound"), d["raw"])
            self.assertIn(d["match"], ("in-reply-to", "references", "thread-index", "token", "none"), d["raw"])


if __name__ == "__main__":
    rigutil.main(rigutil.missing_prerequisites())
