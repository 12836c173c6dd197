"""Helpers for threadmill's end-to-end tests: drive tests/e2e/rig, send mail, read results.

Standard library only. One Rig per test module (setUpClass/tearDownClass, see RigTestCase), never
per case: libmilter needs ~5 s to shut down. tests/sendmail/test_sendmail.py builds its Sendmail
rig on RigBase too.
"""

import base64
import contextlib
import json
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
RIG = os.path.join(HERE, "rig")
SKIP = 77  # ctest SKIP_RETURN_CODE

OUTSIDE_ADDR = "192.0.2.10"  # TEST-NET-1: the simulated outside client (Postfix XCLIENT)


WAIT = 90  # bounds a failing run only (a busy machine); a passing run never waits it out


def wait_until(cond, timeout=WAIT, step=0.2):
    """Polls cond() every `step` s until it is truthy or `timeout` s passed; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(step)
    return cond()


def build_dir():
    checkout_build = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
    return os.path.realpath(os.environ.get("THREADMILL_BUILD", checkout_build))


def threadmill_binary():
    return os.path.join(build_dir(), "milter", "threadmill")


def web_binary():
    """The approval console (threadmill-web) in the build under test."""
    return os.path.join(build_dir(), "web", "threadmill-web")


def missing_prerequisites(need_threadmill=True, fixtures=(), handlers=(), need_web=False):
    """A reason to skip, or None. fixtures: fixture modules the test loads (fixture_module);
    handlers: shipped handler modules (shipped_module); need_web: threadmill-web."""
    if os.geteuid() != 0:
        return "needs root (private Postfix instance)"
    for tool in ("postfix", "swaks", "dnsmasq", "sendmail"):
        if shutil.which(tool) is None and not os.path.exists("/usr/sbin/" + tool):
            return "missing " + tool
    if need_threadmill and not os.access(threadmill_binary(), os.X_OK):
        return "no threadmill binary at %s (set THREADMILL_BUILD)" % threadmill_binary()
    for name in fixtures:
        if not os.path.exists(fixture_module(name)):
            return "fixture module %s not built (target threadmill_fixtures)" % name
    for name in handlers:
        if not os.path.exists(shipped_module(name)):
            return "%s handler not built (target %s)" % (name, name)
    if need_web and not os.access(web_binary(), os.X_OK):
        return "no threadmill-web binary at %s" % web_binary()
    return None


def token():
    """A short unique, lower-case token for msg-ids and subjects."""
    return uuid.uuid4().hex[:12]


def bare(msgid):
    """Normalize a msg-id for comparison: no angle brackets, no surrounding space."""
    return (msgid or "").strip().strip("<>").strip()


# --- decision lines ----------------------------------------------------------------------------

_LINE = re.compile(r"threadmill\[(?P<pid>\d+)\]:\s+(?P<qid>[^\s:]+):\s+(?P<rest>.*)$")
_KV = re.compile(r'(?:^|\s)([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|\S*)')


def _unquote(value):
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def parse_decision(line):
    """One decision line -> dict (keys from the line plus 'qid', 'pid', 'raw'), or None."""
    m = _LINE.search(line.rstrip("\n"))
    if not m:
        return None
    fields = {k: _unquote(v) for k, v in _KV.findall(m.group("rest"))}
    if "decision" not in fields:
        return None
    fields["qid"] = m.group("qid")
    fields["pid"] = m.group("pid")
    fields["raw"] = line.rstrip("\n")
    return fields


def parse_decisions(text):
    out = []
    for line in text.splitlines():
        d = parse_decision(line)
        if d is not None:
            out.append(d)
    return out


# --- the rig -----------------------------------------------------------------------------------


class RigError(Exception):
    pass


def as_bytes(data):
    return data.encode() if isinstance(data, str) else data


def as_list(rcpts):
    return [rcpts] if isinstance(rcpts, str) else rcpts


def files_containing(paths, needle):
    """The paths (in the order given) of readable files that contain needle (bytes or str)."""
    needle = as_bytes(needle)
    found = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                if needle in f.read():
                    found.append(path)
        except OSError:
            pass
    return found


def smtp_transaction(s, mail_from, rcpts, data):
    """MAIL, RCPT for each recipient and DATA on an open, greeted smtplib connection. Raises
    SMTPSenderRefused or RigError on a refusal; returns DATA's reply text (bytes)."""
    code, msg = s.mail(mail_from)
    if code // 100 != 2:
        raise smtplib.SMTPSenderRefused(code, msg, mail_from)
    for r in rcpts:
        code, msg = s.rcpt(r)
        if code // 100 != 2:
            raise RigError("RCPT %s refused: %d %r" % (r, code, msg))
    code, msg = s.data(data)
    if code // 100 != 2:
        raise RigError("DATA refused: %d %r" % (code, msg))
    return msg


