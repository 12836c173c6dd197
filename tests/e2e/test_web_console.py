#!/usr/bin/env python3
"""End-to-end: the approval console (threadmill-web) over HTTP, against a real Postfix rig
(tests/e2e/rig) and threadmill with the "testgood" fixture (tests/handlers/fixtures/good.c).

No browser here (the Chromium tests drive the same pages): a plain HTTP client with a cookie
jar, as a browser without JavaScript would post the forms. Cases: accounts written by
`threadmill-web passwd` (password on stdin); a real inbound message becomes a draft; an
approver logs in, edits the text and approves it: the reply is delivered with the edited text
and In-Reply-To/References intact, the audit line is in the mail log, the draft's history
says web:alice and the handler learns the decision (decided_by web:alice); a viewer's approve
is refused (403) and a post without the CSRF token too (403); reject with a note.
"""

import http.cookiejar
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rigutil  # noqa: E402
from rigutil import OUTSIDE_ADDR, message, token, wait_until  # noqa: E402

HELP = "help@example.com"
CAROL = "carol@example.org"
WAIT = 90  # bounds a failing run only


class Browserless:
    """One person's session: a cookie jar and the last page."""

    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.page = ""

    def get(self, path):
        with self.opener.open(self.base + path, timeout=30) as r:
            self.page = r.read().decode()
            return r.status, r.geturl()

    def post(self, path, fields):
        data = urllib.parse.urlencode(fields).encode()
        try:
            with self.opener.open(self.base + path, data=data, timeout=60) as r:
                self.page = r.read().decode()
                return r.status, r.geturl()
        except urllib.error.HTTPError as e:
            self.page = e.read().decode()
            return e.code, None

    def csrf(self):
        m = re.search(r'name="csrf" value="([0-9a-f]{64})"', self.page)
        return m.group(1) if m else ""

    def login(self, user, password):
        self.get("/login")
        return self.post("/login", {"csrf": self.csrf(), "user": user, "password": password})


