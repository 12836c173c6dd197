#!/usr/bin/env python3
"""End-to-end: threadmill on PostgreSQL the way the README's "Several MX hosts" sets it up.

One rig (tests/e2e/rig: Postfix + threadmill) and a private primary with a streaming-replication
standby (pgcluster.py), both with TLS from a throw-away CA:
  - the database and roles come from the shipped conf/examples/postgresql-setup.sql: the
    schema owner migrates with `threadmillctl db migrate`, the daemon runs as the
    least-privilege role "threadmill" (DML grants only), with a password (scram) over TLS
    with sslmode=verify-full; the server refuses that role without TLS;
  - the DSN names both servers with target_session_attrs=read-write. The primary is killed
    (SIGKILL) and the standby promoted: the customer's answer to a message recorded before the
    fail-over is matched to its thread through the promoted standby, with no failed call
    (idle pooled connections reconnect, store/postgresql/pg_pool.h);
  - a DSN whose sslrootcert is another CA is refused (the certificate is verified).
Skipped (77) without the rig's prerequisites or PostgreSQL's binaries.
"""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgcluster  # noqa: E402
import rigutil  # noqa: E402
from rigutil import OUTSIDE_ADDR, bare, message, token, wait_until  # noqa: E402

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SETUP_SQL = os.path.join(SRC, "conf", "examples", "postgresql-setup.sql")
ALICE = "alice@example.com"
CAROL = "carol@example.org"

HBA = [
    "local all all trust",
    "host replication tm 127.0.0.1/32 trust",
    "host all tm 127.0.0.1/32 trust",
    "hostssl threadmill threadmill,threadmill_owner 127.0.0.1/32 scram-sha-256",
    "host all all 127.0.0.1/32 reject",
]


def missing():
    why = rigutil.missing_prerequisites()
    if why:
        return why
    if not shutil.which("openssl"):
        return "openssl not installed"
    return pgcluster.missing()


