#!/usr/bin/python3
"""End-to-end: the approval console (threadmill-web, issue 12) in a real headless Chromium.

The rig (tests/e2e/rig: private Postfix, dnsmasq, threadmill) runs the "testgood" fixture
(tests/handlers/fixtures/good.c: "[draft]" in the Subject stores a draft, "[fail]" parks the job)
and threadmill-web on 127.0.0.1 port 0 with the rig's configuration plus a [web] section.
Accounts come from `threadmill-web passwd`. Chromium is driven by Selenium (Debian's chromium,
chromium-driver, python3-selenium: this module runs under /usr/bin/python3).

Cases:
- login: a wrong password shows p#flash, the right one lands on the drafts list; the session
  cookie is HttpOnly and SameSite=Strict, Secure only behind https (X-Forwarded-Proto); every
  page carries the strict Content-Security-Policy.
- a draft made by a real inbound message is opened from the list, its text edited (two lines,
  UTF-8) and saved, then approved: the reply reaches the sender's Maildir with the EDITED text and
  In-Reply-To/References of the inbound message, the page shows "Sent as <that Message-ID>", the
  handler's on_draft_decision sees edited+approved by the console user, and the mail log has the
  key=value audit lines (action=edit, action=approve ... result=sent).
- reject with a note: the handler is told, nothing is sent, the audit line is written.
- a viewer sees the draft without approve/reject/save buttons, and a forged POST with the
  viewer's own valid session and CSRF token gets 403 (the draft stays pending); after logout
  the old session cookie opens nothing; without a session every page sends to /login.
- an approver restricted to another handler (--handlers) neither sees nor decides the draft.
- cross-site: a page on another origin (a local http.server) auto-submits an approve form
  without the token -> refused, nothing sent; a direct POST with the session cookie and no
  token, or a wrong token, -> 403.
- hostile content: Subject and body carry <script>, a javascript: link, <img onerror>, HTML
  entities, U+202E and a terminal escape; the list, the draft page and the thread page show
  them literally, the DOM holds no script/img/javascript: link, no script ran (window.__xss is
  undefined, no alert, no CSP violation in the console). A draft text with </textarea><script>
  saved from the browser comes back verbatim in the textarea.
- a parked job ("[fail]") is retried from the jobs page: the page says it is queued again,
  the worker runs it again (its log line) and the audit line action=retry is written.
- a job waiting for its next attempt ("[retry]") is parked from the jobs page.
- the threads search (by Message-ID, subject, participant) and timeline, a handler's KV page
  and the stats page render.
- login attempts are rate-limited (429 with p#flash) - last, as it blocks this client address.

Store backends: THREADMILL_CONSOLE_BACKEND=postgresql (ctest e2e.test_console_pg) runs the
same class against a private PostgreSQL cluster the test starts (pgcluster.py, stopped by its
PID) with a second rig, "mx2", sharing the database (its own Postfix, threadmill and testgood).
Jobs then run on whichever host claims them first, so job log lines are looked for in both
rigs' logs. Cases that do not touch the store (cookies and headers, cross-site posts, hostile
rendering, the login rate limit) run on LMDB only; one case runs on PostgreSQL only:
- a draft made from a message received by mx2 is listed and opened in the console of mx1
  (threadmill-web on mx1's configuration), approved there: the reply is delivered through
  mx1's Postfix, mx2's threadmillctl sees the draft sent and cannot approve it again, and the
  handler learns the decision; the stats page says the figures are every host's totals.

Screenshots of every page go to THREADMILL_CONSOLE_SCREENS or BUILD/Testing/console-screens/
(the path is printed); docs/console-*.png in the README are two of them.
"""

import base64
import email
import email.policy
import html
import http.cookiejar
import http.server
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgcluster  # noqa: E402
import rigutil  # noqa: E402
from rigutil import OUTSIDE_ADDR, message, token, wait_until  # noqa: E402

# The store behind both hosts: "lmdb" (one rig) or "postgresql" (two rigs, one private cluster).
BACKEND = os.environ.get("THREADMILL_CONSOLE_BACKEND", "lmdb")
PG = BACKEND == "postgresql"

HELP = "help@example.com"
CAROL = "carol@example.org"
WAIT = 90  # bounds a failing run only; a passing run never waits it out
UI_WAIT = 30
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
RATE = 20  # [web] login_attempts_per_minute: room for this module's own logins

USERS = {  # name: (password, role, handlers)
    "alice": ("correct horse battery", "approver", None),
    "victor": ("viewer pass phrase", "viewer", None),
    "root-admin": ("admin pass phrase", "admin", None),
    "sam": ("sales only pass phrase", "approver", "sales"),  # another handler's approver
}


def missing():
    why = rigutil.missing_prerequisites(fixtures=("good",), need_web=True)
    if why:
        return why
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return "missing %s (scripts/install-deps installs chromium and chromium-driver)" % path
    try:
        import selenium  # noqa: F401
    except ImportError:
        return ("python3-selenium not importable by %s (run under /usr/bin/python3)"
                % sys.executable)
    if BACKEND not in ("lmdb", "postgresql"):
        return "THREADMILL_CONSOLE_BACKEND must be lmdb or postgresql, not %r" % BACKEND
    if PG:
        return pgcluster.missing()
    return None


_KV = re.compile(r'(?:^|\s)([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|\S*)')


def audit_lines(log_text):
    """threadmill-web's key=value lines of the mail log, as dicts (values unquoted)."""
    out = []
    for line in log_text.splitlines():
        if "threadmill-web" not in line or "action=" not in line:
            continue
        rest = line.split("threadmill-web", 1)[1]
        fields = {k: rigutil._unquote(v) for k, v in _KV.findall(rest)}
        fields["raw"] = line
        out.append(fields)
    return out


