#!/usr/bin/env python3
"""End-to-end: drafts edited and decided from threadmillctl, and KV paging, through a real
Postfix (tests/e2e/rig) and threadmill with the "testgood" fixture (tests/handlers/fixtures/
good.c).

Cases: a drafted reply edited with `threadmillctl drafts edit --file` and approved with a note
is delivered with the edited text and the threading headers, and the handler's
on_draft_decision ran (it writes decision:<draft id>); a draft rejected with a note tells the
handler (decision "rejected" and the note); the handler pages 25 records 10 at a time with
kv_list_after (one record put with a TTL), and `threadmillctl kv list --after/--limit`,
`kv put` and `kv delete` see and change the same records; a draft past draft_expiry_hours
(threadmillctl's clock moved by faketime) is expired, not sent, and the handler is told.
"""

import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rigutil  # noqa: E402
from rigutil import OUTSIDE_ADDR, message, token, wait_until  # noqa: E402

HELP = "help@example.com"
CAROL = "carol@example.org"
WAIT = 90  # bounds a failing run only; a passing run never waits it out


class Drafts(rigutil.RigTestCase):

    @classmethod
    def setUpClass(cls):
        cls.t = token()
        rig = rigutil.fixture_rig("drafts")
        rigutil.add_conf(rig, "drafts.conf", rigutil.TESTGOOD_DRAFTS_CONF, retry_seconds=1)
        cls.rig = rig.start()

    def mid(self, name):
        return "<%s.%s@example.org>" % (name, self.t)

    def send(self, msgid, subject):
        data = message([("From", "Carol <%s>" % CAROL), ("To", HELP), ("Subject", subject),
                        ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"), ("Message-ID", msgid)],
                       body="Please help.\n")
        rc, out, qid = self.rig.swaks(data, CAROL, HELP, xclient_addr=OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)

    def draft(self, name):
        m = self.mid(name)
        self.send(m, "Please draft [draft]")
        value = self.wait_kv("testgood", "draft:%s" % m)
        self.assertTrue(value.startswith("0 D"), value)
        return m, value[2:]

    def logged(self, needle, ctl_output=""):
        with open(self.rig.log_path, errors="replace") as f:
            return needle in f.read() or needle in ctl_output

    def test_01_edited_draft_approved_is_delivered_with_the_new_text_and_handler_told(self):
        m, draft_id = self.draft("edit")
        text = os.path.join(self.rig.dir, "edited.txt")
        with open(text, "w") as f:
            f.write("A person rewrote this answer.\n")
        p = self.rig.ctl("drafts", "edit", draft_id, "--file", text, "--note", "tone")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(self.rig.find_delivered(CAROL, "In-Reply-To: %s" % m), [])
        p = self.rig.ctl("drafts", "approve", draft_id, "--note", "looks right")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        path = self.rig.wait_delivered(CAROL, "In-Reply-To: %s" % m, timeout=WAIT)
        import email
        with open(path, "rb") as f:
            reply = email.message_from_binary_file(f)
        self.assertEqual(reply["In-Reply-To"], m)
        self.assertIn(m, reply["References"])
        body = reply.get_payload(decode=True).decode()
        self.assertIn("A person rewrote this answer.", body)
        self.assertNotIn("Drafted answer", body)
        decision = self.wait_kv("testgood", "decision:%s" % draft_id).split("|")
        self.assertEqual(decision[0], "edited+approved", decision)
        self.assertEqual(decision[1], "looks right")
        self.assertEqual(decision[2], reply["Message-ID"])
        self.assertTrue(decision[3].startswith("T"), decision)
        self.assertTrue(decision[4], "decided_by is the unix user")
        self.assertEqual(decision[5], "A person rewrote this answer.\n")
        self.assertTrue(wait_until(lambda: self.logged("draft=%s" % draft_id, p.stderr)
                                   and self.logged("action=edited+approved", p.stderr), 10))
        shown = json.loads(self.rig.ctl("--json", "drafts", "show", draft_id).stdout)
        self.assertEqual([e["action"] for e in shown["history"]], ["edited", "approved"])
        self.assertEqual(shown["history"][0]["note"], "tone")

    def test_02_rejected_with_a_note_the_handler_is_told(self):
        m, draft_id = self.draft("reject")
        p = self.rig.ctl("drafts", "reject", draft_id, "--note", "off topic")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        decision = self.wait_kv("testgood", "decision:%s" % draft_id).split("|")
        self.assertEqual(decision[:3], ["rejected", "off topic", ""], decision)
        p = self.rig.ctl("drafts", "approve", draft_id)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(self.rig.find_delivered(CAROL, "In-Reply-To: %s" % m), [])

    def test_04_expired_draft_is_not_sent_and_the_handler_told(self):
        # draft_expiry_hours = 24: threadmillctl run 25 hours in the future (faketime moves
        # only its clock) finds the draft expired, refuses to approve it and queues the
        # decision job; the daemon's supervisor runs it on the real clock.
        if not shutil.which("faketime"):
            self.skipTest("faketime (Debian package faketime) is not installed")
        m, draft_id = self.draft("expire")
        ctl = self.rig.env.get("RIG_THREADMILLCTL") or os.path.join(
            rigutil.build_dir(), "ctl", "threadmillctl")
        p = subprocess.run(["faketime", "-f", "+25h", ctl, "-c", self.rig.env["RIG_CONFIG"],
                            "drafts", "approve", draft_id], capture_output=True, text=True,
                           timeout=60)
        self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("expired", p.stdout + p.stderr)
        # The decision job was queued on the moved clock (due in 25 hours): `queue retry`
        # on the real clock makes it due now, as it would be without faketime.
        jobs = json.loads(self.rig.ctl("--json", "queue", "list", "queued").stdout)
        told = [j for j in jobs if j["msgid"] == m and not j["queue_id"]]
        self.assertEqual(len(told), 1, jobs)
        p = self.rig.ctl("queue", "retry", told[0]["id"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        decision = self.wait_kv("testgood", "decision:%s" % draft_id).split("|")
        self.assertEqual(decision[0], "expired", decision)
        shown = json.loads(self.rig.ctl("--json", "drafts", "show", draft_id).stdout)
        self.assertEqual(shown["state"], "expired", shown)
        # Nor can it be approved later on the real clock.
        p = self.rig.ctl("drafts", "approve", draft_id)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(self.rig.find_delivered(CAROL, "In-Reply-To: %s" % m), [])

    def test_03_kv_paging_with_start_after_and_ctl_put_delete(self):
        m = self.mid("kvpage")
        self.send(m, "Fill [kvpage]")
        # 25 records, pages of 10: 10 + 10 + 5.
        self.assertEqual(self.wait_kv("testgood", "kvpage:%s" % m), "25 3 page:00 page:24")
        p = self.rig.ctl("--json", "kv", "list", "testgood", "page:", "--after", "page:09",
                         "--limit", "10")
        self.assertEqual(p.returncode, 0, p.stderr)
        keys = [e["key"] for e in json.loads(p.stdout)]
        self.assertEqual(keys, ["page:%02d" % i for i in range(10, 20)])
        p = self.rig.ctl("kv", "put", "testgood", "page:99", "from ctl", "--ttl", "3600")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.rig.kv("testgood", "page:99"), "from ctl")
        p = self.rig.ctl("kv", "delete", "testgood", "page:99")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIsNone(self.rig.kv("testgood", "page:99"))


if __name__ == "__main__":
    rigutil.main(rigutil.missing_prerequisites(fixtures=("good",)))
