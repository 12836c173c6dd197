#!/usr/bin/env python3
"""The rig itself, with the no-op milter in place of threadmill: Postfix delivers SMTP and
sendmail mail to the Maildir through the milter, dnsmasq answers, the milter-down path gives
451 4.7.1, and stop leaves no process behind."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rigutil  # noqa: E402
from rigutil import OUTSIDE_ADDR, message, token  # noqa: E402

NOOP = os.environ.get("NOOP_MILTER") or os.path.join(rigutil.build_dir(), "tests", "bench", "noop-milter")


def pids_of(*paths):
    out = []
    for p in paths:
        try:
            with open(p) as f:
                out.append(int(f.read().strip()))
        except (OSError, ValueError):
            pass
    return out


class RigSmoke(rigutil.RigTestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = rigutil.Rig("rig", "--milter-cmd", NOOP + " -p {socket}", "--socket", "unix").start()
        cls.t = token()

    def test_1_env(self):
        env = self.rig.env
        for key in ("RIG_SMTP_PORT", "RIG_DNS_PORT", "RIG_MILTER_SOCKET", "RIG_CONFIG", "RIG_LOG",
                    "RIG_MAILDIR", "RIG_POSTFIX_DIR", "RIG_BUILD"):
            self.assertTrue(env.get(key), key)
        p = subprocess.run([rigutil.RIG, "env", self.rig.dir], capture_output=True, text=True)
        self.assertIn("RIG_SMTP_PORT=%s" % env["RIG_SMTP_PORT"], p.stdout)

    def test_2_smtp_and_sendmail_delivered(self):
        data = message([("From", "carol@example.org"), ("To", "bob@example.com"),
                        ("Subject", "smtp %s" % self.t)])
        rc, out, qid = self.rig.swaks(data, "carol@example.org", "bob@example.com", xclient_addr=OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)
        self.assertTrue(qid)
        self.rig.wait_delivered("bob@example.com", "smtp %s" % self.t)
        self.rig.sendmail("Subject: sendmail %s\n\nhi\n" % self.t, "alice@example.com", "zed@example.net")
        self.rig.wait_delivered("zed@example.net", "sendmail %s" % self.t)
        with open(self.rig.env["RIG_POSTFIX_LOG"]) as f:
            log = f.read()
        self.assertIn("client=unknown[%s]" % OUTSIDE_ADDR, log)

    def test_3_dns(self):
        import socket
        import struct
        q = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"\x07example\x03org\x00" + struct.pack(">HH", 16, 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(3)
            s.sendto(q, ("127.0.0.1", int(self.rig.env["RIG_DNS_PORT"])))
            data, _ = s.recvfrom(4096)
        self.assertIn(b"v=spf1 ip4:192.0.2.0/24", data)

    def test_4_milter_down_tempfails_then_restart(self):
        self.rig.stop_milter()
        data = message([("From", "carol@example.org"), ("Subject", "down %s" % self.t)])
        rc, out, qid = self.rig.swaks(data, "carol@example.org", "bob@example.com", xclient_addr=OUTSIDE_ADDR)
        self.assertIn("451 4.7.1", out)
        self.rig.restart_milter()
        rc, out, qid = self.rig.swaks(data, "carol@example.org", "bob@example.com", xclient_addr=OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)

    def test_5_stop_leaves_nothing(self):
        d = self.rig.dir
        pids = pids_of(d + "/queue/pid/master.pid", d + "/milter.pid", d + "/dnsmasq.pid")
        self.assertEqual(len(pids), 3)
        subprocess.run([rigutil.RIG, "stop", d], check=True)
        subprocess.run([rigutil.RIG, "stop", d], check=True)  # twice is fine
        for pid in pids:
            with self.assertRaises(OSError, msg="pid %d still alive" % pid):
                os.kill(pid, 0)
        # nothing left under DIR either
        p = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True)
        self.assertNotIn(d, p.stdout)


if __name__ == "__main__":
    why = rigutil.missing_prerequisites(need_threadmill=False)
    if not why and not os.access(NOOP, os.X_OK):
        why = "no noop-milter at " + NOOP
    rigutil.main(why)