def encoded_words(text):
    """text as RFC 2047 B encoded-words of at most 75 characters (whole characters each),
    folded onto continuation lines."""
    words, chunk = [], b""
    for ch in text:
        b = ch.encode()
        if len(chunk) + len(b) > 45:
            words.append(chunk)
            chunk = b""
        chunk += b
    words.append(chunk)
    return "\n ".join("=?UTF-8?B?%s?=" % base64.b64encode(w).decode() for w in words)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Http:
    """Plain HTTP against the console (what a forging client does): no redirects followed,
    status, headers and body returned whatever the status."""

    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPCookieProcessor(self.jar))

    def request(self, path, data=None, headers=None, cookie=None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, method="POST" if data is not None else "GET")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        if cookie is not None:
            req.add_header("Cookie", cookie)
        try:
            with self.opener.open(req, timeout=30) as r:
                return r.status, r.headers, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode("utf-8", "replace")

    def login(self, user, password):
        """Logs in like the form does (the login page's token and cookie); the session cookie
        stays in this client's jar. Returns the status of the POST."""
        _, _, page = self.request("/login")
        status, _, _ = self.request("/login", data={"user": user, "password": password,
                                                    "csrf": self.csrf(page) or ""})
        return status

    @staticmethod
    def csrf(page):
        m = re.search(r'<input[^>]*name="csrf"[^>]*>', page)
        if not m:
            return None
        v = re.search(r'value="([^"]*)"', m.group(0))
        return html.unescape(v.group(1)) if v else None


class WebServer:
    """threadmill-web serving the rig's store on 127.0.0.1, port chosen by the program."""

    def __init__(self, config, log_dir):
        self.config = config
        self.stderr_path = os.path.join(log_dir, "threadmill-web.stderr")
        self.proc = None
        self.base = None

    def run(self, *args, stdin=None):
        return subprocess.run([rigutil.web_binary(), "-c", self.config, *args], input=stdin,
                              capture_output=True, text=True, timeout=60)

    def passwd(self, user, password, role, handlers=None):
        args = ["passwd", user, "--role", role]
        if handlers:
            args += ["--handlers", handlers]
        p = self.run(*args, stdin=password + "\n")
        if p.returncode != 0:
            raise AssertionError("threadmill-web passwd %s failed (%d): %s%s"
                                 % (user, p.returncode, p.stdout, p.stderr))

    def start(self):
        self.stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([rigutil.web_binary(), "-c", self.config,
                                      "--listen", "127.0.0.1:0"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True)
        lines = queue.Queue()

        def pump():
            for line in self.proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.time() + UI_WAIT
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.time()))
            except queue.Empty:
                line = None
            if line is None or time.time() > deadline:
                raise AssertionError("threadmill-web printed no `listening ADDR` line; stderr:\n%s"
                                     % rigutil.RigBase.tail(self.stderr_path))
            m = re.match(r"listening\s+(?:http://)?(127\.0\.0\.1:\d+)\s*$", line.strip())
            if m:
                self.base = "http://" + m.group(1)
                return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.proc.stdout.close()
            self.stderr.close()
        self.proc = None


class AttackerSite:
    """Another origin (its own port) whose page auto-submits a form to the console."""

    def __init__(self):
        self.page = b""
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(site.page)))
                self.end_headers()
                self.wfile.write(site.page)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = "http://127.0.0.1:%d" % self.server.server_address[1]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def screens_dir():
    d = os.environ.get("THREADMILL_CONSOLE_SCREENS") or os.path.join(
        rigutil.build_dir(), "Testing", "console-screens")
    os.makedirs(d, exist_ok=True)
    return d


def start_browser(profile_dir):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1000", "--user-data-dir=" + profile_dir,
                "--no-first-run", "--disable-extensions", "--lang=en-US"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


