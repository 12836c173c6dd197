#!/usr/bin/env python3
"""Milter-protocol tests with inputs miltertest cannot carry (it crashes on header values over
~1 KB): 1 MB headers, thousands of References, thousands of headers, a large body, NUL and
8-bit bytes, several messages and an abort on one connection. Against the fixture daemon.

    test_protocol.py FIXTURE_DIR      (the directory given to fixture.sh start)
"""

import os
import re
import sys
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import milterclient as mc  # noqa: E402
from rigutil import bare, parse_decisions  # noqa: E402

ENV = {}
OUTSIDE = "192.0.2.10"


def load_env(d):
    env = {}
    with open(os.path.join(d, "rig.env")) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                env[k] = v.strip("'")
    return env


class Protocol(unittest.TestCase):
    def setUp(self):
        self.t = uuid.uuid4().hex[:10]

    def client(self):
        c = mc.MilterClient(ENV["RIG_MILTER_SOCKET"], timeout=60)
        c.negotiate()
        return c

    def qid(self, name):
        return ("Q%s%s" % (name, self.t)).upper()

    def macros(self, qid, **extra):
        m = {"mail": {"i": qid}, "rcpt": {"i": qid}, "data": {"i": qid}, "eoh": {"i": qid},
             "eom": {"i": qid}}
        m.update(extra)
        return m

    def decision(self, qid, timeout=15):
        deadline = time.time() + timeout
        while True:
            try:
                with open(ENV["RIG_LOG"], "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except FileNotFoundError:
                text = ""
            for d in parse_decisions(text):
                if d["qid"] == qid:
                    return d
            if time.time() > deadline:
                self.fail("no decision line for %s; log tail:\n%s" % (qid, "\n".join(text.splitlines()[-10:])))
            time.sleep(0.1)

    def send(self, name, headers, body=b"Hello.\r\n", client_addr=OUTSIDE, mail_from="<mallory@example.org>",
             rcpts=("<bob@example.com>",)):
        qid = self.qid(name)
        with self.client() as c:
            r = c.send_message(client_addr=client_addr, client_name="[%s]" % client_addr,
                               mail_from=mail_from, rcpts=rcpts, headers=headers, body=body,
                               macros=self.macros(qid))
        self.assertIn(r.verdict, ("accept", "continue"), r)
        self.assertEqual(r.step, "eom", r)
        return r, self.decision(qid)

    def assertAlive(self):
        with open(os.path.join(ENV["RIG_DIR"], "milter.pid")) as f:
            os.kill(int(f.read()), 0)
        # and it still answers
        with self.client() as c:
            r = c.send_message(headers=[("Subject", "ping")], macros=self.macros(self.qid("ping")))
            self.assertIn(r.verdict, ("accept", "continue"))

    # ------------------------------------------------------------------------------------------

    def test_negotiation_is_lean(self):
        # threadmill should skip what it does not need (see PLATFORM_NOTES "Milter latency").
        with self.client() as c:
            self.assertEqual(c.version, 6)
            print("negotiated protocol flags 0x%x actions 0x%x" % (c.protocol, c.actions))
            self.assertTrue(c.actions & 0x1, "SMFIF_ADDHDRS needed to add a Message-ID")

    def test_outbound_without_message_id_gets_one(self):
        qid = self.qid("noid")
        with self.client() as c:
            r = c.send_message(client_addr="127.0.0.1", client_name="localhost",
                               mail_from="<alice@example.com>", rcpts=["<carol@example.org>"],
                               headers=[("From", "alice@example.com"), ("Subject", "no id")],
                               macros=self.macros(qid))
        added = [v for n, v in r.headers_added() if n.lower() == "message-id"]
        self.assertEqual(len(added), 1, r)
        d = self.decision(qid)
        self.assertEqual(d["decision"], "recorded", d["raw"])
        self.assertEqual(bare(d["msgid"]), bare(added[0]), d["raw"])

    def test_header_values_keep_their_leading_space(self):
        # threadmill asks for SMFIP_HDR_LEADSPC (DKIM simple header canonicalization needs the
        # bytes after the colon): values arrive as written, and values it adds must then
        # carry the leading space themselves (libmilter passes them on unchanged).
        qid = self.qid("leadspc")
        mid = "<lead.%s@example.com>" % self.t
        with self.client() as c:
            self.assertTrue(c.protocol & mc.SMFIP_HDR_LEADSPC, hex(c.protocol))
            r = c.send_message(client_addr="127.0.0.1", client_name="localhost",
                               mail_from="<alice@example.com>", rcpts=["<carol@example.org>"],
                               headers=[("From", " alice@example.com"), ("Subject", "\tno id")],
                               macros=self.macros(qid))
        added = [v for n, v in r.headers_added() if n.lower() == "message-id"]
        self.assertEqual(len(added), 1, r)
        self.assertTrue(added[0].startswith(" <"), added)
        self.assertEqual(self.decision(qid)["decision"], "recorded")
        # A value given with its leading space is the same value (parsed without it).
        qid = self.qid("leadspc2")
        with self.client() as c:
            r = c.send_message(client_addr="127.0.0.1", client_name="localhost",
                               mail_from="<alice@example.com>", rcpts=["<carol@example.org>"],
                               headers=[("From", " alice@example.com"), ("Message-ID", " " + mid)],
                               macros=self.macros(qid))
        self.assertFalse([h for h in r.headers_added() if h[0].lower() == "message-id"], r)
        self.assertEqual(bare(self.decision(qid)["msgid"]), bare(mid))

    def test_outbound_with_message_id_untouched(self):
        mid = "<has.%s@example.com>" % self.t
        qid = self.qid("hasid")
        with self.client() as c:
            r = c.send_message(client_addr="127.0.0.1", client_name="localhost",
                               mail_from="<alice@example.com>", rcpts=["<carol@example.org>"],
                               headers=[("From", "alice@example.com"), ("Message-ID", mid)],
                               macros=self.macros(qid))
        self.assertFalse([h for h in r.headers_added() if h[0].lower() == "message-id"], r)
        self.assertEqual(bare(self.decision(qid)["msgid"]), bare(mid))

    def test_one_megabyte_header(self):
        # The client cuts a header packet at 64 KB like Postfix does; send many big ones too.
        big = "x" * (1024 * 1024)
        r, d = self.send("bighdr", [("Subject", "big"), ("X-Big", big)] + [("X-Fill-%d" % i, "y" * 60000) for i in range(20)])
        self.assertEqual(d["direction"], "inbound", d["raw"])
        self.assertAlive()

    def test_5000_references(self):
        out_id = "<refs.%s@example.com>" % self.t
        qid = self.qid("refsout")
        with self.client() as c:
            c.send_message(client_addr="127.0.0.1", mail_from="<alice@example.com>",
                           headers=[("Message-ID", out_id)], macros=self.macros(qid))
        thread = self.decision(qid)["thread"]
        # Short ids so that all 5000 fit into the 64 KB a milter can receive for one header.
        refs = " ".join("<%d@q>" % i for i in range(4999)) + " " + out_id
        self.assertLess(len(refs), 65000)
        r, d = self.send("refs5000", [("Subject", "loop"), ("References", refs)])
        self.assertEqual(d["decision"], "no-reply", d["raw"])
        self.assertEqual(d["reason"], "references", d["raw"])
        self.assertEqual(d["refs"], "5000", d["raw"])
        self.assertEqual(d["thread"], thread, d["raw"])

    def test_folded_references_in_many_chunks(self):
        refs = "\r\n\t".join("<r%d.%s@example.org>" % (i, self.t) for i in range(2000))
        r, d = self.send("refsfold", [("References", refs)])
        self.assertGreater(int(d["refs"]), 100, d["raw"])
        self.assertEqual(d["decision"], "no-reply", d["raw"])

    def test_ten_thousand_headers(self):
        r, d = self.send("manyhdrs", [("X-H%d" % i, "v%d" % i) for i in range(10000)])
        self.assertEqual(d["direction"], "inbound", d["raw"])

    def test_nul_and_8bit(self):
        r, d = self.send("nul8", [("Subject", b"caf\xe9 \x00 \xff\xfe"), ("In-Reply-To", b"<a\x00b@c>"),
                                  ("References", b"<\xe9t\xe9@example.org> <\xc3\x28@x>"),
                                  ("From", b"\"M\xe9lo\xff\" <m@example.org>")],
                         body=b"\x00\x01\x02\xff\r\n" * 100)
        self.assertEqual(d["direction"], "inbound", d["raw"])

    def test_large_body(self):
        body = (b"A" * 998 + b"\r\n") * 5000  # ~5 MB in 64 KB chunks
        r, d = self.send("bigbody", [("Subject", "big body"), ("Content-Type", "text/plain")], body=body)
        self.assertEqual(d["direction"], "inbound", d["raw"])

    def test_broken_mime(self):
        r, d = self.send("mime", [("MIME-Version", "1.0"),
                                  ("Content-Type", "multipart/mixed; boundary=\"b1\""),
                                  ("Content-Transfer-Encoding", "base64")],
                         body=b"--b1\r\nContent-Type: multipart/alternative; boundary=\r\n\r\n"
                              b"--\r\n--b1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=Z=\r\n")
        self.assertEqual(d["direction"], "inbound", d["raw"])

    def test_several_messages_and_abort_on_one_connection(self):
        q1, q2, q3 = self.qid("m1"), self.qid("m2"), self.qid("m3")
        with self.client() as c:
            r1 = c.send_message(headers=[("Message-ID", "<m1.%s@example.org>" % self.t)], macros=self.macros(q1),
                                client_addr=OUTSIDE)
            # a transaction aborted after MAIL (client RSET): no decision line expected
            c.macro(b"M", i=q2)
            c._send(b"M", c._z("<x@example.org>"))
            if not c._has(mc.SMFIP_NR_MAIL) and not c._has(mc.SMFIP_NOMAIL):
                c._read()
            c._send(b"A")
            r3 = c.send_message(connect=False, headers=[("Message-ID", "<m3.%s@example.org>" % self.t)],
                                macros=self.macros(q3))
        self.assertIn(r1.verdict, ("accept", "continue"))
        self.assertIn(r3.verdict, ("accept", "continue"))
        self.assertEqual(bare(self.decision(q1)["msgid"]), "m1.%s@example.org" % self.t)
        self.assertEqual(bare(self.decision(q3)["msgid"]), "m3.%s@example.org" % self.t)
        time.sleep(0.3)
        with open(ENV["RIG_LOG"], "rb") as f:
            self.assertNotIn(q2.encode() + b": direction=", f.read())

    def test_connection_dropped_mid_message(self):
        qid = self.qid("drop")
        c = self.client()
        c.macro(b"C", j="mx")
        c._send(b"C", c._z("[%s]" % OUTSIDE) + b"4" + b"\x00\x19" + c._z(OUTSIDE))
        c.sock.close()
        self.assertAlive()

    def test_zz_all_lines_parse(self):
        with open(ENV["RIG_LOG"], "rb") as f:
            text = f.read().decode("utf-8", "replace")
        lines = [l for l in text.splitlines() if re.search(r"\sdecision=", l)]
        self.assertTrue(lines)
        self.assertEqual(len(parse_decisions("\n".join(lines))), len(lines))


if __name__ == "__main__":
    d = sys.argv.pop(1) if len(sys.argv) > 1 else os.environ.get("RIG_DIR", "")
    if not d or not os.path.exists(os.path.join(d, "rig.env")):
        print("SKIP: no fixture daemon in %r" % d)
        sys.exit(77)
    ENV.update(load_env(d))
    if not ENV.get("RIG_MILTER_SOCKET"):
        print("SKIP: fixture has no milter")
        sys.exit(77)
    unittest.main(verbosity=2)
