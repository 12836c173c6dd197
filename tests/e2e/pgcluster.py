"""A private PostgreSQL cluster for end-to-end tests (the Python twin of
tests/support/pg_cluster.h): initdb + pg_ctl in a fresh temporary directory, trust
authentication for superuser "tm", listening on a free port of 127.0.0.1 (and a socket in that
directory only), never the machine's own cluster. As root the binaries run as user postgres
(runuser). Stopped by the postmaster's PID (SIGINT, then SIGKILL after 30 s)."""

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

START_ATTEMPTS = 5
START_TIMEOUT = 60
STOP_TIMEOUT = 30


def bindir():
    """The newest /usr/lib/postgresql/<N>/bin with initdb and pg_ctl (THREADMILL_TEST_PG_BINDIR
    forces another), or None."""
    forced = os.environ.get("THREADMILL_TEST_PG_BINDIR")
    candidates = [forced] if forced else sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0, reverse=True)
    for d in candidates:
        if all(os.access(os.path.join(d, b), os.X_OK) for b in ("initdb", "pg_ctl", "postgres")):
            return d
    return None


def missing():
    if not bindir():
        return "PostgreSQL server binaries not found (/usr/lib/postgresql/N/bin; package postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "no user postgres to run the test cluster as"
    return None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Settings for tests: nothing is flushed (a test cluster is thrown away).
FAST = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


class Cluster:
    def __init__(self, settings=FAST):
        """settings: server -c options after the port and socket ones (FAST by default)."""
        self.settings = settings
        self.bindir = bindir()
        self.dir = None
        self.port = None
        self.pid = None
        self.as_postgres = os.geteuid() == 0

    def _run(self, argv, timeout=START_TIMEOUT + 30):
        if self.as_postgres:
            argv = ["/usr/sbin/runuser", "-u", "postgres", "--"] + argv
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="threadmill-e2e-pg-")
        os.chmod(self.dir, 0o700)
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        p = self._run([self.bindir + "/initdb", "-D", self.dir + "/data", "-A", "trust", "-U", "tm",
                       "-E", "UTF8", "--no-sync", "--no-instructions"])
        if p.returncode != 0:
            raise RuntimeError("initdb failed:\n%s%s" % (p.stdout, p.stderr))
        errors = []
        for _ in range(START_ATTEMPTS):
            port = free_port()
            options = "-p %d -k %s -c listen_addresses=127.0.0.1 %s" % (port, self.dir, self.settings)
            p = self._run([self.bindir + "/pg_ctl", "-D", self.dir + "/data", "-o", options,
                           "-l", self.dir + "/server.log", "-w", "-t", str(START_TIMEOUT), "start"])
            if p.returncode == 0:
                with open(self.dir + "/data/postmaster.pid") as f:
                    self.pid = int(f.readline().strip())
                self.port = port
                return self
            errors.append(p.stdout + p.stderr)  # the port was taken meanwhile: another one
        raise RuntimeError("cannot start PostgreSQL:\n" + "\n".join(errors))

    def dsn(self, dbname="postgres"):
        return "host=127.0.0.1 port=%d user=tm dbname=%s" % (self.port, dbname)

    def stop_server(self):
        """Stops the server (by PID) but keeps its data; start_again() restarts it."""
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGINT)  # fast shutdown
                deadline = time.time() + STOP_TIMEOUT
                while time.time() < deadline:
                    os.kill(self.pid, 0)
                    time.sleep(0.05)
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.pid = None

    def start_again(self):
        """Starts the stopped server on the same port with the same data."""
        options = "-p %d -k %s -c listen_addresses=127.0.0.1 %s" % (self.port, self.dir, self.settings)
        p = self._run([self.bindir + "/pg_ctl", "-D", self.dir + "/data", "-o", options,
                       "-l", self.dir + "/server.log", "-w", "-t", str(START_TIMEOUT), "start"])
        if p.returncode != 0:
            raise RuntimeError("cannot restart PostgreSQL:\n%s%s" % (p.stdout, p.stderr))
        with open(self.dir + "/data/postmaster.pid") as f:
            self.pid = int(f.readline().strip())

    def stop(self):
        self.stop_server()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