class Console(rigutil.RigTestCase):

    web = None
    browser = None
    attacker = None

    @classmethod
    def setUpClass(cls):
        from selenium.webdriver.common.by import By
        cls.By = By
        cls.t = token()
        cls.rig = None
        cls.rig2 = None
        cls.cluster = None
        with cls.starting():
            dsn = None
            if PG:
                cls.cluster = pgcluster.Cluster()
                cls.cluster.start()
                dsn = cls.cluster.dsn()
            rig = cls.make_rig("console", "mx1", dsn, web=True)
            cls.rig = rig
            rig.start()
            if PG:  # the other MX host: its own Postfix and threadmill, the same database
                cls.rig2 = cls.make_rig("console-mx2", "mx2", dsn, web=False)
                cls.rig2.start()
            cls.web = WebServer(rig.env["RIG_CONFIG"], rig.dir)
            for user, (password, role, only) in USERS.items():
                cls.web.passwd(user, password, role, only)
            cls.web.start()
            cls.screens = screens_dir()
            print("console screenshots: %s (store: %s)" % (cls.screens, BACKEND), flush=True)
            profile = os.path.join(rig.dir, "chromium-profile")
            os.makedirs(profile)
            cls.browser = start_browser(profile)
            cls.browser.set_page_load_timeout(UI_WAIT)
            cls.attacker = AttackerSite()
            cls.user = None

    @staticmethod
    def make_rig(name, host_id, dsn, web):
        """A rig running testgood; with dsn, its store in that PostgreSQL database as host_id;
        with web, the [web] section threadmill-web reads."""
        rig = rigutil.fixture_rig(name)
        web_conf = """
[web]
listen = "127.0.0.1:0"
users_file = "%(users)s"
secure_cookies = "auto"
session_minutes = 60
login_attempts_per_minute = %(rate)d
trusted_proxies = ["127.0.0.1"]   # the test plays the reverse proxy (X-Forwarded-Proto)
"""
        rigutil.add_conf(rig, "console.conf",
                         rigutil.TESTGOOD_DRAFTS_CONF + (web_conf if web else ""),
                         retry_seconds=120, users=os.path.join(rig.dir, "web-users"), rate=RATE)
        if dsn:
            rig.env_extra["RIG_STORE_EXTRA"] = (
                'backend = "postgresql"\ndsn = "%s"\nhost_id = "%s"' % (dsn, host_id))
        return rig

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.browser:
                cls.browser.quit()
                cls.browser = None
            if cls.attacker:
                cls.attacker.stop()
                cls.attacker = None
            if cls.web:
                cls.web.stop()
                cls.web = None
        finally:
            try:
                super().tearDownClass()
            finally:
                if cls.cluster:
                    cls.cluster.stop()
                    cls.cluster = None

    def lmdb_only(self, why):
        if PG:
            self.skipTest("runs on LMDB only (%s)" % why)

    # --- mail and store ---------------------------------------------------------------------

    def mid(self, name):
        return "<%s.%s@example.org>" % (name, self.t)

    def send(self, msgid, subject, body="Please help.\n", extra_headers=(), rig=None):
        data = message([("From", "Carol <%s>" % CAROL), ("To", HELP), ("Subject", subject),
                        ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"), ("Message-ID", msgid),
                        *extra_headers], body=body)
        rc, out, qid = (rig or self.rig).swaks(data, CAROL, HELP, xclient_addr=OUTSIDE_ADDR)
        self.assertEqual(rc, 0, out)

    def draft(self, name, subject=None, **kw):
        """Sends an inbound message that testgood answers with a draft: (msgid, draft id).
        rig=: the rig that receives it (default: the console's)."""
        m = self.mid(name)
        self.send(m, subject or "Please draft %s [draft]" % name, **kw)
        value = self.wait_kv("testgood", "draft:%s" % m)
        self.assertTrue(value.startswith("0 D"), value)
        return m, value[2:]

    def draft_record(self, draft_id):
        p = self.rig.ctl("--json", "drafts", "show", draft_id)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return json.loads(p.stdout)

    def log_text(self):
        with open(self.rig.log_path, errors="replace") as f:
            return f.read()

    def jobs_log_text(self):
        """The log lines of job runs: with PostgreSQL either host may run a job."""
        text = self.log_text()
        if self.rig2:
            with open(self.rig2.log_path, errors="replace") as f:
                text += f.read()
        return text

    def wait_audit(self, **want):
        """The first threadmill-web audit line with every key=value of want."""
        def find():
            for line in audit_lines(self.log_text()):
                if all(line.get(k) == v for k, v in want.items()):
                    return line
            return None
        line = wait_until(find, timeout=15)
        self.assertIsNotNone(line, "no audit line with %s in the mail log; its web lines:\n%s"
                             % (want, "\n".join(l["raw"] for l in audit_lines(self.log_text()))))
        return line

    # --- the browser ------------------------------------------------------------------------

    def shot(self, name):
        path = os.path.join(self.screens, "%s.png" % name)
        self.assertTrue(self.browser.save_screenshot(path), path)
        return path

    def wait(self, cond, what, timeout=UI_WAIT):
        from selenium.common.exceptions import (StaleElementReferenceException,
                                                TimeoutException, WebDriverException)
        from selenium.webdriver.support.ui import WebDriverWait

        def polled(driver):
            # A node the page replaced while the condition looked at it is "not yet", as a
            # stale element is: Chrome reports some as an inspector error instead (seen
            # under load: "Node with given id does not belong to the document").
            try:
                return cond(driver)
            except StaleElementReferenceException:
                return False
            except WebDriverException as e:
                if "does not belong to the document" in str(e):
                    return False
                raise
        try:
            return WebDriverWait(self.browser, timeout).until(polled)
        except TimeoutException:
            self.fail("browser: %s not reached within %ss; at %s:\n%s"
                      % (what, timeout, self.browser.current_url, self.body_text()[:3000]))

    def body_text(self):
        try:
            return self.browser.find_element(self.By.TAG_NAME, "body").text
        except Exception as e:  # noqa: BLE001 - diagnostics only
            return "(%s)" % e

    def page_name(self):
        els = self.browser.find_elements(self.By.CSS_SELECTOR, "main#page")
        return els[0].get_attribute("data-page") if els else None

    def wait_page(self, name):
        self.wait(lambda d: self.page_name() == name, "page %s" % name)

    def goto(self, path, page):
        self.browser.get(self.web.base + path)
        self.wait_page(page)

    def find(self, css):
        return self.browser.find_element(self.By.CSS_SELECTOR, css)

    def present(self, css):
        return self.browser.find_elements(self.By.CSS_SELECTOR, css)

    def flash(self):
        els = self.present("p#flash")
        return els[0].text if els else ""

    def click_and_wait_page(self, css, page):
        """Clicks a submit button and waits for the response page to replace this one."""
        from selenium.webdriver.support import expected_conditions as EC
        old = self.find("main#page")
        self.find(css).click()
        self.wait(EC.staleness_of(old), "the page after %s" % css)
        self.wait_page(page)

    def login(self, user, password=None):
        password = password if password is not None else USERS[user][0]
        # Always: a test that failed half-way may have left a session the bookkeeping
        # (type(self).user) never saw, and /login would then redirect to the drafts.
        self.logout()
        self.goto("/login", "login")
        form = self.find("form#login")
        form.find_element(self.By.CSS_SELECTOR, "input[name=user]").send_keys(user)
        form.find_element(self.By.CSS_SELECTOR, "input[name=password]").send_keys(password)
        from selenium.webdriver.support import expected_conditions as EC
        old = self.find("main#page")
        self.find("button#login-submit").click()
        self.wait(EC.staleness_of(old), "the page after logging in")
        self.wait(lambda d: self.page_name() in ("drafts", "login"), "drafts or login page")
        if self.page_name() == "drafts":
            type(self).user = user
        return self.page_name()

    def logout(self):
        if self.present("button#logout"):
            self.click_and_wait_page("button#logout", "login")
        else:
            self.browser.delete_all_cookies()
        type(self).user = None

    def as_user(self, user):
        if type(self).user != user:
            self.assertEqual(self.login(user), "drafts", self.flash())

    def session_cookie_header(self):
        return "; ".join("%s=%s" % (c["name"], c["value"]) for c in self.browser.get_cookies())

    def open_draft_from_list(self, draft_id):
        self.goto("/drafts", "drafts")
        links = [a for a in self.present("table#drafts tr.draft a.draft-link")
                 if (a.get_attribute("href") or "").endswith("/drafts/" + draft_id)]
        self.assertTrue(links, "draft %s not listed:\n%s" % (draft_id, self.body_text()))
        from selenium.webdriver.support import expected_conditions as EC
        old = self.find("main#page")
        links[0].click()
        self.wait(EC.staleness_of(old), "the draft page")
        self.wait_page("draft")

    def assertNoScriptRan(self):
        """Nothing injected ran or was even parsed as markup."""
        from selenium.common.exceptions import NoAlertPresentException
        try:
            alert = self.browser.switch_to.alert
            text = alert.text
            alert.dismiss()
            self.fail("an alert opened: %r" % text)
        except NoAlertPresentException:
            pass
        self.assertEqual(self.browser.execute_script("return typeof window.__xss"), "undefined")
        counts = self.browser.execute_script("""
            return {scripts: document.querySelectorAll('script').length,
                    imgs: document.querySelectorAll('main img, main svg, main iframe').length,
                    handlers: Array.from(document.querySelectorAll('main *')).filter(
                        e => Array.from(e.attributes).some(a => a.name.startsWith('on'))).length,
                    js_links: Array.from(document.querySelectorAll('a[href]')).filter(
                        a => a.getAttribute('href').trim().toLowerCase().startsWith('javascript')).length};
        """)
        self.assertEqual(counts, {"scripts": 0, "imgs": 0, "handlers": 0, "js_links": 0}, counts)
        violations = [e["message"] for e in self.browser.get_log("browser")
                      if "Content Security Policy" in e["message"] or "__xss" in e["message"]]
        self.assertEqual(violations, [], "the page tried to run injected code")

    # --- cases ------------------------------------------------------------------------------

    def test_01_login_cookie_and_headers(self):
        self.lmdb_only("sessions and headers do not touch the store")
        self.goto("/login", "login")
        self.shot("login")
        self.assertEqual(self.login("alice", "not the password"), "login")
        self.assertIn("Wrong user name or password", self.flash())
        self.assertEqual(self.login("alice"), "drafts")
        self.assertTrue(self.present("table#drafts"), self.body_text())
        cookies = self.browser.get_cookies()
        self.assertTrue(cookies, "no session cookie")
        for c in cookies:
            self.assertTrue(c.get("httpOnly"), c)
            self.assertEqual(c.get("sameSite"), "Strict", c)
            self.assertFalse(c.get("secure"), "plain http on loopback: no Secure (%s)" % c)
        # Every page: the strict CSP. / redirects to the drafts.
        h = Http(self.web.base)
        status, headers, page = h.request("/login")
        self.assertEqual(status, 200)
        csp = headers.get("Content-Security-Policy", "")
        for directive in ("default-src 'none'", "form-action 'self'", "frame-ancestors 'none'",
                          "base-uri 'none'"):
            self.assertIn(directive, csp)
        self.assertNotIn("unsafe-inline", csp)
        status, headers, _ = h.request("/", cookie=self.session_cookie_header())
        self.assertEqual(status, 303)
        self.assertTrue(headers.get("Location", "").endswith("/drafts"), headers.get("Location"))
        # Without a session every page sends to the login page; a made-up session id too.
        for path in ("/drafts", "/jobs", "/threads", "/stats", "/handlers/testgood/kv"):
            for cookie in ("", "tm_session=" + "a" * 64):
                status, headers, _ = h.request(path, cookie=cookie)
                self.assertEqual((status, headers.get("Location", "").endswith("/login")),
                                 (303, True), (path, cookie))
        # Behind a TLS proxy (X-Forwarded-Proto: https) the cookie is Secure.
        status, headers, page = h.request("/login", headers={"X-Forwarded-Proto": "https"})
        form = {"user": "root-admin", "password": USERS["root-admin"][0]}
        csrf = Http.csrf(page)
        if csrf is not None:
            form["csrf"] = csrf
        status, headers, _ = h.request("/login", data=form, headers={"X-Forwarded-Proto": "https"})
        self.assertEqual(status, 303, "https login as root-admin")
        set_cookies = headers.get_all("Set-Cookie") or []
        session = [c for c in set_cookies if "max-age=0" not in c.lower() and "=;" not in c]
        self.assertTrue(session, set_cookies)
        for c in session:
            attrs = [a.strip().lower() for a in c.split(";")[1:]]
            self.assertIn("secure", attrs, c)
            self.assertIn("httponly", attrs, c)
            self.assertIn("samesite=strict", attrs, c)

    def test_02_edit_then_approve_sends_the_edited_text_threaded(self):
        m, draft_id = self.draft("approve")
        self.as_user("alice")
        self.shot("drafts")
        self.open_draft_from_list(draft_id)
        inbound = self.find("section#inbound").text
        self.assertIn(CAROL, inbound)
        self.assertIn("Please draft approve [draft]", inbound)
        area = self.find("textarea#draft-text")
        self.assertEqual(area.get_attribute("value").strip(), "Drafted answer")
        # Undecided: nothing about a decision, a sent reply or a refusal (no empty labels).
        page = self.find("main#page").text
        for absent in ("()", "sent as", "Last refusal"):
            self.assertNotIn(absent, page)
        self.shot("draft")
        edited = "Hello Carol,\nthe printer is fixed. Grüße, the help desk."
        area.clear()
        area.send_keys(edited)
        self.find("form#edit-form input[name=note]").send_keys("friendlier")
        self.click_and_wait_page("button#save", "draft")
        self.assertIn("Saved", self.flash())
        self.assertEqual(self.find("textarea#draft-text").get_attribute("value").replace("\r\n", "\n").strip(),
                         edited)
        self.assertEqual(self.rig.find_delivered(CAROL, "In-Reply-To: %s" % m), [])
        self.wait_audit(action="edit", draft=draft_id, user="alice")
        self.find("form#approve-form input[name=note]").send_keys("looks right")
        self.click_and_wait_page("button#approve", "draft")
        flash = self.flash()
        self.shot("draft-approved")
        self.assertIn("Sent as", flash)
        path = self.rig.wait_delivered(CAROL, "In-Reply-To: %s" % m, timeout=WAIT)
        with open(path, "rb") as f:
            reply = email.message_from_binary_file(f, policy=email.policy.default)
        self.assertEqual(reply["In-Reply-To"], m)
        self.assertIn(m, reply["References"])
        self.assertIn(rigutil.bare(reply["Message-ID"]), flash)
        body = reply.get_content()
        self.assertIn("Hello Carol,\nthe printer is fixed. Grüße, the help desk.", body.replace("\r\n", "\n"))
        self.assertNotIn("Drafted answer", body)
        line = self.wait_audit(action="approve", draft=draft_id, user="alice")
        self.assertEqual(line.get("result"), "sent", line["raw"])
        self.assertEqual(rigutil.bare(line.get("reply")), rigutil.bare(reply["Message-ID"]), line["raw"])
        decision = self.wait_kv("testgood", "decision:%s" % draft_id).split("|")
        self.assertEqual(decision[0], "edited+approved", decision)
        self.assertEqual(decision[1], "looks right", decision)
        self.assertEqual(rigutil.bare(decision[2]), rigutil.bare(reply["Message-ID"]), decision)
        # decided_by: the console user, marked as such (threadmillctl records the unix user).
        self.assertEqual(decision[4], "web:alice", decision)
        # Browsers send a textarea's line ends as CRLF; the stored text has LF.
        self.assertNotIn("\r", decision[5], "the textarea's CRLF reached the text")
        self.assertNotIn("\r", self.draft_record(draft_id)["text"])
        record = self.draft_record(draft_id)
        self.assertEqual(record["state"], "sent", record)
        self.assertEqual([(e["action"], e["by"]) for e in record["history"]],
                         [("edited", "web:alice"), ("approved", "web:alice")], record["history"])
        # Decided: nothing left to approve on the page.
        self.goto("/drafts/" + draft_id, "draft")
        self.assertFalse(self.present("button#approve"), self.body_text())

    def test_03_reject_with_a_note(self):
        m, draft_id = self.draft("reject")
        self.as_user("alice")
        self.goto("/drafts/" + draft_id, "draft")
        self.find("form#reject-form input[name=note]").send_keys("off topic")
        self.click_and_wait_page("button#reject", "draft")
        self.assertIn("Rejected", self.flash())
        self.shot("draft-rejected")
        decision = self.wait_kv("testgood", "decision:%s" % draft_id).split("|")
        self.assertEqual(decision[:3], ["rejected", "off topic", ""], decision)
        self.assertEqual(decision[4], "web:alice", decision)
        self.assertEqual(self.draft_record(draft_id)["state"], "rejected")
        self.wait_audit(action="reject", draft=draft_id, user="alice")
        self.assertEqual(self.rig.find_delivered(CAROL, "In-Reply-To: %s" % m), [])

    def test_04_a_viewer_cannot_approve(self):
        m, draft_id = self.draft("viewer")
        self.as_user("victor")
        self.goto("/drafts/" + draft_id, "draft")
        self.shot("draft-viewer")
        self.assertIn("Please draft viewer [draft]", self.find("section#inbound").text)
        for css in ("button#approve", "button#reject", "button#save"):
            self.assertFalse(self.present(css), "%s shown to a viewer" % css)
        # Forged: the viewer's own session and a valid CSRF token (from the logout form).
        csrf = self.find("input[name=csrf]").get_attribute("value")
        cookie = self.session_cookie_header()
        h = Http(self.web.base)
        for action in ("approve", "reject", "edit"):
            status, _, _ = h.request("/drafts/%s/%s" % (draft_id, action), cookie=cookie,
                                     data={"csrf": csrf, "note": "forged", "text": "forged"})
            self.assertEqual(status, 403, "viewer POST %s" % action)
        record = self.draft_record(draft_id)
        self.assertEqual(record["state"], "draft_for_approval", record)
        self.assertEqual(record["history"], [])
        self.assertEqual(self.rig.find_delivered(CAROL, "In-Reply-To: %s" % m), [])
        # Logging out ends the session on the server: the old cookie opens nothing.
        self.logout()
        status, headers, _ = h.request("/drafts/" + draft_id, cookie=cookie)
        self.assertEqual(status, 303, "the session outlived its logout")
        status, _, _ = h.request("/drafts/%s/approve" % draft_id, cookie=cookie,
                                 data={"csrf": csrf, "note": "replayed"})
        self.assertEqual(status, 403)

    def test_05_cross_site_posts_are_refused(self):
        self.lmdb_only("CSRF checks do not touch the store")
        m, draft_id = self.draft("csrf")
        self.as_user("alice")
        # A page of another origin auto-submits an approve form: the browser sends the form
        # (and, 127.0.0.1 being the same site, even the cookie) but no token.
        target = "%s/drafts/%s/approve" % (self.web.base, draft_id)
        self.attacker.page = ("""<!doctype html><html><body>
<form id="f" method="POST" action="%s"><input name="note" value="csrf"></form>
<script>document.getElementById('f').submit();</script></body></html>""" % target).encode()
        self.browser.get(self.attacker.base + "/")
        self.wait(lambda d: d.current_url.startswith(self.web.base), "the forged form post")
        self.wait(lambda d: d.execute_script("return document.readyState") == "complete",
                  "the answer to the forged post")
        self.shot("csrf-refused")
        self.assertNotIn("Sent as", self.body_text())
        # Directly: alice's session cookie, no token / a wrong token.
        cookie = self.session_cookie_header()
        h = Http(self.web.base)
        for data in ({"note": "x"}, {"note": "x", "csrf": "0" * 43}, {"note": "x", "csrf": ""}):
            status, _, _ = h.request("/drafts/%s/approve" % draft_id, data=data, cookie=cookie)
            self.assertEqual(status, 403, data)
        status, _, _ = h.request("/drafts/%s/reject" % draft_id, data={"note": "x"}, cookie=cookie)
        self.assertEqual(status, 403)
        record = self.draft_record(draft_id)
        self.assertEqual(record["state"], "draft_for_approval", record)
        self.assertEqual(self.rig.find_delivered(CAROL, "In-Reply-To: %s" % m), [])
        # The session itself still works.
        self.goto("/drafts/" + draft_id, "draft")
        self.assertTrue(self.present("button#approve"))

    def test_06_hostile_subject_and_body_show_as_text_and_never_run(self):
        self.lmdb_only("escaping does not depend on the store")
        rlo, esc = "\u202e", "\x1b"
        subject_text = ('[draft] <script>window.__xss=1</script> <img src=x onerror="window.__xss=2"> '
                        '&amp; &lt;b&gt; %sgpj.exe %s[31mred' % (rlo, esc))
        encoded = encoded_words(subject_text)
        body = ('<a href="javascript:window.__xss=3">click me</a>\n'
                '<script>alert(1)</script>\n'
                '&lt;script&gt; &#x3c;b&#x3e;\n'
                'evil %stxt.exe and %s]0;pwned%s\\\n' % (rlo, esc, esc))
        m, draft_id = self.draft("xss", subject=encoded, body=body, extra_headers=(
            ("MIME-Version", "1.0"), ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Transfer-Encoding", "8bit")))
        self.as_user("alice")
        self.goto("/drafts", "drafts")
        self.assertNoScriptRan()
        self.assertIn("<script>window.__xss=1</script>", self.find("table#drafts").text)
        self.open_draft_from_list(draft_id)
        self.shot("draft-hostile")
        self.assertNoScriptRan()
        inbound = self.find("section#inbound").text
        for literal in ("<script>window.__xss=1</script>", '<img src=x onerror="window.__xss=2">',
                        "&amp; &lt;b&gt;", "gpj.exe", "[31mred",
                        '<a href="javascript:window.__xss=3">click me</a>', "<script>alert(1)</script>",
                        "&lt;script&gt; &#x3c;b&#x3e;", "txt.exe", "]0;pwned"):
            self.assertIn(literal, inbound, "not shown literally")
        # Bidi overrides and terminal escapes are made visible, not obeyed.
        self.assertNotIn(rlo, inbound, "raw U+202E reorders what the approver reads")
        self.assertNotIn(esc, inbound, "raw ESC in the page")
        # The draft text goes back into a textarea: a closing tag in it must stay text.
        hostile = '</textarea><script>window.__xss=5</script><b>bold</b> & &amp;'
        area = self.find("textarea#draft-text")
        area.clear()
        area.send_keys(hostile)
        self.click_and_wait_page("button#save", "draft")
        self.assertNoScriptRan()
        self.assertEqual(self.find("textarea#draft-text").get_attribute("value").strip(), hostile)
        self.assertEqual(self.draft_record(draft_id)["text"].strip(), hostile)
        # The thread's timeline shows the same subject.
        rec = self.rig.lookup(m)
        self.assertIsNotNone(rec)
        self.goto("/threads/" + rec["thread"], "thread")
        self.assertNoScriptRan()
        self.shot("thread-hostile")

    def test_07_a_parked_job_is_retried_from_the_jobs_page(self):
        m = self.mid("parked")
        self.send(m, "Always fails [fail]")
        self.assertEqual(self.wait_kv("testgood", "seen:%s" % m), "1")

        def parked():
            p = self.rig.ctl("--json", "queue", "list", "parked")
            return [j for j in json.loads(p.stdout) if rigutil.bare(j["msgid"]) == rigutil.bare(m)]
        jobs = wait_until(parked)
        self.assertTrue(jobs, "the [fail] job was not parked")
        job = jobs[0]
        self.as_user("alice")
        self.goto("/jobs?state=parked", "jobs")
        self.shot("jobs")
        rows = [r for r in self.present("table#jobs tr.job") if job["id"] in r.text]
        self.assertTrue(rows, "job %s not listed:\n%s" % (job["id"], self.body_text()))
        self.assertIn("parked", rows[0].text)
        from selenium.webdriver.support import expected_conditions as EC
        old = self.find("main#page")
        rows[0].find_element(self.By.CSS_SELECTOR, "button.retry").click()
        self.wait(EC.staleness_of(old), "the page after retry")
        self.wait_page("jobs")
        self.assertIn("queued again", self.flash())
        self.wait_audit(action="retry", job=job["id"], user="alice", result="queued")
        # The worker runs it again (a retry starts its attempts afresh; the fixture fails again
        # and the job is parked again): a second attempt line for the job in the log.
        attempts = re.compile(r"job=%s handler=testgood .*decision=parked" % re.escape(job["id"]))
        ran = wait_until(lambda: len(attempts.findall(self.jobs_log_text())) >= 2)
        self.assertTrue(ran, "the retried job did not run again:\n%s"
                        % self.rig.tail(self.rig.log_path, 20))
        self.assertTrue(wait_until(parked), "parked again after the retried attempt")
        self.goto("/jobs?state=parked", "jobs")
        self.shot("jobs-after-retry")

    def test_08_threads_kv_and_stats_pages(self):
        self.as_user("alice")
        # Every draft of this run, whatever its state (sent, rejected, awaiting, hostile).
        self.goto("/drafts?state=all", "drafts")
        states = " ".join(r.text for r in self.present("table#drafts tr.draft"))
        for state in ("sent", "rejected", "awaiting approval"):
            self.assertIn(state, states)
        self.assertNoScriptRan()
        self.shot("drafts-all")
        self.goto("/threads?q=" + urllib.parse.quote(self.mid("approve")), "threads")
        links = self.present("table#threads tr.thread a.thread-link")
        self.assertTrue(links, self.body_text())
        self.shot("threads")
        first_thread = links[0].get_attribute("href")
        # The same thread by subject words and by participant.
        for q in ("Please draft approve", CAROL):
            self.goto("/threads?q=" + urllib.parse.quote(q), "threads")
            hrefs = [a.get_attribute("href") for a in self.present("table#threads tr.thread a.thread-link")]
            self.assertIn(first_thread, hrefs, "search %r" % q)
        self.goto("/threads?q=" + urllib.parse.quote(self.mid("approve")), "threads")
        links = self.present("table#threads tr.thread a.thread-link")
        from selenium.webdriver.support import expected_conditions as EC
        old = self.find("main#page")
        links[0].click()
        self.wait(EC.staleness_of(old), "the thread page")
        self.wait_page("thread")
        rows = self.present("table#timeline tr.message")
        self.assertGreaterEqual(len(rows), 2, "inbound message and its reply:\n%s" % self.body_text())
        timeline = self.find("table#timeline").text.lower()
        self.assertIn("inbound", timeline)
        # The reply passed the milter as outbound and matched by In-Reply-To: its match method
        # (the decision line's match=) is on the page with the message it answered.
        self.assertIn("in-reply-to <%s>" % self.mid("approve").strip("<>").lower(), timeline)
        self.shot("thread")
        self.goto("/handlers/testgood/kv", "kv")
        self.assertIn("seen:", self.find("table#kv").text)
        self.assertFalse(self.present("table#kv form"), "KV is read-only")
        self.shot("kv")
        self.goto("/stats", "stats")
        self.assertTrue(self.present("table#stats"))
        figures = {r.find_elements(self.By.TAG_NAME, "td")[0].text:
                   r.find_elements(self.By.TAG_NAME, "td")[1].text
                   for r in self.present("table#stats tr.figure")}
        if PG:  # the shared tables' rows, every host's; then this host's fallback spool
            self.assertIn("totals of every host", self.find("p#store-scope").text)
            self.assertGreaterEqual(int(figures.get("store.entries.tm_draft", "0")), 3, figures)
            self.assertIn("local_spool.waiting_to_push", figures)
            self.assertNotIn("store.map_bytes", figures)
        else:
            self.assertFalse(self.present("p#store-scope"))
            self.assertGreaterEqual(int(figures.get("store.entries.drafts", "0")), 3, figures)
            self.assertIn("store.map_bytes", figures)
        self.shot("stats")
        # A phone-sized window still shows the draft list.
        self.browser.set_window_size(390, 844)
        try:
            self.goto("/drafts", "drafts")
            self.shot("drafts-phone")
        finally:
            self.browser.set_window_size(1280, 1000)

    def test_10_a_job_waiting_for_its_retry_is_parked_from_the_jobs_page(self):
        # "[retry]": the handler asks to be called again; the job waits (queued) for its next
        # attempt, 120 s away ([runtime] retry_*_seconds), time enough to park it.
        m = self.mid("waiting")
        self.send(m, "Try later [retry]")
        self.assertEqual(self.wait_kv("testgood", "seen:%s" % m), "1")

        def waiting():
            p = self.rig.ctl("--json", "queue", "list", "queued")
            return [j for j in json.loads(p.stdout) if rigutil.bare(j["msgid"]) == rigutil.bare(m)
                    and j["attempts"] >= 1]
        jobs = wait_until(waiting)
        self.assertTrue(jobs, "the [retry] job is not waiting in the queue")
        job = jobs[0]
        self.as_user("alice")
        self.goto("/jobs?state=queued", "jobs")
        rows = [r for r in self.present("table#jobs tr.job") if r.get_attribute("data-id") == job["id"]]
        self.assertTrue(rows, "job %s not listed:\n%s" % (job["id"], self.body_text()))
        self.shot("jobs-queued")
        from selenium.webdriver.support import expected_conditions as EC
        old = self.find("main#page")
        rows[0].find_element(self.By.CSS_SELECTOR, "button.park").click()
        self.wait(EC.staleness_of(old), "the page after park")
        self.wait_page("jobs")
        self.assertIn("parked", self.flash())
        self.wait_audit(action="park", job=job["id"], user="alice", result="parked")
        p = self.rig.ctl("--json", "queue", "show", job["id"])
        self.assertEqual(p.returncode, 0, p.stderr)
        shown = json.loads(p.stdout)
        self.assertEqual(shown["state"], "parked", shown)
        self.assertIn("web:alice", shown.get("last_error", ""), shown)

    def test_09_an_account_restricted_to_other_handlers(self):
        m, draft_id = self.draft("restricted")
        h = Http(self.web.base)
        self.assertEqual(h.login("sam", USERS["sam"][0]), 303)
        status, _, page = h.request("/drafts?state=all")
        self.assertEqual(status, 200)
        self.assertNotIn(draft_id, page, "sam sees testgood's drafts")
        status, _, _ = h.request("/drafts/" + draft_id)
        self.assertIn(status, (403, 404))
        status, _, _ = h.request("/handlers/testgood/kv")
        self.assertIn(status, (403, 404))
        status, _, page = h.request("/jobs")
        self.assertNotIn("testgood", page)
        status, _, _ = h.request("/drafts/%s/approve" % draft_id,
                                 data={"csrf": Http.csrf(page) or "", "note": "not mine"})
        self.assertEqual(status, 403)
        self.wait_audit(action="approve", draft=draft_id, user="sam", result="forbidden")
        self.assertEqual(self.draft_record(draft_id)["state"], "draft_for_approval")
        self.assertEqual(self.rig.find_delivered(CAROL, "In-Reply-To: %s" % m), [])

    def test_11_a_draft_made_on_another_host_is_approved_here(self):
        if not PG:
            self.skipTest("one host: nothing is shared on LMDB")
        # The message reaches mx2 (its Postfix and milter); the draft is in the shared store.
        m, draft_id = self.draft("otherhost", rig=self.rig2)
        self.assertTrue(self.rig2.wait_decision(msgid=m), "mx2 did not see the message")
        self.assertFalse([d for d in self.rig.decisions() if rigutil.bare(d.get("msgid")) == rigutil.bare(m)],
                         "the message went through mx1's milter too")
        shown = self.rig2.ctl("--json", "drafts", "show", draft_id)
        self.assertEqual(shown.returncode, 0, shown.stdout + shown.stderr)
        # The draft's job ran on whichever host claimed it from the shared queue (mostly mx2,
        # whose milter wakes its own supervisor): said, not asserted.
        job = json.loads(shown.stdout).get("job", "")
        ran = [name for name, r in (("mx1", self.rig), ("mx2", self.rig2))
               if job and ("job=%s " % job) in open(r.log_path, errors="replace").read()]
        print("draft %s: message received by mx2, its job %s ran on %s"
              % (draft_id, job, ",".join(ran) or "?"), flush=True)
        # mx1's console lists it and approves it.
        self.as_user("alice")
        self.open_draft_from_list(draft_id)
        self.assertIn("Please draft otherhost [draft]", self.find("section#inbound").text)
        self.shot("draft-other-host")
        self.find("form#approve-form input[name=note]").send_keys("from mx1")
        self.click_and_wait_page("button#approve", "draft")
        flash = self.flash()
        self.assertIn("Sent as", flash)
        # Sent through mx1's Postfix (the console's host), threaded to the inbound message.
        path = self.rig.wait_delivered(CAROL, "In-Reply-To: %s" % m, timeout=WAIT)
        with open(path, "rb") as f:
            reply = email.message_from_binary_file(f, policy=email.policy.default)
        self.assertEqual(reply["In-Reply-To"], m)
        self.assertIn(rigutil.bare(reply["Message-ID"]), flash)
        self.wait_audit(action="approve", draft=draft_id, user="alice", result="sent")
        # mx2 sees the draft sent, and cannot send it a second time.
        p = self.rig2.ctl("--json", "drafts", "show", draft_id)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        record = json.loads(p.stdout)
        self.assertEqual(record["state"], "sent", record)
        self.assertEqual([(e["action"], e["by"]) for e in record["history"]],
                         [("approved", "web:alice")], record["history"])
        p = self.rig2.ctl("drafts", "approve", draft_id)
        self.assertNotEqual(p.returncode, 0, "approved twice")
        decision = self.wait_kv("testgood", "decision:%s" % draft_id).split("|")
        self.assertEqual(decision[:2], ["approved", "from mx1"], decision)
        self.assertEqual(decision[4], "web:alice", decision)
        self.assertEqual(self.rig2.find_delivered(CAROL, "In-Reply-To: %s" % m), [],
                         "a second reply through mx2")

    def test_99_login_attempts_are_rate_limited(self):
        self.lmdb_only("the rate limit does not touch the store")
        # Last: it uses up this client address's attempts for a minute.
        self.logout()
        h = Http(self.web.base)
        statuses = []
        for _ in range(RATE + 2):
            _, _, page = h.request("/login")
            form = {"user": "mallory", "password": "guess"}
            csrf = Http.csrf(page)
            if csrf is not None:
                form["csrf"] = csrf
            status, _, page = h.request("/login", data=form)
            statuses.append(status)
            if status == 429:
                break
        self.assertEqual(statuses[-1], 429, statuses)
        self.assertIn('id="flash"', page)
        # The browser from the same address is refused too, with the message on the page.
        self.goto("/login", "login")
        self.find("input[name=user]").send_keys("alice")
        self.find("input[name=password]").send_keys(USERS["alice"][0])
        self.click_and_wait_page("button#login-submit", "login")
        self.assertTrue(self.flash())
        self.shot("login-rate-limited")


if __name__ == "__main__":
    rigutil.main(missing())