def delivered_head(path, unfold=False):
    """The header block of a delivered message (text); unfold joins continuation lines."""
    with open(path, "rb") as f:
        head = f.read().split(b"\n\n", 1)[0].decode("utf-8", "replace")
    return re.sub(r"\r?\n[ \t]+", " ", head) if unfold else head


def header_values(head, name):
    """The values of every `name:` line of a header block, stripped."""
    prefix = name.lower() + ":"
    return [line.split(":", 1)[1].strip() for line in head.splitlines()
            if line.lower().startswith(prefix)]


class RigBase:
    """What the Postfix rig (Rig) and the Sendmail rig (tests/sendmail) have in common: a
    temporary directory, a control script (start DIR prints KEY=VALUE lines, stop DIR),
    threadmill's log of decision lines and threadmillctl on the rig's configuration."""

    SCRIPT = None            # the control script
    KIND = None              # its name, in messages
    PREFIX = None            # of the temporary directory
    SCRIPT_TIMEOUT = 120
    LOOKUP_BARE_TOO = True   # lookup() also tries the msg-id without angle brackets

    def __init__(self, name, *options, keep=None):
        base = os.environ.get("THREADMILL_E2E_DIR") or None
        if base:
            os.makedirs(base, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="%s%s-" % (self.PREFIX, name), dir=base)
        self.options = list(options)
        self.env_extra = {"THREADMILL_BUILD": build_dir()}
        # Keep the directory after a run (logs) when asked, or when a test failed.
        self.keep = keep if keep is not None else bool(os.environ.get("THREADMILL_E2E_KEEP"))
        self.env = {}
        self.failed = False

    # lifecycle
    def _run_script(self, *args, check=True, timeout=None):
        env = dict(os.environ, **self.env_extra)
        p = subprocess.run([self.SCRIPT, *args], env=env, capture_output=True, text=True,
                           timeout=timeout or self.SCRIPT_TIMEOUT)
        if check and p.returncode != 0:
            raise RigError("%s %s failed (%d):\n%s\n%s"
                           % (self.KIND, " ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def start(self):
        p = self._run_script("start", self.dir, *self.options)
        self.env = {}
        for line in p.stdout.splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                self.env[k] = v.strip("'")
        return self

    def stop(self):
        try:
            self._run_script("stop", self.dir, check=False)
        finally:
            if self.keep or self.failed:
                print("%s directory kept: %s" % (self.KIND, self.dir))
            else:
                shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def log_path(self):
        return self.env["RIG_LOG"]

    # sending
    def _submit(self, cmd, data, mail_from, rcpts):
        """Run a sendmail-compatible submission program: cmd -i -f FROM -- RCPTS < data."""
        p = subprocess.run([*cmd, "-i", "-f", mail_from, "--", *as_list(rcpts)],
                           input=as_bytes(data), capture_output=True, timeout=60)
        if p.returncode != 0:
            raise RigError("sendmail failed (%d): %s" % (p.returncode, p.stderr.decode(errors="replace")))

    # results
    def decisions(self):
        try:
            with open(self.log_path, "rb") as f:
                return parse_decisions(f.read().decode("utf-8", "replace"))
        except FileNotFoundError:
            return []

    def wait_decision(self, msgid=None, qid=None, where=None, timeout=30):
        """The first decision line whose msgid (or queue id) matches; fails after timeout."""
        deadline = time.time() + timeout
        while True:
            for d in self.decisions():
                if msgid is not None and bare(d.get("msgid")) != bare(msgid):
                    continue
                if qid is not None and d.get("qid") != qid:
                    continue
                if where is not None and not where(d):
                    continue
                return d
            if time.time() > deadline:
                raise AssertionError("no decision line for msgid=%s qid=%s within %ss; log tail:\n%s"
                                     % (msgid, qid, timeout, self.tail(self.log_path)))
            time.sleep(0.1)

    def find_delivered(self, rcpt, needle):
        """The delivered copies for rcpt that contain needle (bytes or str)."""
        raise NotImplementedError

    def delivery_diagnostics(self):
        """What to show when a message was not delivered in time."""
        raise NotImplementedError

    def wait_delivered(self, rcpt, needle, timeout=30):
        deadline = time.time() + timeout
        while True:
            found = self.find_delivered(rcpt, needle)
            if found:
                return found[0]
            if time.time() > deadline:
                raise AssertionError("%r not delivered to %s within %ss; %s"
                                     % (needle, rcpt, timeout, self.delivery_diagnostics()))
            time.sleep(0.1)

    @staticmethod
    def tail(path, n=30):
        try:
            with open(path, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode("utf-8", "replace")
        except OSError as e:
            return "(%s)" % e

    # threadmillctl
    def ctl(self, *args):
        ctl = self.env.get("RIG_THREADMILLCTL") or os.path.join(build_dir(), "ctl", "threadmillctl")
        return subprocess.run([ctl, "-c", self.env["RIG_CONFIG"], *args], capture_output=True,
                              text=True, timeout=30)

    def lookup(self, msgid):
        """threadmillctl --json lookup: the record as a dict, or None when unknown (exit 1)."""
        forms = ("<%s>" % bare(msgid), bare(msgid)) if self.LOOKUP_BARE_TOO else ("<%s>" % bare(msgid),)
        last = None
        for form in forms:
            p = self.ctl("--json", "lookup", form)
            if p.returncode == 0:
                return json.loads(p.stdout)
            last = p
        if last.returncode == 1:
            return None
        raise RigError("threadmillctl lookup failed (%d): %s" % (last.returncode, last.stderr))

    def thread(self, thread_id):
        p = self.ctl("--json", "thread", thread_id)
        if p.returncode != 0:
            raise RigError("threadmillctl thread failed (%d): %s%s" % (p.returncode, p.stdout, p.stderr))
        return json.loads(p.stdout)

    def kv(self, handler, key):
        """threadmillctl --json kv get: the value handler stored under key, or None."""
        p = self.ctl("--json", "kv", "get", handler, key)
        return json.loads(p.stdout)["value"] if p.returncode == 0 else None


class Rig(RigBase):
    """A running rig: private Postfix + dnsmasq + milter under one temporary directory."""

    SCRIPT = RIG
    KIND = "rig"
    PREFIX = "threadmill-e2e-"

    def __init__(self, name, *options, default_action=None, keep=None):
        super().__init__(name, *options, keep=keep)
        if default_action:
            self.env_extra["RIG_MILTER_DEFAULT_ACTION"] = default_action

    # lifecycle
    def stop_milter(self):
        self._run_script("stop-milter", self.dir)

    def restart_milter(self):
        self._run_script("restart-milter", self.dir)

    def milter_pid(self):
        try:
            with open(os.path.join(self.dir, "milter.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def milter_alive(self):
        pid = self.milter_pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False

    @property
    def smtp_port(self):
        return int(self.env["RIG_SMTP_PORT"])

    @property
    def submission_port(self):
        return int(self.env["RIG_SUBMISSION_PORT"])

    @property
    def postfix_dir(self):
        return self.env["RIG_POSTFIX_DIR"]

    def postconf(self, *settings):
        """Change the private instance's main.cf and reload it."""
        subprocess.run(["postconf", "-c", self.postfix_dir, "-e", *settings], check=True)
        subprocess.run(["postfix", "-c", self.postfix_dir, "reload"], check=True,
                       capture_output=True)

    # sending
    def swaks(self, data, mail_from, rcpts, xclient_addr=None, port=None, extra=()):
        """Send DATA (str or bytes: the whole message) with swaks. Returns (returncode, transcript,
        queue id or None)."""
        with tempfile.NamedTemporaryFile(dir=self.dir, suffix=".eml", delete=False) as f:
            f.write(as_bytes(data))
            path = f.name
        try:
            cmd = ["swaks", "--server", "127.0.0.1", "--port", str(port or self.smtp_port),
                   "--helo", "client.example.org", "--from", mail_from, "--to", ",".join(as_list(rcpts)),
                   "--data", "@" + path, "--timeout", "60"]
            if xclient_addr:
                cmd += ["--xclient-addr", xclient_addr, "--xclient-name", "[UNAVAILABLE]"]
            cmd += list(extra)
            p = subprocess.run(cmd, capture_output=True, timeout=120)
        finally:
            os.unlink(path)
        out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
        m = re.search(r"queued as ([0-9A-Za-z]+)", out)
        return p.returncode, out, (m.group(1) if m else None)

    def smtp_send(self, data, mail_from, rcpts, xclient_addr=None, port=None):
        """Send exact bytes (NUL bytes, 8-bit, anything) over SMTP with smtplib.
        Returns the queue id. Raises smtplib errors."""
        with smtplib.SMTP("127.0.0.1", port or self.smtp_port, timeout=60) as s:
            s.ehlo("client.example.org")
            if xclient_addr:
                code, msg = s.docmd("XCLIENT", "ADDR=%s NAME=[UNAVAILABLE]" % xclient_addr)
                if code != 220:
                    raise RigError("XCLIENT refused: %d %r" % (code, msg))
                s.ehlo("client.example.org")
            msg = smtp_transaction(s, mail_from, as_list(rcpts), as_bytes(data))
            m = re.search(rb"queued as ([0-9A-Za-z]+)", msg)
            return m.group(1).decode() if m else None

    def sendmail(self, data, mail_from, rcpts):
        """Inject with Postfix's sendmail (-C DIR): reaches the milter via non_smtpd_milters."""
        self._submit(["sendmail", "-C", self.postfix_dir], data, mail_from, rcpts)

    # results
    def find_delivered(self, rcpt, needle):
        """Maildir files of rcpt's domain that contain needle (bytes or str)."""
        domain = rcpt.rsplit("@", 1)[1].lower()
        root = os.path.join(self.env["RIG_MAILDIR"], domain)
        paths = []
        for dirpath, _dirs, files in os.walk(root):
            if os.path.basename(dirpath) not in ("new", "cur"):
                continue
            paths += [os.path.join(dirpath, name) for name in files]
        return files_containing(paths, needle)

    def delivery_diagnostics(self):
        return "postfix log tail:\n%s" % self.tail(self.env["RIG_POSTFIX_LOG"])


# --- test cases and modules ---------------------------------------------------------------------


class RigTestCase(unittest.TestCase):
    """A test class sharing one rig (cls.rig, set by the subclass's setUpClass) between its cases:
    stopped after the last case, its directory kept when a case failed. A second host's rig
    (cls.rig2, several MX hosts) is stopped first, and kept with the first."""

    rig = None
    rig2 = None

    @classmethod
    @contextlib.contextmanager
    def starting(cls):
        """Wrap the part of setUpClass that can fail after cls.rig is set: unittest does not
        call tearDownClass when setUpClass raises, so tear down here (keeping the directory
        unless the class was skipped)."""
        try:
            yield
        except unittest.SkipTest:
            cls.tearDownClass()
            raise
        except BaseException:
            if cls.rig:
                cls.rig.failed = True
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.rig2:
                if cls.rig and cls.rig.failed:
                    cls.rig2.failed = True
                cls.rig2.stop()
                cls.rig2 = None
        finally:
            if cls.rig:
                cls.rig.stop()
                cls.rig = None

    def run(self, result=None):
        result = super().run(result)
        if result is not None and (result.failures or result.errors):
            for rig in (self.rig, self.rig2):
                if rig:
                    rig.failed = True
        return result

    def wait_kv(self, handler, key, where=lambda v: True, timeout=WAIT):
        """The value handler stored under key (rig.kv), once there is one for which where() is
        true; fails (with the log's tail) after timeout."""
        value = wait_until(lambda: (lambda v: v if v is not None and where(v) else None)(
            self.rig.kv(handler, key)), timeout)
        self.assertIsNotNone(value, "kv %s %s never written (as wanted); log:\n%s"
                             % (handler, key, self.rig.tail(self.rig.log_path, 40)))
        return value


class ConversationCase(RigTestCase):
    """One conversation whose numbered cases build on each other: named msg-ids unique to the
    run (mid), the thread the first outbound message opened (cls.thread), lookups."""

    thread = None

    @classmethod
    def make_rig(cls):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.rig = cls.make_rig().start()
        cls.t = token()
        cls.ids = {}
        cls.thread = None

    def mid(self, name):
        """A unique msg-id (with brackets) for a named message of this conversation."""
        if name not in self.ids:
            self.ids[name] = "<%s.%s@example.%s>" % (name, self.t, "com" if name.startswith("out") else "org")
        return self.ids[name]

    def need_thread(self):
        if not type(self).thread:
            self.skipTest("the outbound message was not recorded")
        return type(self).thread

    def assertLookup(self, msgid, thread, direction):
        rec = self.rig.lookup(msgid)
        self.assertIsNotNone(rec, "threadmillctl lookup %s: unknown" % msgid)
        self.assertEqual(bare(rec["msgid"]), bare(msgid), rec)
        self.assertEqual(rec["thread"], thread, rec)
        self.assertEqual(rec["direction"], direction, rec)
        return rec

    def assertMatched(self, d, match, parent, thread, refs):
        """A decision line that matched parent (by match) into thread, counting refs references."""
        self.assertEqual(d["decision"], "matched", d["raw"])
        self.assertEqual(d["match"], match, d["raw"])
        self.assertEqual(bare(d["parent"]), bare(parent), d["raw"])
        self.assertEqual(d["thread"], thread, d["raw"])
        self.assertEqual(d["refs"], refs, d["raw"])

    def assertThreadHolds(self, thread, *names):
        """threadmillctl thread lists the named messages of this conversation."""
        t = self.rig.thread(thread)
        ids = {bare(m["msgid"]) for m in t["messages"]}
        for name in names:
            self.assertIn(bare(self.mid(name)), ids, t)


def main(skip_reason=None):
    """A test module's entry point: exit SKIP (77, ctest's SKIP_RETURN_CODE) with a reason, or
    run the module's cases."""
    if skip_reason:
        print("SKIP: " + skip_reason)
        sys.exit(SKIP)
    unittest.main(module="__main__", verbosity=2)


def autoreply_module():
    """The shipped autoreply handler in the build under test (it may not be built)."""
    return shipped_module("autoreply")


def shipped_module(name):
    """A shipped handler module (handlers/NAME) in the build under test."""
    return os.path.join(build_dir(), "handlers", name, name + ".so")


def fixture_module(name):
    """A test fixture module (tests/handlers/fixtures, target threadmill_fixtures)."""
    return os.path.join(build_dir(), "tests", "handlers", "fixtures", "fixture_%s.so" % name)


def install_handlers(rig, modules):
    """Creates RIG/handlers.d as the loader accepts it (root's, 0755) and installs each
    {name: path of a .so} as NAME.so, root's, mode 0644. Returns the directory."""
    handlers = os.path.join(rig.dir, "handlers.d")
    os.makedirs(handlers)
    os.chmod(handlers, 0o755)
    for name, path in modules.items():
        dst = os.path.join(handlers, name + ".so")
        shutil.copyfile(path, dst)
        os.chmod(dst, 0o644)
        os.chown(dst, 0, 0)
    return handlers


# --- configuring a rig's threadmill ------------------------------------------------------------


def fixture_rig(name, fixture="good"):
    """A Rig (not started) with the fixture module `fixture` (fixture_module) installed in
    RIG/handlers.d; add_conf routes mail to it."""
    rig = Rig(name)
    install_handlers(rig, {fixture: fixture_module(fixture)})
    return rig


def add_conf(rig, filename, toml, **values):
    """Writes RIG/filename and has the rig's threadmill read it after its own configuration
    (--conf-extra; call before start). toml is %-formatted with values and with handlers
    (RIG/handlers.d, see install_handlers) and postfix (the rig's Postfix directory, for
    sendmail -C). Returns its path."""
    path = os.path.join(rig.dir, filename)
    values = dict({"handlers": os.path.join(rig.dir, "handlers.d"),
                   "postfix": os.path.join(rig.dir, "postfix")}, **values)
    with open(path, "w") as f:
        f.write(toml % values)
    rig.options += ["--conf-extra", path]
    return path


# The [reply] section of a rig whose handlers reply: through the rig's own Postfix
# (sendmail -C), no DMARC or sender-rate refusals, a failed sendmail retried after 200 ms.
# For add_conf.
REPLY_CONF = """
[reply]
require_dmarc = false
sendmail = ["/usr/sbin/sendmail", "-C", "%(postfix)s"]
sender_period_seconds = 0
sendmail_retry_delay_ms = 200
"""

# The drafts set-up (test_drafts, test_web_console, test_console): help@example.com routed to
# the testgood fixture, whose drafts expire after 24 h; one worker, a failed job retried after
# retry_seconds; replies as REPLY_CONF. For add_conf, with retry_seconds.
TESTGOOD_DRAFTS_CONF = """
[handlers]
dir = "%(handlers)s"

[runtime]
workers = 1
poll_interval_ms = 200
retry_initial_seconds = %(retry_seconds)d
retry_max_seconds = %(retry_seconds)d
""" + REPLY_CONF + """
[handler.testgood]
draft_expiry_hours = 24

[[routes]]
recipient = "help@example.com"
handler = "testgood"
"""


# --- building messages ------------------------------------------------------------------------


def message(headers, body="Hello.\n", crlf=True):
    """A message from (name, value) pairs. Values are used verbatim (may contain folding)."""
    lines = ["%s: %s" % (k, v) for k, v in headers]
    text = "\n".join(lines) + "\n\n" + body
    if not text.endswith("\n"):
        text += "\n"
    if crlf:
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    return text


def thread_index(guid=None, children=0):
    """An Outlook Thread-Index value: 22-byte header (6 bytes time + 16-byte GUID) plus 5 bytes
    per reply, base64."""
    raw = bytes.fromhex("01d9a1b2c3d4") + (guid or uuid.uuid4().bytes)
    for i in range(children):
        raw += bytes([0x00, 0x00, 0x10 + i, 0x20, 0x30])
    return base64.b64encode(raw).decode()
