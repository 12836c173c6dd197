#!/usr/bin/env python3
"""End-to-end: the shipped nginx example (conf/examples/nginx-threadmill-web.conf) in front of
threadmill-web, as the README sets it up: TLS at nginx, the console on its unix socket in a
directory only the web server's group may enter.

The example file is used as shipped; only what a site changes is substituted (listen ports on
127.0.0.1 instead of 80/443, no IPv6 listeners, a self-signed certificate made here, the
socket's path). nginx runs as root with its workers as www-data, like Debian's package.
Cases: plain http is redirected to https; the login page comes over TLS with the strict CSP
and a Secure pre-login cookie (the console believed X-Forwarded-Proto from its unix peer); a
login gives a Secure, HttpOnly, SameSite=Strict session and the drafts page; a client that
forges X-Forwarded-For cannot dodge the per-address login limit (nginx replaces the header
with the address it saw). No Postfix is needed: the console only reads its store here.
"""

import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rigutil  # noqa: E402
from rigutil import wait_until  # noqa: E402

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLE = os.path.join(SRC, "conf", "examples", "nginx-threadmill-web.conf")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
RATE = 3  # [web] login_attempts_per_minute


def web_binary():
    return os.path.join(rigutil.build_dir(), "web", "threadmill-web")


def missing():
    if os.geteuid() != 0:
        return "needs root (nginx workers run as www-data)"
    if not os.access(NGINX, os.X_OK):
        return "nginx is not installed (Debian package nginx-light)"
    if not os.access(web_binary(), os.X_OK):
        return "no threadmill-web at %s" % web_binary()
    if not shutil.which("openssl"):
        return "openssl is not installed"
    try:
        import grp
        grp.getgrnam("www-data")
    except KeyError:
        return "no group www-data"
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def set_cookies(response):
    return [v for k, v in response.getheaders() if k.lower() == "set-cookie"]


