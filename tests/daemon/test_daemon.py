"""The threadmill daemon as an administrator meets it: -n, start-up errors, -d with a pid
file, USR1 reload without dropping a connection, privilege drop, clean TERM.

Runs the real binary on loopback sockets in a temporary directory; the MTA side is the
milter-protocol client in tests/milter/milterclient.py.
"""

import grp
import os
import pwd
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "milter"))
import milterclient  # noqa: E402

BUILD = os.environ.get("THREADMILL_BUILD", os.path.join(HERE, "..", "..", "build"))
DAEMON = os.path.join(BUILD, "milter", "threadmill")
CTL = os.path.join(BUILD, "ctl", "threadmillctl")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def children(pid):
    """Pids whose parent is pid (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


def state(pid):
    """The /proc state letter of pid ("" when gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


def begin_transaction(c, n):
    """Connect, MAIL, RCPT, DATA and one header: a transaction left open mid-DATA."""
    M = milterclient
    r = M.Result()
    c.macro(b"C", j="mx.example.com", daemon_name="mx")
    c._step(b"C", c._z("outside.example") + b"4" + struct.pack(">H", 25) + c._z("198.51.100.7"),
            M.SMFIP_NOCONNECT, M.SMFIP_NR_CONN, r, "connect")
    c._step(b"H", c._z("client.example.org"), M.SMFIP_NOHELO, M.SMFIP_NR_HELO, r, "helo")
    c._step(b"M", c._z("<a%d@example.org>" % n), M.SMFIP_NOMAIL, M.SMFIP_NR_MAIL, r, "mail")
    c._step(b"R", c._z("<carol@example.com>"), M.SMFIP_NORCPT, M.SMFIP_NR_RCPT, r, "rcpt")
    c._step(b"T", b"", M.SMFIP_NODATA, M.SMFIP_NR_DATA, r, "data")
    sp = b" " if c._has(M.SMFIP_HDR_LEADSPC) else b""
    c._step(b"L", c._z("Message-ID", sp + b"<drain%d@example.org>" % n), M.SMFIP_NOHDRS,
            M.SMFIP_NR_HDR, r, "header")
    return r


def end_transaction(c, r):
    """The rest of the message; returns the end-of-message verdict."""
    M = milterclient
    c._step(b"N", b"", M.SMFIP_NOEOH, M.SMFIP_NR_EOH, r, "eoh")
    c._step(b"B", b"Hello.\r\n", M.SMFIP_NOBODY, M.SMFIP_NR_BODY, r, "body")
    c.macro(b"E", i="Q%08d" % (id(r) % 100000000))
    c._send(b"E")
    while True:
        cmd, _ = c._read()
        if cmd in M.FINAL:
            return M.FINAL[cmd]


class Daemon(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="threadmill-daemon-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.log = os.path.join(self.dir, "threadmill.log")
        self.conf = os.path.join(self.dir, "threadmill.conf")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        pid_file = os.path.join(self.dir, "tm.pid")
        if os.path.exists(pid_file):
            try:
                with open(pid_file) as f:
                    os.kill(int(f.read()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        subprocess.run(["rm", "-rf", self.dir])

    def write_conf(self, extra="", user="", socket_spec=None, extra_milter=""):
        socket_spec = socket_spec or "inet:%d@127.0.0.1" % self.port
        with open(self.conf, "w") as f:
            f.write('[milter]\nsocket = "%s"\nuser = "%s"\nhostname = "mx.example.com"\n%s'
                    '[log]\ntarget = "file:%s"\n[store]\npath = "%s/store"\n%s'
                    % (socket_spec, user, extra_milter, self.log, self.dir, extra))

    def start(self, *args):
        p = subprocess.Popen([DAEMON, "-c", self.conf, *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p

    def log_text(self):
        if not os.path.exists(self.log):
            return ""
        with open(self.log) as f:
            return f.read()

    def send(self, client, msgid, refs=""):
        headers = [("Message-ID", "<%s>" % msgid), ("Subject", "hi")]
        if refs:
            headers.append(("References", refs))
        return client.send_message(client_addr="198.51.100.7", client_name="outside.example",
                                   headers=headers, macros={"eom": {"i": msgid[:8]}})

    # -- configuration check ------------------------------------------------------------------

    def test_check_valid_config(self):
        self.write_conf()
        r = subprocess.run([DAEMON, "-c", self.conf, "-n"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("is valid", r.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "store")), "-n must not open the store")

    def test_check_invalid_config_names_the_key(self):
        self.write_conf(extra='[threading]\nmax_refernces = 5\n')
        r = subprocess.run([DAEMON, "-c", self.conf, "-n"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("threading.max_refernces: unknown key", r.stderr)

    def test_missing_config_file(self):
        r = subprocess.run([DAEMON, "-c", "/nonexistent/tm.conf", "-n"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent/tm.conf: no such file", r.stderr)

    # -- start-up problems are loud -----------------------------------------------------------

    def test_store_that_cannot_be_opened(self):
        blocker = os.path.join(self.dir, "store")
        open(blocker, "w").close()  # a file where the store directory should be
        self.write_conf()
        p = self.start()
        _, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot open the store", err)
        self.assertIn("start-up failed", self.log_text())

    def test_socket_that_cannot_be_bound(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", self.port))
            busy.listen()
            self.write_conf()
            p = self.start()
            _, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot listen on inet:%d@127.0.0.1" % self.port, err)

    def test_socket_path_that_is_not_a_socket(self):
        path = os.path.join(self.dir, "run", "tm.sock")
        os.makedirs(os.path.dirname(path))
        open(path, "w").close()
        self.write_conf(socket_spec="local:" + path)
        p = self.start()
        _, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 1)
        self.assertIn("exists and is not a socket", err)

    def test_unknown_user(self):
        self.write_conf(user="no-such-user-threadmill")
        p = self.start()
        _, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 1)
        self.assertIn('user "no-such-user-threadmill" does not exist', err)

    # -- running ----------------------------------------------------------------------------

    def test_daemonize_pid_file_and_term(self):
        self.write_conf()
        pid_file = os.path.join(self.dir, "tm.pid")
        r = subprocess.run([DAEMON, "-c", self.conf, "-d", "-p", pid_file], capture_output=True,
                           text=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)  # the parent returns at once
        wait_for(lambda: os.path.exists(pid_file), what="pid file")
        pid = int(open(pid_file).read())
        os.kill(pid, 0)
        wait_for(lambda: port_open(self.port), what="milter socket")
        with milterclient.MilterClient("inet:%d@127.0.0.1" % self.port) as c:
            c.negotiate()
            res = self.send(c, "d1@example.org")
            self.assertEqual(res.verdict, "continue")
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not os.path.exists("/proc/%d" % pid), timeout=20, what="exit after TERM")
        self.assertFalse(os.path.exists(pid_file), "pid file removed on clean stop")
        self.assertIn("threadmill stopping", self.log_text())

    def test_tells_systemd_when_ready(self):
        # systemd Type=notify: READY=1 arrives on $NOTIFY_SOCKET once the socket is bound.
        self.write_conf()
        notify = os.path.join(self.dir, "notify.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.bind(notify)
            s.settimeout(20)
            p = subprocess.Popen([DAEMON, "-c", self.conf], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=dict(os.environ, NOTIFY_SOCKET=notify))
            self.procs.append(p)
            self.assertEqual(s.recv(64), b"READY=1")
        self.assertTrue(port_open(self.port), "socket bound before READY=1")

    def test_second_instance_refused_by_pid_file(self):
        self.write_conf()
        pid_file = os.path.join(self.dir, "tm.pid")
        first = self.start("-p", pid_file)
        wait_for(lambda: port_open(self.port), what="first instance")
        second = self.start("-p", pid_file)
        _, err = second.communicate(timeout=20)
        self.assertEqual(second.returncode, 1)
        self.assertIn("is threadmill already running", err)
        self.assertIsNone(first.poll())

    def test_reload_keeps_connection_and_applies_config(self):
        self.write_conf()
        p = self.start()
        wait_for(lambda: port_open(self.port), what="milter socket")
        refs = " ".join("<r%d@example.net>" % i for i in range(10))
        with milterclient.MilterClient("inet:%d@127.0.0.1" % self.port) as c:
            c.negotiate()
            self.send(c, "before@example.org", refs)
            wait_for(lambda: "msgid=<before@example.org>" in self.log_text(), what="first line")
            self.assertIn("decision=new-thread", self.log_text().splitlines()[-1])
            # Lower max_references and reload while this connection stays open.
            self.write_conf(extra="[threading]\nmax_references = 5\n")
            p.send_signal(signal.SIGUSR1)
            wait_for(lambda: "reload: configuration re-read" in self.log_text(), what="reload")
            res = self.send(c, "after@example.org", refs)  # same connection, new message
            self.assertEqual(res.verdict, "continue")
        wait_for(lambda: "msgid=<after@example.org>" in self.log_text(), what="second line")
        line = [l for l in self.log_text().splitlines() if "msgid=<after@example.org>" in l][0]
        self.assertIn("decision=no-reply reason=references", line)
        self.assertIsNone(p.poll(), "daemon still running after reload")

    def test_broken_reload_keeps_running_config(self):
        self.write_conf()
        p = self.start()
        wait_for(lambda: port_open(self.port), what="milter socket")
        with open(self.conf, "a") as f:
            f.write("[bogus]\n")
        p.send_signal(signal.SIGUSR1)
        wait_for(lambda: "reload failed, keeping the running configuration" in self.log_text(),
                 what="reload error")
        with milterclient.MilterClient("inet:%d@127.0.0.1" % self.port) as c:
            c.negotiate()
            self.assertEqual(self.send(c, "still@example.org").verdict, "continue")

    def test_metrics_endpoint_counts_decisions(self):
        metrics_port = free_port()
        self.write_conf(extra='[auth]\nenabled = false\n[metrics]\nlisten = "127.0.0.1:%d"\n'
                        % metrics_port)
        self.start()
        wait_for(lambda: port_open(self.port) and port_open(metrics_port), what="listeners")
        with milterclient.MilterClient("inet:%d@127.0.0.1" % self.port) as c:
            c.negotiate()
            self.send(c, "m1@example.org")
            self.send(c, "m2@example.org", "<m1@example.org>")
        wait_for(lambda: "msgid=<m2@example.org>" in self.log_text(), what="decision lines")
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port, timeout=5) as r:
            self.assertEqual(r.status, 200)
            text = r.read().decode()
        self.assertIn('threadmill_messages_total{direction="inbound",decision="new-thread"} 1', text)
        self.assertIn('threadmill_messages_total{direction="inbound",decision="matched"} 1', text)
        self.assertIn('threadmill_matches_total{method="references"} 1', text)
        self.assertIn('threadmill_eom_seconds_count{direction="inbound"} 2', text)
        self.assertIn("threadmill_store_map_bytes ", text)
        # threadmillctl stats: the store's figures and the daemon's counters, while it runs.
        import json
        r = subprocess.run([CTL, "-c", self.conf, "--json", "stats"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        stats = json.loads(r.stdout)
        self.assertEqual(stats["store"]["entries"]["msgid"], 2)
        self.assertEqual(stats["store"]["entries"]["thread"], 1)
        self.assertEqual(stats["store"]["jobs"]["queued"], 0)
        self.assertEqual(
            stats["daemon"]['threadmill_messages_total{direction="inbound",decision="matched"}'], "1")

    # -- supervision and shutdown ------------------------------------------------------------

    def write_handler_conf(self, metrics_port):
        handlers = os.path.join(self.dir, "handlers")
        os.makedirs(handlers, exist_ok=True)
        os.chmod(handlers, 0o755)
        self.write_conf(extra='[auth]\nenabled = false\n[metrics]\nlisten = "127.0.0.1:%d"\n'
                        '[handlers]\ndir = "%s"\n[[routes]]\nrecipient = "help@example.com"\n'
                        'handler = "absent"\n' % (metrics_port, handlers))

    def metrics(self, port):
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
            return r.read().decode()

    def test_killed_supervisor_is_noticed_reaped_and_restarted(self):
        metrics_port = free_port()
        self.write_handler_conf(metrics_port)
        p = self.start()
        wait_for(lambda: port_open(self.port) and port_open(metrics_port), what="listeners")
        wait_for(lambda: "supervisor %d started" % children(p.pid)[0] in self.log_text()
                 if children(p.pid) else False, what="first supervisor")
        first = children(p.pid)[0]
        os.kill(first, signal.SIGKILL)
        # Noticed at once (logged, reaped: no zombie), restarted after the 1 s back-off.
        wait_for(lambda: "handler supervisor %d died: signal 9" % first in self.log_text(),
                 timeout=3, what="death logged")
        wait_for(lambda: state(first) == "", timeout=3, what="dead supervisor reaped")
        wait_for(lambda: "handler supervisor restarted as pid" in self.log_text(), timeout=5,
                 what="restart")
        wait_for(lambda: [c for c in children(p.pid) if c != first], timeout=5, what="new child")
        second = [c for c in children(p.pid) if c != first][0]
        # The new one takes the lock the killed one held and runs.
        wait_for(lambda: "supervisor %d started" % second in self.log_text(), timeout=10,
                 what="second supervisor running")
        self.assertIn(state(second), ("S", "R"))
        self.assertIn("threadmill_supervisor_restarts_total 1", self.metrics(metrics_port))
        # TERM ends the daemon and its supervisor.
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
        self.assertEqual(p.returncode, 0)
        wait_for(lambda: state(second) == "", timeout=5, what="supervisor gone with the daemon")

    def test_supervisor_stops_when_the_daemon_is_killed(self):
        metrics_port = free_port()
        self.write_handler_conf(metrics_port)
        p = self.start()
        wait_for(lambda: children(p.pid), what="supervisor")
        sup = children(p.pid)[0]
        wait_for(lambda: "supervisor %d started" % sup in self.log_text(), what="supervisor up")
        p.kill()
        p.wait()
        wait_for(lambda: state(sup) in ("", "Z"), timeout=5, what="supervisor exit")
        # A new daemon gets a supervisor at once: nothing stale blocks supervisor.lock.
        p2 = self.start()
        wait_for(lambda: children(p2.pid), what="new supervisor")
        sup2 = children(p2.pid)[0]
        wait_for(lambda: "supervisor %d started" % sup2 in self.log_text(), timeout=10,
                 what="new supervisor took the lock")
        self.assertNotIn("another supervisor", self.log_text())

    def test_term_answers_every_transaction_in_flight(self):
        self.write_conf(extra="[auth]\nenabled = false\n", extra_milter="drain_seconds = 20\n")
        p = self.start()
        wait_for(lambda: port_open(self.port), what="milter socket")
        clients, results = [], []
        try:
            for n in range(16):
                c = milterclient.MilterClient("inet:%d@127.0.0.1" % self.port)
                clients.append(c)
                c.negotiate()
                results.append(begin_transaction(c, n))
            started = time.time()
            p.send_signal(signal.SIGTERM)
            # No new connections once TERM arrived ...
            wait_for(lambda: not port_open(self.port), timeout=10, what="listener closed")
            # ... and every transaction in flight is answered.
            verdicts = [end_transaction(c, r) for c, r in zip(clients, results)]
        finally:
            for c in clients:
                c.close()
        self.assertEqual(verdicts, ["continue"] * 16)
        p.wait(timeout=30)
        self.assertEqual(p.returncode, 0)
        self.assertLess(time.time() - started, 20, "stopped within the documented bound")
        self.assertEqual(self.log_text().count("decision="), 16)
        self.assertNotIn("cut off", self.log_text())

    def test_every_process_honours_store_map_size_and_reload_names_restart_keys(self):
        self.write_conf(extra="map_size_mb = 2\n")
        p = self.start()
        wait_for(lambda: port_open(self.port), what="milter socket")
        # threadmillctl opens the store with [store] map_size_mb too (was: 256 MB built in).
        import json
        r = subprocess.run([CTL, "-c", self.conf, "--json", "stats"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["store"]["map_bytes"], 2 << 20)
        # USR1 says which changed keys only a restart applies.
        self.write_conf(extra="map_size_mb = 4\n", extra_milter='pid_file = "%s/x.pid"\n' % self.dir)
        p.send_signal(signal.SIGUSR1)
        wait_for(lambda: "need a restart" in self.log_text(), what="reload warning")
        line = [l for l in self.log_text().splitlines() if "need a restart" in l][0]
        self.assertIn("milter.pid_file, store.map_size_mb", line)

    @unittest.skipUnless(os.geteuid() == 0, "privilege drop needs root")
    def test_drops_privileges_after_opening_store(self):
        nobody = pwd.getpwnam("nobody")
        mail_gid = grp.getgrnam("mail").gr_gid
        sock = os.path.join(self.dir, "run", "tm.sock")
        self.write_conf(user="nobody", socket_spec="local:" + sock,
                        extra_milter='socket_group = "mail"\n')
        p = self.start()
        wait_for(lambda: os.path.exists(sock), what="unix socket")
        wait_for(lambda: "listening on" in self.log_text(), what="start-up")
        status = open("/proc/%d/status" % p.pid).read()
        uid_line = [l for l in status.splitlines() if l.startswith("Uid:")][0]
        self.assertEqual(uid_line.split()[1:], [str(nobody.pw_uid)] * 4)
        gid_line = [l for l in status.splitlines() if l.startswith("Gid:")][0]
        self.assertEqual(gid_line.split()[1:], [str(nobody.pw_gid)] * 4)  # not the socket's
        st = os.stat(sock)
        self.assertEqual(st.st_mode & 0o777, 0o660)
        self.assertEqual((st.st_uid, st.st_gid), (nobody.pw_uid, mail_gid))
        run_dir = os.stat(os.path.dirname(sock))
        self.assertEqual((run_dir.st_mode & 0o777, run_dir.st_gid), (0o750, mail_gid))
        self.assertEqual(os.stat(os.path.join(self.dir, "store", "data.mdb")).st_uid,
                         nobody.pw_uid)
        # It still records mail as the unprivileged user.
        with milterclient.MilterClient("local:" + sock) as c:
            c.negotiate()
            self.assertEqual(self.send(c, "asnobody@example.org").verdict, "continue")
        wait_for(lambda: "msgid=<asnobody@example.org>" in self.log_text(), what="line")
        self.assertNotIn("decision=error", self.log_text())

    # -- the root phase: links and hard links planted by the service user are not followed ----

    ROUTED = ('[handlers]\ndir = "%s"\n[[routes]]\nrecipient = "help@example.com"\n'
              'handler = "testgood"\n')

    def handlers_dir(self):
        handlers = os.path.join(self.dir, "handlers.d")
        os.makedirs(handlers, exist_ok=True)
        os.chmod(handlers, 0o755)
        return handlers

    def victim(self, name):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write("root's own\n")
        os.chmod(path, 0o600)
        return path

    @unittest.skipUnless(os.geteuid() == 0, "the user is looked up as root only")
    def test_check_reports_unknown_user(self):
        self.write_conf(user="no-such-user-threadmill")
        r = subprocess.run([DAEMON, "-c", self.conf, "-n"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn('user "no-such-user-threadmill" does not exist', r.stderr)

    @unittest.skipUnless(os.geteuid() == 0, "privilege drop needs root")
    def test_unknown_user_starts_no_supervisor(self):
        # The supervisor used to "stay root" and run handlers as root in this case.
        self.write_conf(user="no-such-user-threadmill", extra=self.ROUTED % self.handlers_dir())
        p = self.start()
        _, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 1)
        self.assertIn('user "no-such-user-threadmill" does not exist', err)
        self.assertNotIn("supervisor", self.log_text())

    @unittest.skipUnless(os.geteuid() == 0, "privilege drop needs root")
    def test_store_handed_over_without_following_planted_links(self):
        nobody = pwd.getpwnam("nobody")
        store = os.path.join(self.dir, "store")
        os.makedirs(os.path.join(store, "spool"))
        linked, hard = self.victim("linked-secret"), self.victim("hard-secret")
        os.symlink(linked, os.path.join(store, "spool", "evil"))
        os.symlink(self.dir, os.path.join(store, "evil-dir"))
        os.link(hard, os.path.join(store, "spool", "hard"))
        self.write_conf(user="nobody", extra=self.ROUTED % self.handlers_dir())
        p = self.start()
        wait_for(lambda: "listening on" in self.log_text(), what="start-up")
        wait_for(lambda: " started: " in self.log_text(), what="supervisor start-up")
        for path in (linked, hard, self.dir):
            self.assertEqual(os.stat(path).st_uid, 0, path)
        self.assertEqual(os.stat(os.path.join(store, "spool")).st_uid, nobody.pw_uid)
        self.assertIn(os.path.join(store, "spool", "hard") +
                      ": has 2 hard links, ownership not changed", self.log_text())
        # Neither the daemon nor the supervisor (handlers' parent) runs as root.
        def children(pid):
            return subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                  text=True).stdout.split()
        supervisor = children(p.pid)
        self.assertTrue(supervisor, "supervisor process")
        workers = [w for s in supervisor for w in children(s)]
        for pid in [str(p.pid)] + supervisor + workers:
            with open("/proc/%s/status" % pid) as f:
                status = f.read()
            uid_line = [l for l in status.splitlines() if l.startswith("Uid:")][0]
            self.assertEqual(uid_line.split()[1:], [str(nobody.pw_uid)] * 4, pid)

    @unittest.skipUnless(os.geteuid() == 0, "needs a directory of another user")
    def test_pid_file_link_planted_by_service_user(self):
        nobody = pwd.getpwnam("nobody")
        run = os.path.join(self.dir, "run")
        os.makedirs(run)
        os.chown(run, nobody.pw_uid, nobody.pw_gid)
        secret = self.victim("secret")
        pid_file = os.path.join(run, "tm.pid")
        os.symlink(secret, pid_file)
        os.lchown(pid_file, nobody.pw_uid, nobody.pw_gid)
        self.write_conf()
        p = self.start("-p", pid_file)
        _, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 1)
        self.assertIn("symbolic link %s is not owned by root" % pid_file, err)
        with open(secret) as f:
            self.assertEqual(f.read(), "root's own\n")
        # A hard link in the pid file's place is refused too (root could not tell it apart).
        os.unlink(pid_file)
        os.link(secret, pid_file)
        p = self.start("-p", pid_file)
        _, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 1)
        self.assertIn("2 links): remove it", err)
        with open(secret) as f:
            self.assertEqual(f.read(), "root's own\n")

    @unittest.skipUnless(os.geteuid() == 0, "privilege drop needs root")
    def test_ctl_run_as_root_drops_before_opening_the_store(self):
        # LMDB creates and resizes lock.mdb by path: as root it would write through a link the
        # service user planted in its store.
        nobody = pwd.getpwnam("nobody")
        store = os.path.join(self.dir, "store")
        self.write_conf()  # user "": create a store as root
        r = subprocess.run([CTL, "-c", self.conf, "queue", "retry", "none"], capture_output=True,
                           text=True, timeout=20)
        self.assertTrue(os.path.exists(os.path.join(store, "data.mdb")), r.stderr)
        subprocess.run(["chown", "-R", "nobody:", store], check=True)
        secret = self.victim("secret")
        lock = os.path.join(store, "lock.mdb")
        os.unlink(lock)
        os.symlink(secret, lock)
        os.lchown(lock, nobody.pw_uid, nobody.pw_gid)
        self.write_conf(user="nobody")
        r = subprocess.run([CTL, "-c", self.conf, "stats"], capture_output=True, text=True,
                           timeout=20)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("cannot open the store", r.stderr)
        with open(secret) as f:
            self.assertEqual(f.read(), "root's own\n")  # as root, LMDB wrote its lock table
        self.write_conf(user="no-such-user-threadmill")
        r = subprocess.run([CTL, "-c", self.conf, "stats"], capture_output=True, text=True,
                           timeout=20)
        self.assertEqual(r.returncode, 1)
        self.assertIn('user "no-such-user-threadmill" does not exist', r.stderr)


if __name__ == "__main__":
    if not os.path.exists(DAEMON):
        print("threadmill not built at " + DAEMON, file=sys.stderr)
        sys.exit(1)
    unittest.main(verbosity=2)
