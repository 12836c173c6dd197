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


def make_tls(directory):
    """A throw-away CA and a server certificate for "localhost" (and 127.0.0.1) signed by it,
    in `directory`: returns (ca.crt, server.crt, server.key)."""
    ca_key, ca_crt = directory + "/ca.key", directory + "/ca.crt"
    key, csr, crt = directory + "/server.key", directory + "/server.csr", directory + "/server.crt"
    ext = directory + "/server.ext"
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for argv in (
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=threadmill test CA", "-keyout", ca_key, "-out", ca_crt],
            ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
             "-keyout", key, "-out", csr],
            ["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
             "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", crt]):
        p = subprocess.run(argv, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("openssl failed: %s\n%s" % (" ".join(argv), p.stderr))
    os.chmod(key, 0o600)
    return ca_crt, crt, key


# Settings for tests: nothing is flushed (a test cluster is thrown away).
FAST = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


class Cluster:
    """settings: server -c options after the port and socket ones (FAST by default);
    hba: lines for pg_hba.conf instead of initdb's (trust for everything on this host);
    tls: (cert, key) files the server uses with ssl = on."""

    def __init__(self, settings=FAST, hba=None, tls=None):
        self.settings = settings
        self.bindir = bindir()
        self.dir = None
        self.port = None
        self.pid = None
        self.as_postgres = os.geteuid() == 0
        self.hba = hba
        self.tls = tls

    def _run(self, argv, timeout=START_TIMEOUT + 30):
        if self.as_postgres:
            argv = ["/usr/sbin/runuser", "-u", "postgres", "--"] + argv
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)

    def _give(self, path):
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def _options(self, port):
        options = "-p %d -k %s -c listen_addresses=127.0.0.1 %s" % (port, self.dir, self.settings)
        if self.tls:
            options += " -c ssl=on -c ssl_cert_file=%s -c ssl_key_file=%s" % self.tls
        return options

    def _new_dir(self):
        self.dir = tempfile.mkdtemp(prefix="threadmill-e2e-pg-")
        os.chmod(self.dir, 0o700)
        self._give(self.dir)
        if self.tls:  # the server reads its key as user postgres, mode 0600
            copies = []
            for i, src in enumerate(self.tls):
                dst = os.path.join(self.dir, ("server.crt", "server.key")[i])
                shutil.copyfile(src, dst)
                os.chmod(dst, 0o600)
                self._give(dst)
                copies.append(dst)
            self.tls = tuple(copies)

    def start(self):
        self._new_dir()
        p = self._run([self.bindir + "/initdb", "-D", self.dir + "/data", "-A", "trust", "-U", "tm",
                       "-E", "UTF8", "--no-sync", "--no-instructions"])
        if p.returncode != 0:
            raise RuntimeError("initdb failed:\n%s%s" % (p.stdout, p.stderr))
        if self.hba is not None:
            hba = self.dir + "/data/pg_hba.conf"
            with open(hba, "w") as f:
                f.write("\n".join(self.hba) + "\n")
            self._give(hba)
        return self._start_fresh()

    def start_standby_of(self, primary):
        """A streaming-replication standby of `primary` (pg_basebackup -R as user tm; the
        primary's pg_hba.conf must allow "host replication tm 127.0.0.1/32 trust")."""
        self._new_dir()
        p = self._run([self.bindir + "/pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port),
                       "-U", "tm", "-D", self.dir + "/data", "-R", "-X", "stream", "-c", "fast",
                       "--no-sync"])
        if p.returncode != 0:
            raise RuntimeError("pg_basebackup failed:\n%s%s" % (p.stdout, p.stderr))
        return self._start_fresh()

    def promote(self):
        p = self._run([self.bindir + "/pg_ctl", "-D", self.dir + "/data", "-w", "-t",
                       str(START_TIMEOUT), "promote"])
        if p.returncode != 0:
            raise RuntimeError("promote failed:\n%s%s" % (p.stdout, p.stderr))

    def kill(self):
        """The server dies: SIGKILL to the postmaster (its backends notice and exit)."""
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.pid = None

    def psql(self, sql, dbname="postgres", variables=None, file=None):
        """Runs SQL (or a file) as superuser tm; returns stdout (unaligned, tuples only)."""
        argv = [self.bindir + "/psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                self.dsn(dbname)]
        for k, v in (variables or {}).items():
            argv += ["-v", "%s=%s" % (k, v)]
        argv += ["-f", file] if file else ["-c", sql]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError("psql failed: %s\n%s" % (sql or file, p.stderr))
        return p.stdout.strip()

    def _start_fresh(self):
        errors = []
        for _ in range(START_ATTEMPTS):
            port = free_port()
            options = self._options(port)
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
        options = self._options(self.port)
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