def write_secret(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


class PgOperations(rigutil.RigTestCase):
    primary = None
    standby = None
    tmp = None

    @classmethod
    def setUpClass(cls):
        cls.t = token()
        cls.tmp = tempfile.mkdtemp(prefix="threadmill-e2e-pgops-")
        try:
            ca, crt, key = pgcluster.make_tls(cls.tmp)
            cls.primary = pgcluster.Cluster(hba=HBA, tls=(crt, key)).start()
            cls.primary.psql(None, file=SETUP_SQL,
                             variables={"owner_password": "owner-" + cls.t,
                                        "app_password": "app-" + cls.t})
            cls.standby = pgcluster.Cluster(tls=(crt, key)).start_standby_of(cls.primary)
            both = ("host=localhost,localhost hostaddr=127.0.0.1,127.0.0.1 port=%d,%d "
                    "dbname=threadmill sslmode=verify-full sslrootcert=%s "
                    "target_session_attrs=read-write connect_timeout=3"
                    % (cls.primary.port, cls.standby.port, ca))
            cls.app_dsn = both + " user=threadmill password=app-" + cls.t
            cls.owner_dsn = both + " user=threadmill_owner password=owner-" + cls.t
            app_file = write_secret(os.path.join(cls.tmp, "app.dsn"), cls.app_dsn)
            cls.rig = rigutil.Rig("pgops")
            cls.rig.env_extra["RIG_STORE_EXTRA"] = (
                'backend = "postgresql"\ndsn_file = "%s"' % app_file)
            cls.rig.start()
            cls.owner_config = cls.config_with_dsn("owner", cls.owner_dsn)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def config_with_dsn(cls, name, dsn):
        """The rig's configuration with another DSN file (what an operator's second config,
        or `threadmillctl -c`, would be)."""
        dsn_file = write_secret(os.path.join(cls.tmp, name + ".dsn"), dsn)
        with open(cls.rig.env["RIG_CONFIG"]) as f:
            text = f.read()
        lines = [('dsn_file = "%s"' % dsn_file) if line.startswith("dsn_file =") else line
                 for line in text.splitlines()]
        path = os.path.join(cls.tmp, name + ".conf")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            for c in (cls.standby, cls.primary):
                if c:
                    c.stop()
            cls.standby = cls.primary = None
            if cls.tmp:
                shutil.rmtree(cls.tmp, ignore_errors=True)

    def ctl_with(self, config, *args):
        ctl = os.path.join(rigutil.build_dir(), "ctl", "threadmillctl")
        return subprocess.run([ctl, "-c", config, *args], capture_output=True, text=True,
                              timeout=60)

    def mid(self, name):
        return "<%s.%s@example.%s>" % (name, self.t, "com" if name.startswith("out") else "org")

    def test_01_owner_migrates_and_the_daemon_runs_as_the_least_privileged_role_over_tls(self):
        # Before the owner migrated, the daemon's role cannot (it may not create tables).
        early = self.rig.ctl("db", "migrate")
        self.assertNotEqual(early.returncode, 0, early.stdout)
        self.assertIn("threadmillctl db migrate", early.stderr)
        p = self.ctl_with(self.owner_config, "db", "migrate")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        status = self.rig.ctl("db", "status")
        self.assertEqual(status.returncode, 0, status.stdout + status.stderr)

        out = self.mid("out1")
        data = message([("From", "Alice <%s>" % ALICE), ("To", CAROL),
                        ("Subject", "Quote %s" % self.t),
                        ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"), ("Message-ID", out)],
                       body="Offer\n", crlf=False)
        self.rig.sendmail(data, ALICE, CAROL)
        d = self.rig.wait_decision(msgid=out)
        self.assertEqual(d["decision"], "recorded", d["raw"])
        # Every connection of the daemon's role is TLS (pg_stat_ssl), and there is one.
        rows = self.primary.psql(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
            "WHERE a.usename = 'threadmill'")
        self.assertTrue(rows, "no connection of role threadmill")
        self.assertEqual(set(rows.split()), {"t"}, rows)
        # Without TLS the server refuses the role.
        plain = subprocess.run(
            [self.primary.bindir + "/psql", "-X", "-c", "SELECT 1",
             "host=127.0.0.1 port=%d dbname=threadmill user=threadmill password=app-%s "
             "sslmode=disable" % (self.primary.port, self.t)],
            capture_output=True, text=True, timeout=30)
        self.assertNotEqual(plain.returncode, 0)
        self.assertIn("no encryption", plain.stderr)
        # The certificate is verified: another CA is refused.
        other = os.path.join(self.tmp, "other")
        os.makedirs(other, exist_ok=True)
        other_ca, _, _ = pgcluster.make_tls(other)
        wrong = self.config_with_dsn("wrongca", self.app_dsn.replace(
            "sslrootcert=%s/ca.crt" % self.tmp, "sslrootcert=" + other_ca))
        refused = self.ctl_with(wrong, "--json", "lookup", out)
        self.assertNotEqual(refused.returncode, 0, refused.stdout)
        self.assertIn("certificate verify failed", refused.stderr)

    def test_02_a_promoted_standby_takes_over_without_a_failed_message(self):
        out = self.mid("out1")
        rec = self.rig.lookup(out)
        if not rec:
            self.skipTest("case 1 recorded nothing")
        thread = rec["thread"]
        # The standby has replayed the primary's WAL up to now (the outbound record included).
        lsn = self.primary.psql("SELECT pg_current_wal_lsn()")
        self.assertTrue(wait_until(lambda: self.standby.psql(
            "SELECT pg_last_wal_replay_lsn() >= '%s'::pg_lsn" % lsn) == "t"))
        self.primary.kill()
        self.standby.promote()

        answer = self.mid("in1")
        data = message([("From", "Carol <%s>" % CAROL), ("To", ALICE),
                        ("Subject", "Re: Quote %s" % self.t),
                        ("Date", "Tue, 25 Nov 2025 09:05:00 +0000"), ("Message-ID", answer),
                        ("In-Reply-To", out), ("References", out)], body="Yes.\n")
        rc, text, qid = self.rig.swaks(data, CAROL, ALICE, xclient_addr=OUTSIDE_ADDR)
        self.assertEqual(rc, 0, text)
        d = self.rig.wait_decision(msgid=answer)
        self.assertEqual(d["decision"], "matched", d["raw"])
        self.assertEqual(d["match"], "in-reply-to", d["raw"])
        self.assertEqual(d["thread"], thread, d["raw"])
        self.rig.wait_delivered(ALICE, "Message-ID: %s" % answer)
        # Written to the promoted standby, now the primary.
        count = self.standby.psql(
            "SELECT count(*) FROM tm_message WHERE thread_id = '%s'" % thread, dbname="threadmill")
        self.assertEqual(count, "2")
        self.assertEqual(self.standby.psql("SELECT pg_is_in_recovery()"), "f")
        self.assertEqual({bare(m["msgid"]) for m in self.rig.thread(thread)["messages"]},
                         {bare(out), bare(answer)})


if __name__ == "__main__":
    rigutil.main(missing())
