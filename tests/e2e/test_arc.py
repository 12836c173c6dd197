#!/usr/bin/env python3
"""End-to-end ARC (RFC 8617) through the rig's real Postfix: a p=reject author (dkim.example)
posts to a mailing list (lists.example) that tags the Subject - breaking the author's DKIM
signature, so DMARC fails - and seals the message with ARC (tests/e2e/arc_sealer.py, its own
key published in the rig's dnsmasq zone) recording dmarc=pass. With enforce_dmarc = true:
  - lists.example in [auth] arc_trusted_sealers: delivered, the decision line says dmarc=fail
    arc=pass dmarc_override=arc policy.arc-override=lists.example, our A-R says the same;
  - not trusted: rejected 550 5.7.1 as today (arc=pass still logged);
  - trusted, but the body changed after sealing: arc=fail, rejected.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import auth_world  # noqa: E402
import rigutil  # noqa: E402
from auth_world import GOOD_IP, RCPT  # noqa: E402

AUTHSERV = "mx.rig.example.com"


def missing():
    try:
        import arc_sealer  # noqa: F401
    except ImportError:
        return "python3-cryptography is not installed"
    return rigutil.missing_prerequisites() or auth_world.missing_prerequisites()


class Arc(rigutil.RigTestCase):

    @classmethod
    def setUpClass(cls):
        import arc_sealer
        cls.rig = rigutil.Rig("arc")
        with cls.starting():
            cls.world = auth_world.World(cls.rig.dir)
            cls.sealer = arc_sealer.Sealer("lists.example")
            with open(cls.world.zone_path, "a") as f:
                f.write("\n".join([
                    "local=/lists.example/",
                    auth_world.txt_line("lists.example", "v=spf1 ip4:192.0.2.0/24 -all"),
                    auth_world.txt_line("arc._domainkey.lists.example", cls.sealer.record()),
                ]) + "\n")
            cls.rig.options += ["--zone", cls.world.zone_path]
            cls.rig.start()
            auth_world.set_auth(cls.rig, dns_timeout_ms=1500, enforce_dmarc=True)

    def list_message(self, name, tamper_body=False):
        """The author's signed post as the list forwards it: Subject tagged, sealed."""
        msgid = "%s.%s@dkim.example" % (name, rigutil.token())
        data = rigutil.message([("From", "Author <u@dkim.example>"),
                                ("To", "List <list@lists.example>"),
                                ("Subject", "budget for 2026"),
                                ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"),
                                ("Message-ID", "<%s>" % msgid)],
                               "Hello list,\n\nthe budget is attached.\n").encode()
        data = self.world.sign(data, "dkim.example", "sel1")
        data = data.replace(b"\r\nSubject: budget", b"\r\nSubject: [list] budget", 1)
        data = data.replace(b"\r\n\r\n", b"\r\nList-Id: <list.lists.example>\r\n\r\n", 1)
        data = self.sealer.seal(data, "lists.example; dkim=pass header.d=dkim.example;"
                                      " dmarc=pass header.from=dkim.example")
        if tamper_body:
            data += b"P.S. an advertisement\r\n"
        return msgid, data

    def send(self, data):
        return self.rig.swaks(data, "bounce@lists.example", RCPT, xclient_addr=GOOD_IP)

    def test_1_trusted_sealer_overrides(self):
        auth_world.set_auth(self.rig, arc_trusted_sealers=["lists.example"])
        msgid, data = self.list_message("arc_trusted")
        rc, out, _qid = self.send(data)
        self.assertEqual(rc, 0, out)
        d = self.rig.wait_decision(msgid=msgid)
        self.assertEqual(d.get("dmarc"), "fail", d["raw"])
        self.assertEqual(d.get("dkim"), "fail", d["raw"])
        self.assertEqual(d.get("dmarc_policy"), "reject", d["raw"])
        self.assertEqual(d.get("arc"), "pass", d["raw"])
        self.assertEqual(d.get("arc_sealer"), "lists.example", d["raw"])
        self.assertEqual(d.get("dmarc_override"), "arc", d["raw"])
        self.assertEqual(d.get("policy.arc-override"), "lists.example", d["raw"])
        path = self.rig.wait_delivered(RCPT, "<%s>" % msgid)
        with open(path, "rb") as f:
            fields = auth_world.header_fields(f.read())
        ours = [v for k, v in fields if k.lower() == "authentication-results"
                and auth_world.parse_auth_results(v)[0].lower() == AUTHSERV]
        self.assertEqual(len(ours), 1, ours)
        flat = " ".join(ours[0].split())
        self.assertIn('dmarc=fail reason="arc"', flat)
        self.assertIn("policy.arc-override=lists.example", flat)
        self.assertIn("arc=pass", flat)

    def test_2_untrusted_sealer_is_rejected(self):
        auth_world.set_auth(self.rig, arc_trusted_sealers=["other.example"])
        msgid, data = self.list_message("arc_untrusted")
        rc, out, _qid = self.send(data)
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r"<\*\* +550[ -]5\.7\.1 .*rejected by DMARC policy for dkim\.example")
        d = self.rig.wait_decision(msgid=msgid)
        self.assertEqual(d.get("dmarc"), "fail", d["raw"])
        self.assertEqual(d.get("arc"), "pass", d["raw"])
        self.assertNotIn("policy.arc-override", d, d["raw"])
        self.assertEqual(self.rig.find_delivered(RCPT, msgid), [])

    def test_3_broken_chain_is_rejected(self):
        auth_world.set_auth(self.rig, arc_trusted_sealers=["lists.example"])
        msgid, data = self.list_message("arc_tampered", tamper_body=True)
        rc, out, _qid = self.send(data)
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r"<\*\* +550[ -]5\.7\.1 ")
        d = self.rig.wait_decision(msgid=msgid)
        self.assertEqual(d.get("arc"), "fail", d["raw"])
        self.assertEqual(d.get("arc_reason"), "ams-body-hash", d["raw"])
        self.assertNotIn("policy.arc-override", d, d["raw"])
        self.assertEqual(self.rig.find_delivered(RCPT, msgid), [])


if __name__ == "__main__":
    rigutil.main(missing())