class ConsoleBehindNginx(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        import grp
        cls.dir = tempfile.mkdtemp(prefix="threadmill-nginx-")
        os.chmod(cls.dir, 0o755)
        d = cls.dir
        # The console's socket directory as threadmill-web.tmpfiles makes it (2750, group
        # www-data); the console runs as root here instead of threadmill.
        run = os.path.join(d, "run")
        os.mkdir(run)
        os.chown(run, 0, grp.getgrnam("www-data").gr_gid)
        os.chmod(run, 0o2750)
        sock = os.path.join(run, "web.sock")
        cls.config = os.path.join(d, "threadmill.conf")
        with open(cls.config, "w") as f:
            f.write("""[milter]
user = ""
[log]
target = "file:%(d)s/mail.log"
[store]
path = "%(d)s/store"
[web]
listen = "unix:%(sock)s"
users_file = "%(d)s/web-users"
login_attempts_per_minute = %(rate)d
""" % {"d": d, "sock": sock, "rate": RATE})
        p = subprocess.run([web_binary(), "-c", cls.config, "passwd", "alice", "--role",
                            "approver"], input="alice-password\n", capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        cls.web = subprocess.Popen([web_binary(), "-c", cls.config], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        line = cls.web.stdout.readline().strip()
        assert line.startswith("listening unix:"), (line, cls.web.stderr.read())

        # A self-signed certificate for the test's "approvals.example.com".
        cls.cert, cls.key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=approvals.example.com", "-keyout", cls.key, "-out",
                        cls.cert], check=True, capture_output=True, timeout=60)
        cls.http_port, cls.https_port = free_port(), free_port()
        with open(EXAMPLE) as f:
            site = f.read()
        for old, new in [
                ("unix:/run/threadmill-web/web.sock", "unix:" + sock),
                ("listen 80;", "listen 127.0.0.1:%d;" % cls.http_port),
                ("listen 443 ssl http2;", "listen 127.0.0.1:%d ssl http2;" % cls.https_port),
                ("/etc/letsencrypt/live/approvals.example.com/fullchain.pem", cls.cert),
                ("/etc/letsencrypt/live/approvals.example.com/privkey.pem", cls.key)]:
            assert old in site, "the example no longer has %r" % old
            site = site.replace(old, new)
        site = "\n".join(l for l in site.splitlines() if "listen [::]" not in l)
        with open(os.path.join(d, "site.conf"), "w") as f:
            f.write(site)
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write("""user www-data;
worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/nginx-error.log;
daemon off;
events { worker_connections 64; }
http {
    access_log %(d)s/nginx-access.log;
    client_body_temp_path %(d)s/body;
    proxy_temp_path %(d)s/proxy;
    include %(d)s/site.conf;
}
""" % {"d": d})
        check = subprocess.run([NGINX, "-t", "-p", d, "-c", os.path.join(d, "nginx.conf"),
                                "-e", os.path.join(d, "nginx-error.log")],
                               capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
        cls.nginx = subprocess.Popen([NGINX, "-p", d, "-c", os.path.join(d, "nginx.conf"),
                                      "-e", os.path.join(d, "nginx-error.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert wait_until(lambda: accepts(cls.https_port) and accepts(cls.http_port)), \
            "nginx did not listen: %s" % cls.tail("nginx-error.log")

    @classmethod
    def tearDownClass(cls):
        for p in (getattr(cls, "nginx", None), getattr(cls, "web", None)):
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def tail(cls, name, n=20):
        try:
            with open(os.path.join(cls.dir, name), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError as e:
            return str(e)

    def https(self, method, path, body=None, headers=None):
        context = ssl.create_default_context(cafile=self.cert)
        context.check_hostname = False  # the certificate names approvals.example.com
        c = http.client.HTTPSConnection("127.0.0.1", self.https_port, context=context, timeout=30)
        h = {"Host": "approvals.example.com"}
        h.update(headers or {})
        if body is not None:
            h["Content-Type"] = "application/x-www-form-urlencoded"
            body = urllib.parse.urlencode(body)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        page = r.read().decode("utf-8", "replace")
        c.close()
        return r, page

    def login_form(self):
        r, page = self.https("GET", "/login")
        self.assertEqual(r.status, 200, page)
        pre = [c for c in set_cookies(r) if c.startswith("tm_login=")]
        self.assertEqual(len(pre), 1, set_cookies(r))
        token = re.search(r'name="csrf" value="([0-9a-f]{64})"', page).group(1)
        return r, pre[0], token

    def test_01_plain_http_is_redirected_to_https(self):
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30)
        c.request("GET", "/login", headers={"Host": "approvals.example.com"})
        r = c.getresponse()
        r.read()
        c.close()
        self.assertEqual(r.status, 301)
        self.assertEqual(r.getheader("Location"), "https://approvals.example.com/login")

    def test_02_login_over_tls_gives_a_secure_session(self):
        r, pre, token = self.login_form()
        self.assertIn("default-src 'none'", r.getheader("Content-Security-Policy") or "")
        self.assertIn("max-age=31536000", r.getheader("Strict-Transport-Security") or "")
        self.assertIn("; Secure", pre, "X-Forwarded-Proto from the unix peer is believed")
        r, page = self.https("POST", "/login", {"csrf": token, "user": "alice",
                                                "password": "alice-password"},
                             {"Cookie": pre.split(";")[0]})
        self.assertEqual(r.status, 303, page)
        session = [c for c in set_cookies(r) if c.startswith("tm_session=")]
        self.assertEqual(len(session), 1, set_cookies(r))
        for flag in ("; Secure", "; HttpOnly", "; SameSite=Strict"):
            self.assertIn(flag, session[0])
        r, page = self.https("GET", "/drafts", headers={"Cookie": session[0].split(";")[0]})
        self.assertEqual(r.status, 200, page)
        self.assertIn('data-page="drafts"', page)

    def test_03_forged_forwarded_for_does_not_dodge_the_login_limit(self):
        # Each failure claims another client address; nginx sets X-Forwarded-For to the
        # address it saw (127.0.0.1), so all of them count against that one.
        statuses = []
        for i in range(RATE + 1):
            _, pre, token = self.login_form()
            r, page = self.https("POST", "/login",
                                 {"csrf": token, "user": "nobody%d" % i, "password": "guess"},
                                 {"Cookie": pre.split(";")[0],
                                  "X-Forwarded-For": "198.51.100.%d" % (i + 1)})
            statuses.append(r.status)
        self.assertEqual(statuses, [200] * RATE + [429], self.tail("mail.log"))


if __name__ == "__main__":
    why = missing()
    if why:
        print("SKIP: " + why)
        sys.exit(77)
    unittest.main(verbosity=2)