class WebConsole(rigutil.RigTestCase):

    @classmethod
    def setUpClass(cls):
        cls.t = token()
        rig = rigutil.fixture_rig("web")
        cls.users = os.path.join(rig.dir, "web-users")
        rigutil.add_conf(rig, "web.conf", rigutil.TESTGOOD_DRAFTS_CONF + """
[web]
users_file = "%(users)s"
""", retry_seconds=1, users=cls.users)
        cls.rig = rig.start()
        config = cls.rig.env["RIG_CONFIG"]
        for user, role in (("alice", "approver"), ("victor", "viewer")):
            p = subprocess.run([rigutil.web_binary(), "-c", config, "passwd", user, "--role", role],
                               input="%s-password\n" % user, capture_output=True, text=True,
                               timeout=30)
            assert p.returncode == 0, p.stderr
        cls.web = subprocess.Popen([rigutil.web_binary(), "-c", config, "--listen", "127.0.0.1:0"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = cls.web.stdout.readline().strip()  # "listening 127.0.0.1:PORT", or EOF
        assert line.startswith("listening 127.0.0.1:"), (line, cls.web.stderr.read())
        cls.base = "http://" + line.split(" ", 1)[1]

    @classmethod
    def tearDownClass(cls):
        web = getattr(cls, "web", None)
        if web:
            web.terminate()
            web.wait(timeout=30)
        super().tearDownClass()

    def mid(self, name):
        return "<%s.%s@example.org>" % (name, self.t)

    def draft(self, name):
        m = self.mid(name)
        data = message([("From", "Carol <%s>" % CAROL), ("To", HELP),
                        ("Subject", "Please draft [draft] <script>alert(1)</script>"),
                        ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"), ("Message-ID", m)],
                       body="Please help.\n")
        rc, out, _ = self.rig.swaks(data, CAROL, HELP, xclient_addr=OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)
        value = wait_until(lambda: self.rig.kv("testgood", "draft:%s" % m))
        self.assertTrue(value and value.startswith("0 D"),
                        "no draft: %s" % self.rig.tail(self.rig.log_path, 40))
        return m, value[2:]

    def logged(self, needle):
        with open(self.rig.log_path, errors="replace") as f:
            return needle in f.read()

    def test_01_approver_edits_and_approves_the_reply_is_delivered(self):
        m, draft_id = self.draft("approve")
        alice = Browserless(self.base)
        status, where = alice.login("alice", "alice-password")
        self.assertEqual((status, urllib.parse.urlparse(where).path), (200, "/drafts"))
        self.assertIn('href="/drafts/%s"' % draft_id, alice.page)
        self.assertNotIn("<script>alert", alice.page)
        alice.get("/drafts/" + draft_id)
        self.assertIn('<section id="inbound">', alice.page)
        self.assertIn("Please help.", alice.page)
        token_ = alice.csrf()
        # No token: refused, nothing sent.
        status, _ = alice.post("/drafts/%s/approve" % draft_id, {"note": "x"})
        self.assertEqual(status, 403)
        status, _ = alice.post("/drafts/%s/edit" % draft_id,
                               {"csrf": token_, "text": "A person answered from the console.\n",
                                "note": "tone"})
        self.assertEqual(status, 200)
        self.assertIn('<p id="flash" class="">Saved</p>', alice.page)
        status, _ = alice.post("/drafts/%s/approve" % draft_id,
                               {"csrf": token_, "note": "looks right"})
        self.assertEqual(status, 200)
        self.assertIn("Sent as &lt;", alice.page, alice.page)
        path = self.rig.wait_delivered(CAROL, "In-Reply-To: %s" % m, timeout=WAIT)
        import email
        with open(path, "rb") as f:
            reply = email.message_from_binary_file(f)
        self.assertEqual(reply["In-Reply-To"], m)
        self.assertIn(m, reply["References"])
        self.assertIn("A person answered from the console.", reply.get_payload(decode=True).decode())
        self.assertTrue(wait_until(lambda: self.logged(
            "threadmill-web: action=approve draft=%s user=alice role=approver result=sent "
            "reply=%s" % (draft_id, reply["Message-ID"])), 10),
            self.rig.tail(self.rig.log_path, 30))
        decision = wait_until(lambda: self.rig.kv("testgood", "decision:%s" % draft_id)).split("|")
        self.assertEqual(decision[0], "edited+approved", decision)
        self.assertEqual(decision[1], "looks right")
        self.assertEqual(decision[4], "web:alice")
        shown = json.loads(self.rig.ctl("--json", "drafts", "show", draft_id).stdout)
        self.assertEqual([(e["action"], e["by"]) for e in shown["history"]],
                         [("edited", "web:alice"), ("approved", "web:alice")])

    def test_02_viewer_cannot_approve_and_reject_takes_a_note(self):
        m, draft_id = self.draft("viewer")
        victor = Browserless(self.base)
        victor.login("victor", "victor-password")
        victor.get("/drafts/" + draft_id)
        self.assertNotIn('id="approve"', victor.page)
        status, _ = victor.post("/drafts/%s/approve" % draft_id, {"csrf": victor.csrf()})
        self.assertEqual(status, 403)
        alice = Browserless(self.base)
        alice.login("alice", "alice-password")
        alice.get("/drafts/" + draft_id)
        status, _ = alice.post("/drafts/%s/reject" % draft_id,
                               {"csrf": alice.csrf(), "note": "off topic"})
        self.assertEqual(status, 200)
        self.assertIn('<p id="flash" class="">Rejected</p>', alice.page)
        decision = wait_until(lambda: self.rig.kv("testgood", "decision:%s" % draft_id)).split("|")
        self.assertEqual(decision[:2], ["rejected", "off topic"], decision)
        self.assertEqual(self.rig.find_delivered(CAROL, "In-Reply-To: %s" % m), [])


if __name__ == "__main__":
    rigutil.main(rigutil.missing_prerequisites(fixtures=("good",), need_web=True))
