#!/usr/bin/env python3
"""End-to-end authentication: SPF, DKIM and DMARC computed by threadmill for mail that really
crosses the rig's private Postfix from simulated outside clients (XCLIENT), on DNS records
served by the rig's dnsmasq, with DKIM keys made by opendkim-genkey at run time and messages
signed by tests/tools/dkim-sign (libopendkim, rsa-sha256, relaxed/relaxed).

For every case (auth_world.cases()) both the Authentication-Results header of the delivered
Maildir copy and the decision line must show the expected verdicts. Then, in order (the test
names are numbered because the later ones change the daemon's configuration or stop DNS):
forged A-R headers, DMARC enforcement (reload with enforce_dmarc = true: 550 5.7.1 at SMTP for
p=reject, the Postfix hold queue for p=quarantine), and a DNS server that is gone (temperror
within the time-out; with on_dns_error = "tempfail" a 451 4.4.3).
"""

import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import auth_world  # noqa: E402
import rigutil  # noqa: E402
from auth_world import BAD_IP, GOOD_IP, RCPT, Case, E  # noqa: E402

AUTHSERV = "mx.rig.example.com"  # the rig's [milter] hostname, threadmill's default authserv-id
DNS_TIMEOUT_MS = 1500


class Auth(rigutil.RigTestCase):

    @classmethod
    def setUpClass(cls):
        cls.rig = rigutil.Rig("auth")
        with cls.starting():
            cls.world = auth_world.World(cls.rig.dir)
            cls.rig.options += ["--zone", cls.world.zone_path]
            cls.rig.start()
            auth_world.set_auth(cls.rig, dns_timeout_ms=DNS_TIMEOUT_MS)
        cls.results = {}

    # helpers
    def send(self, case, expect_ok=True):
        data = case.build(self.world)
        t0 = time.monotonic()
        rc, out, qid = self.rig.swaks(data, case.mail_from, RCPT, xclient_addr=case.ip)
        elapsed = time.monotonic() - t0
        if expect_ok:
            self.assertEqual(rc, 0, "%s: swaks failed:\n%s" % (case.name, out))
        return rc, out, qid, elapsed

    def our_ar(self, path):
        with open(path, "rb") as f:
            data = f.read()
        fields = auth_world.header_fields(data)
        ours = [v for k, v in fields if k.lower() == "authentication-results"
                and auth_world.parse_auth_results(v)[0].lower() == AUTHSERV]
        names = [k.lower() for k, _ in fields]
        return ours, fields, names

    def check_case(self, case, d, path):
        exp = case.expect
        where = "%s (%s)" % (case.name, d["raw"])
        self.assertEqual(d.get("direction"), "inbound", where)
        self.assertEqual(d.get("spf"), exp["spf"], where)
        self.assertEqual(d.get("dkim"), exp["dkim"], where)
        self.assertEqual(d.get("dmarc"), exp["dmarc"], where)
        self.assertEqual(d.get("dmarc_policy"), exp["policy"], where)
        ours, fields, names = self.our_ar(path)
        self.assertEqual(len(ours), 1, "%s: A-R headers by %s: %r" % (case.name, AUTHSERV, ours))
        ar = auth_world.ar_verdicts(ours[0])
        where = "%s: %s" % (case.name, ours[0])
        # The A-R header sits above the message's own header fields (inserted at the top).
        self.assertLess(names.index("authentication-results"), names.index("from"), where)
        self.assertEqual(ar.get("spf", "none"), exp["spf"], where)
        self.assertEqual(ar.get("dmarc", "none"), exp["dmarc"], where)
        dkim = ar["dkim"] or ["none"]
        self.assertIn(exp["dkim"], dkim, where)
        if exp["dkim"] == "pass":
            self.assertIn("pass", dkim, where)
        elif exp["dkim"] != "none":
            self.assertNotIn("pass", dkim, where)
        if exp["policy"]:
            self.assertEqual(ar.get("dmarc_props", {}).get("policy.dmarc"), exp["policy"], where)
            want_from = case.expect.get("header_from") or case.from_addr.split("@")[1]
            self.assertEqual(ar["dmarc_props"].get("header.from"), want_from, where)
        else:
            # No usable policy (no record, a broken one, several From domains): none claimed.
            self.assertNotIn("policy.dmarc", ar.get("dmarc_props", {}), where)

    # 1. every report-only case (enforce_dmarc = false, the default)
    def test_1_verdicts(self):
        auth_world.set_auth(self.rig, enforce_dmarc=False, on_dns_error="accept")
        sent = []
        for case in auth_world.cases():
            _rc, _out, qid, _dt = self.send(case)
            sent.append((case, qid))
        for case, qid in sent:
            with self.subTest(case=case.name):
                d = self.rig.wait_decision(msgid=case.msgid)
                self.assertEqual(d["qid"], qid, d["raw"])
                path = self.rig.wait_delivered(RCPT, "<%s>" % case.msgid)
                self.check_case(case, d, path)

    # 2. forged Authentication-Results claiming our authserv-id are removed; others stay
    def test_2_forged_ar_removed(self):
        auth_world.set_auth(self.rig, enforce_dmarc=False, on_dns_error="accept")
        case = Case("forged_ar", "u@reject.example", "u@reject.example", BAD_IP,
                    E("fail", "none", "fail", "reject"))
        data = case.build(self.world)
        forged = ("Authentication-Results: %s; spf=pass smtp.mailfrom=reject.example;\r\n"
                  "\tdkim=pass header.d=reject.example; dmarc=pass header.from=reject.example\r\n"
                  % AUTHSERV.upper())
        other = "Authentication-Results: relay.elsewhere.example; spf=pass smtp.mailfrom=x.example\r\n"
        data = (forged + other + forged.replace(AUTHSERV.upper(), AUTHSERV + " 1")).encode() + data
        rc, out, qid = self.rig.swaks(data, case.mail_from, RCPT, xclient_addr=case.ip)
        self.assertEqual(rc, 0, out)
        d = self.rig.wait_decision(msgid=case.msgid)
        path = self.rig.wait_delivered(RCPT, "<%s>" % case.msgid)
        self.check_case(case, d, path)
        ours, fields, _ = self.our_ar(path)
        ar_all = [v for k, v in fields if k.lower() == "authentication-results"]
        self.assertEqual(len(ar_all), 2, ar_all)  # ours + the foreign one
        self.assertTrue(any(v.startswith("relay.elsewhere.example") for v in ar_all), ar_all)
        self.assertNotIn("dmarc=pass", ours[0])

    # 3. enforcement: p=reject -> 550 5.7.1 with the reason; p=quarantine -> hold queue
    def test_3_enforce_dmarc(self):
        auth_world.set_auth(self.rig, enforce_dmarc=True, on_dns_error="accept")
        try:
            rej = Case("enforce_reject", "u@reject.example", "u@reject.example", BAD_IP,
                       E("fail", "none", "fail", "reject"))
            rc, out, qid, _ = self.send(rej, expect_ok=False)
            self.assertNotEqual(rc, 0, out)
            self.assertRegex(out, r"<\*\* +550[ -]5\.7\.1 .*rejected by DMARC policy for reject\.example")
            d = self.rig.wait_decision(msgid=rej.msgid)
            self.assertEqual(d.get("dmarc"), "fail", d["raw"])
            self.assertEqual(rigutil.Rig.find_delivered(self.rig, RCPT, rej.msgid), [])

            # Several authors (issue 8 item 5, issue 9 item 2): the attacker's own domain signs
            # and aligns, the p=reject domain rides along as a second mailbox or a second
            # <address>: permerror, enforced as the p=reject failure it hides.
            for name, from_header in (("enforce_two_mailboxes", "u@other.example, ceo@reject.example"),
                                      ("enforce_junk_address", "<ceo@reject.example> <u@other.example>")):
                spoof = Case(name, "u@other.example", "u@other.example", BAD_IP, None,
                             sign=[("other.example", "sel1")], from_header=from_header)
                rc, out, qid, _ = self.send(spoof, expect_ok=False)
                self.assertNotEqual(rc, 0, out)
                self.assertRegex(out, r"<\*\* +550[ -]5\.7\.1 .*rejected by DMARC policy for reject\.example")
                d = self.rig.wait_decision(msgid=spoof.msgid)
                self.assertEqual(d.get("dmarc"), "permerror", d["raw"])
                self.assertEqual(rigutil.Rig.find_delivered(self.rig, RCPT, spoof.msgid), [])

            # A passing message of the same p=reject domain is still delivered.
            ok = Case("enforce_pass", "u@dkim.example", "u@dkim.example", BAD_IP,
                      E("fail", "pass", "pass", "reject"), sign=[("dkim.example", "sel1")])
            self.send(ok)
            self.rig.wait_delivered(RCPT, "<%s>" % ok.msgid)

            held = []
            for name, dom, policy in (("enforce_quarantine", "quarantine.example", "quarantine"),
                                      ("enforce_sp_quarantine", "sub.org.example", "quarantine"),
                                      # pct=0: p=reject applies to 0% of the mail; the rest gets
                                      # the next lower policy, quarantine (RFC 7489 6.6.4).
                                      ("enforce_pct0", "pct.example", "reject")):
                c = Case(name, "u@" + dom, "u@" + dom, BAD_IP, None)
                rc, out, qid, _ = self.send(c)
                d = self.rig.wait_decision(msgid=c.msgid)
                self.assertEqual(d.get("dmarc"), "fail", d["raw"])
                self.assertEqual(d.get("dmarc_policy"), policy, d["raw"])
                self.assertEqual(d.get("quarantine"), "yes", d["raw"])
                held.append((c, qid))
            deadline = time.time() + 20
            while True:
                q = subprocess.run(["postqueue", "-c", self.rig.postfix_dir, "-p"], capture_output=True,
                                   text=True, timeout=30).stdout
                if all("%s!" % qid in q for _c, qid in held) or time.time() > deadline:
                    break
                time.sleep(0.2)
            for c, qid in held:
                self.assertIn("%s!" % qid, q, "%s not on hold:\n%s" % (c.name, q))
                cat = subprocess.run(["postcat", "-c", self.rig.postfix_dir, "-q", qid], capture_output=True,
                                     text=True, timeout=30).stdout
                self.assertIn(c.msgid, cat)
                self.assertEqual(self.rig.find_delivered(RCPT, c.msgid), [], c.name)
        finally:
            auth_world.set_auth(self.rig, enforce_dmarc=False)

    # 4. the DNS server is gone: temperror within the time-out, then 451 4.4.3 when asked
    def test_4_dns_down(self):
        auth_world.set_auth(self.rig, enforce_dmarc=False, on_dns_error="accept")
        with open(os.path.join(self.rig.dir, "dnsmasq.pid")) as f:
            pid = int(f.read().strip())
        os.kill(pid, 15)
        for _ in range(50):
            try:
                os.kill(pid, 0)
                time.sleep(0.1)
            except OSError:
                break
        port = int(self.rig.env["RIG_DNS_PORT"])

        # (a) nothing listens on the port (ICMP port unreachable): fast temperror.
        # fresh.example names were never asked, so nothing is cached.
        c = Case("dns_refused", "u@a.fresh.example", "u@a.fresh.example", GOOD_IP, None,
                 sign=[("dkim.example", "sel1")])
        rc, out, qid, dt = self.send(c)
        d = self.rig.wait_decision(msgid=c.msgid)
        path = self.rig.wait_delivered(RCPT, "<%s>" % c.msgid)
        self.assertEqual(d.get("spf"), "temperror", d["raw"])
        self.assertEqual(d.get("dmarc"), "temperror", d["raw"])
        ours, _, _ = self.our_ar(path)
        self.assertIn("dmarc=temperror", ours[0])
        self.assertLess(dt, 3 * DNS_TIMEOUT_MS / 1000 + 2, "transaction took %.1fs" % dt)

        # (b) a server that swallows every query: the per-query time-out decides.
        stop = threading.Event()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", port))
        sock.settimeout(0.2)

        def swallow():
            while not stop.is_set():
                try:
                    sock.recvfrom(4096)
                except OSError:
                    pass
        t = threading.Thread(target=swallow, daemon=True)
        t.start()
        try:
            timings = {}
            three = [("dkim.example", "sel1"), ("other.example", "sel1"), ("mail.relaxed.example", "sel1")]
            for name, signed in (("dns_blackhole_unsigned", []), ("dns_blackhole_signed", [("dkim.example", "sel1")]),
                                 ("dns_blackhole_3_signatures", three)):
                c = Case(name, "u@b%s.fresh.example" % len(signed), "u@b%s.fresh.example" % len(signed),
                         GOOD_IP, None, sign=signed)
                rc, out, qid, dt = self.send(c)
                d = self.rig.wait_decision(msgid=c.msgid)
                path = self.rig.wait_delivered(RCPT, "<%s>" % c.msgid)
                self.assertEqual(d.get("spf"), "temperror", d["raw"])
                self.assertEqual(d.get("dmarc"), "temperror", d["raw"])
                if signed:
                    self.assertEqual(d.get("dkim"), "temperror", d["raw"])
                timings[name] = dt
                print("%s: SMTP transaction %.2fs (dns_timeout_ms=%d)" % (name, dt, DNS_TIMEOUT_MS),
                      file=sys.stderr)
                # Never a stuck connection: dns_timeout_ms is per query and the lookups run one
                # after another at end of message (SPF, DKIM keys, DMARC), so a signed message
                # waits up to three time-outs, not one (measured here: 3 signatures with three
                # different keys still take three, not five).
                lookups = 3 if signed else 2
                self.assertGreaterEqual(dt, DNS_TIMEOUT_MS / 1000 * 0.9, "no time-out waited?")
                self.assertLess(dt, lookups * DNS_TIMEOUT_MS / 1000 + 2, "transaction took %.1fs" % dt)

            # (c) on_dns_error = "tempfail": the client hears 451 4.4.3 and nothing is delivered.
            auth_world.set_auth(self.rig, on_dns_error="tempfail")
            c = Case("dns_tempfail", "u@c.fresh.example", "u@c.fresh.example", GOOD_IP, None)
            rc, out, qid, dt = self.send(c, expect_ok=False)
            self.assertNotEqual(rc, 0, out)
            self.assertRegex(out, r"<\*\* +451[ -]4\.4\.3 ")
            self.assertLess(dt, 3 * DNS_TIMEOUT_MS / 1000 + 2, "transaction took %.1fs" % dt)
            d = self.rig.wait_decision(msgid=c.msgid)
            self.assertEqual(d.get("dmarc"), "temperror", d["raw"])
            self.assertEqual(self.rig.find_delivered(RCPT, c.msgid), [])
        finally:
            stop.set()
            t.join(2)
            sock.close()
            auth_world.set_auth(self.rig, on_dns_error="accept")


if __name__ == "__main__":
    rigutil.main(rigutil.missing_prerequisites() or auth_world.missing_prerequisites())
