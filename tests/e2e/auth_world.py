"""The authentication test world shared by test_auth.py, test_auth_differential.py and
tests/bench/auth_bench: DKIM keys made at run time with opendkim-genkey, a dnsmasq zone file
publishing them with SPF and DMARC records, messages signed with tests/tools/dkim-sign, and the
list of cases with the verdicts threadmill must give (RFC 7208 / 6376 / 7489 / 8601).

Standard library only. Sending domains live under the `.example` TLD (RFC 2606): unbound
treats `test.` as a local zone and OpenDKIM's resolver refuses `test.` names (PLATFORM_NOTES).
The public suffix list has no `example` entry, so its default rule `*` makes `example` a public
suffix and `org.example` the organizational domain of `sub.org.example`.
"""

import os
import re
import shutil
import subprocess

import rigutil

GOOD_IP = "192.0.2.10"      # authorized by the SPF records below (TEST-NET-1)
BAD_IP = "198.51.100.7"     # authorized only by other.example (TEST-NET-2)
RCPT = "alice@example.com"  # a rig mailbox

# Organizational domains the zone file is authoritative for (dnsmasq `local=`): everything not
# listed below under them is NXDOMAIN, never REFUSED (which would be a temporary error).
ORG_DOMAINS = ["spf.example", "dkim.example", "other.example", "reject.example",
               "quarantine.example", "none.example", "org.example", "relaxed.example",
               "strict.example", "bad.example", "pct.example", "fresh.example", "multi.example",
               "lower.example", "spaces.example"]


def dkim_sign_binary():
    """tests/tools/dkim-sign: $DKIM_SIGN (set by CTest), else the build directory's."""
    for cand in (os.environ.get("DKIM_SIGN"),
                 os.path.join(rigutil.build_dir(), "tests", "tools", "dkim-sign")):
        if cand and os.access(cand, os.X_OK):
            return cand
    return None


def missing_prerequisites():
    if shutil.which("opendkim-genkey") is None:
        return "missing opendkim-genkey (opendkim-tools)"
    if dkim_sign_binary() is None:
        return "no tests/tools/dkim-sign (build target dkim-sign, or set DKIM_SIGN)"
    return None


# --- keys and zones ------------------------------------------------------------------------------

class Key:
    def __init__(self, directory, name):
        self.private = os.path.join(directory, name + ".private")
        with open(os.path.join(directory, name + ".txt")) as f:
            txt = f.read()
        # genkey writes `sel._domainkey IN TXT ( "chunk" "chunk" ) ; comment`: join the chunks.
        txt = txt[:txt.index(")")]
        self.record = "".join(re.findall(r'"([^"]*)"', txt))


def genkey(directory, name):
    """A fresh 2048-bit RSA key (opendkim-genkey, as an administrator would make it)."""
    subprocess.run(["opendkim-genkey", "-b", "2048", "-d", "keys.example", "-s", name, "-D", directory],
                   check=True, capture_output=True, timeout=60)
    return Key(directory, name)


def txt_line(name, value):
    """A dnsmasq txt-record line, the value split into <= 255-byte character-strings."""
    chunks = [value[i:i + 255] for i in range(0, max(len(value), 1), 255)]
    return "txt-record=%s,%s" % (name, ",".join('"%s"' % c for c in chunks))


class World:
    """Keys under DIR/keys and the zone file DIR/auth-zone.conf."""

    def __init__(self, directory):
        self.dir = directory
        kdir = os.path.join(directory, "keys")
        os.makedirs(kdir, exist_ok=True)
        self.k_dkim = genkey(kdir, "kdkim")     # sel1._domainkey.dkim.example
        self.k_other = genkey(kdir, "kother")   # sel1._domainkey.other.example
        self.k_align = genkey(kdir, "kalign")   # sel1._domainkey.mail.{relaxed,strict}.example
        self.zone_path = os.path.join(directory, "auth-zone.conf")
        with open(self.zone_path, "w") as f:
            f.write("\n".join(self.zone_lines()) + "\n")

    def keys(self):
        """(domain, selector) -> private key file, for signing."""
        return {("dkim.example", "sel1"): self.k_dkim.private,
                ("dkim.example", "revoked"): self.k_dkim.private,
                ("dkim.example", "nokey"): self.k_dkim.private,
                ("other.example", "sel1"): self.k_other.private,
                ("mail.relaxed.example", "sel1"): self.k_align.private,
                ("mail.strict.example", "sel1"): self.k_align.private}

    def zone_lines(self):
        z = ["# threadmill auth test zone (tests/e2e/auth_world.py), generated at run time"]
        z += ["local=/%s/" % d for d in ORG_DOMAINS]
        spf = [
            ("pass.spf.example", "v=spf1 ip4:192.0.2.0/24 -all"),
            ("softfail.spf.example", "v=spf1 ip4:192.0.2.0/24 ~all"),
            ("neutral.spf.example", "v=spf1 ?all"),
            ("include.spf.example", "v=spf1 include:pass.spf.example -all"),
            ("redirect.spf.example", "v=spf1 redirect=pass.spf.example"),
            # 11 DNS-querying mechanisms: over the limit of 10 (RFC 7208 section 4.6.4).
            ("toomany.spf.example", "v=spf1 " + " ".join("a:h%d.spf.example" % i for i in range(1, 12))
             + " -all"),
            ("syntax.spf.example", "v=spf1 ip4:192.0.2.0/24 frob:x -all"),
            ("client.example.org", "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 -all"),
            ("dkim.example", "v=spf1 ip4:192.0.2.0/24 -all"),
            ("other.example", "v=spf1 ip4:198.51.100.0/24 -all"),
            ("reject.example", "v=spf1 ip4:192.0.2.0/24 -all"),
            ("quarantine.example", "v=spf1 ip4:192.0.2.0/24 -all"),
            ("none.example", "v=spf1 ip4:192.0.2.0/24 -all"),
            ("pct.example", "v=spf1 ip4:192.0.2.0/24 -all"),
            ("mail.relaxed.example", "v=spf1 ip4:192.0.2.0/24 -all"),
            ("mail.strict.example", "v=spf1 ip4:192.0.2.0/24 -all"),
            ("bad.example", "v=spf1 ip4:192.0.2.0/24 -all"),
            # RFC 7208 limits libspf2 does not keep by itself (4.6.4, 6): ten includes that do
            # not match, then an 11th DNS term that would; three void look-ups; redirect twice.
            ("eleventh.spf.example", "v=spf1 " + " ".join("include:i%d.spf.example" % i for i in range(1, 11))
             + " a:hit.spf.example -all"),
            ("voids.spf.example", "v=spf1 a:nx1.spf.example a:nx2.spf.example a:nx3.spf.example "
             "ip4:192.0.2.0/24 -all"),
            ("redirect2.spf.example", "v=spf1 redirect=pass.spf.example redirect=pass.spf.example"),
        ] + [("i%d.spf.example" % i, "v=spf1 -all") for i in range(1, 11)]
        z += [txt_line(n, v) for n, v in spf]
        z += ["host-record=hit.spf.example,192.0.2.10"]
        z += ["host-record=h%d.spf.example,203.0.113.%d" % (i, i) for i in range(1, 12)]
        z += [
            txt_line("sel1._domainkey.dkim.example", self.k_dkim.record),
            txt_line("revoked._domainkey.dkim.example", "v=DKIM1; k=rsa; p="),
            txt_line("sel1._domainkey.other.example", self.k_other.record),
            txt_line("sel1._domainkey.mail.relaxed.example", self.k_align.record),
            txt_line("sel1._domainkey.mail.strict.example", self.k_align.record),
        ]
        dmarc = [
            ("spf.example", "v=DMARC1; p=none"),  # found by the organizational-domain fallback
            ("dkim.example", "v=DMARC1; p=reject"),
            ("other.example", "v=DMARC1; p=none"),
            ("reject.example", "v=DMARC1; p=reject"),
            ("quarantine.example", "v=DMARC1; p=quarantine"),
            ("none.example", "v=DMARC1; p=none"),
            ("org.example", "v=DMARC1; p=reject; sp=quarantine"),
            ("relaxed.example", "v=DMARC1; p=reject"),
            ("strict.example", "v=DMARC1; p=reject; adkim=s; aspf=s"),
            ("bad.example", "v=DMARC1; p=bogus"),
            ("pct.example", "v=DMARC1; p=reject; pct=0"),
            ("fresh.example", "v=DMARC1; p=reject"),
            # Record discovery (RFC 7489 6.6.3, 6.3): two records at a subdomain mean no DMARC
            # processing (no fallback to multi.example's p=reject); v= must be exactly DMARC1;
            # white space around "=" is valid.
            ("multi.example", "v=DMARC1; p=reject"),
            ("sub.multi.example", "v=DMARC1; p=none"),
            ("sub.multi.example", "v=DMARC1; p=quarantine"),
            ("lower.example", "v=dmarc1; p=reject"),
            ("spaces.example", "v = DMARC1 ; p=reject"),
        ]
        z += [txt_line("_dmarc." + n, v) for n, v in dmarc]
        return z

    def sign(self, data, domain, selector, canon=None):
        """data (bytes) signed by (domain, selector): bytes, CRLF."""
        key = self.keys()[(domain, selector)]
        p = subprocess.run([dkim_sign_binary(), "-d", domain, "-s", selector, "-k", key] +
                           (["-c", canon] if canon else []),
                           input=data, capture_output=True, timeout=30)
        if p.returncode != 0:
            raise RuntimeError("dkim-sign failed: %s" % p.stderr.decode(errors="replace"))
        return p.stdout


# --- cases ---------------------------------------------------------------------------------------

class Case:
    """One message and the verdicts threadmill must give for it.

    sign: [(domain, selector)]; tamper: None | "body" | "header" (after signing);
    expect: dict with spf, dkim, dmarc and policy (dmarc_policy in the log; None: absent).
    """

    def __init__(self, name, from_addr, mail_from, ip, expect, sign=(), tamper=None, from_header=None,
                 note="", body=None, subject=None, canon=None, subject_raw=None):
        self.name = name
        self.from_addr = from_addr
        self.mail_from = mail_from
        self.ip = ip
        self.expect = expect
        self.sign = list(sign)
        self.tamper = tamper
        self.from_header = from_header
        self.note = note
        self.body = body
        self.subject = subject
        self.canon = canon              # dkim-sign -c (None: relaxed)
        self.subject_raw = subject_raw  # the Subject field written as "Subject:" + this, verbatim
        self.msgid = None

    def build(self, world, tag=""):
        """The message as sent (bytes, CRLF) with a unique Message-ID."""
        self.msgid = "%s.%s%s@threadmill-auth.example" % (self.name, rigutil.token(), tag)
        headers = [("From", self.from_header or "Sender <%s>" % self.from_addr),
                   ("To", "Alice <%s>" % RCPT),
                   ("Subject", "auth case %s%s" % (self.name, self.subject or "")),
                   ("Date", "Tue, 25 Nov 2025 09:00:00 +0000"),
                   ("Message-ID", "<%s>" % self.msgid),
                   ("MIME-Version", "1.0"),
                   ("Content-Type", "text/plain; charset=us-ascii")]
        body = "Hello Alice,\n\nthis is the %s case.\n\n-- \nSender\n" % self.name + (self.body or "")
        data = rigutil.message(headers, body).encode()
        if self.subject_raw is not None:
            data = data.replace(("Subject: auth case %s%s\r\n" % (self.name, self.subject or "")).encode(),
                                ("Subject:%s\r\n" % self.subject_raw).encode(), 1)
        for domain, selector in self.sign:
            data = world.sign(data, domain, selector, self.canon)
        if self.tamper == "body":
            data = data.replace(b"this is the", b"this is NOT the")
        elif self.tamper == "header":
            data = data.replace(b"Subject: auth case", b"Subject: Re: auth case")
        return data


def E(spf, dkim, dmarc, policy=None):
    return {"spf": spf, "dkim": dkim, "dmarc": dmarc, "policy": policy}


def cases():
    """The report-only cases (enforce_dmarc = false). Fresh objects on every call."""
    G, B = GOOD_IP, BAD_IP
    return [
        # SPF (RFC 7208); spf.example publishes p=none, found via the organizational domain.
        Case("spf_pass", "u@pass.spf.example", "u@pass.spf.example", G, E("pass", "none", "pass", "none")),
        Case("spf_fail", "u@pass.spf.example", "u@pass.spf.example", B, E("fail", "none", "fail", "none")),
        Case("spf_softfail", "u@softfail.spf.example", "u@softfail.spf.example", B,
             E("softfail", "none", "fail", "none")),
        Case("spf_neutral", "u@neutral.spf.example", "u@neutral.spf.example", B,
             E("neutral", "none", "fail", "none")),
        Case("spf_include", "u@include.spf.example", "u@include.spf.example", G,
             E("pass", "none", "pass", "none")),
        Case("spf_redirect_pass", "u@redirect.spf.example", "u@redirect.spf.example", G,
             E("pass", "none", "pass", "none")),
        Case("spf_redirect_fail", "u@redirect.spf.example", "u@redirect.spf.example", B,
             E("fail", "none", "fail", "none")),
        Case("spf_too_many_lookups", "u@toomany.spf.example", "u@toomany.spf.example", B,
             E("permerror", "none", "fail", "none")),
        Case("spf_syntax", "u@syntax.spf.example", "u@syntax.spf.example", G,
             E("permerror", "none", "fail", "none")),
        Case("spf_none", "u@nospf.spf.example", "u@nospf.spf.example", G, E("none", "none", "fail", "none")),
        # Null reverse-path: SPF checks the HELO identity (RFC 7208 2.3/2.4), and DMARC aligns
        # it with the From domain (RFC 7489 3.1.2): client.example.org vs example.org, relaxed.
        Case("spf_helo_null_sender", "u@example.org", "<>", G, E("pass", "none", "pass", "none")),
        # DKIM (RFC 6376), dkim.example: p=reject.
        Case("dkim_pass", "u@dkim.example", "u@dkim.example", G, E("pass", "pass", "pass", "reject"),
             sign=[("dkim.example", "sel1")]),
        Case("dkim_pass_spf_fail", "u@dkim.example", "u@dkim.example", B, E("fail", "pass", "pass", "reject"),
             sign=[("dkim.example", "sel1")]),
        Case("dkim_body_tampered", "u@dkim.example", "u@dkim.example", B, E("fail", "fail", "fail", "reject"),
             sign=[("dkim.example", "sel1")], tamper="body"),
        Case("dkim_header_tampered", "u@dkim.example", "u@dkim.example", B,
             E("fail", "fail", "fail", "reject"), sign=[("dkim.example", "sel1")], tamper="header"),
        Case("dkim_revoked_key", "u@dkim.example", "u@dkim.example", B,
             E("fail", "permerror", "fail", "reject"), sign=[("dkim.example", "revoked")]),
        Case("dkim_missing_key", "u@dkim.example", "u@dkim.example", B,
             E("fail", "permerror", "fail", "reject"), sign=[("dkim.example", "nokey")]),
        # Streaming: a 300 KB body reaches the milter in many chunks; lines starting with a dot
        # (SMTP dot-stuffing undone by Postfix), trailing blank lines and whitespace runs
        # (relaxed body canonicalization), a folded Subject (relaxed header canonicalization,
        # header values handed over with their leading space).
        Case("dkim_large_body", "u@dkim.example", "u@dkim.example", B, E("fail", "pass", "pass", "reject"),
             sign=[("dkim.example", "sel1")],
             body="".join(".line %05d  with\ttabs   and dots ...\n" % i for i in range(8000)) + "\n\n\n",
             subject="\n\tfolded   over\n  two lines"),
        Case("dkim_two_signatures", "u@dkim.example", "u@other.example", B,
             E("pass", "pass", "pass", "reject"), sign=[("other.example", "sel1"), ("dkim.example", "sel1")]),
        # Unaligned: a valid signature and an SPF pass, both for other.example (RFC 7489 3.1).
        Case("dkim_unaligned", "u@reject.example", "u@other.example", B, E("pass", "pass", "fail", "reject"),
             sign=[("other.example", "sel1")]),
        # DMARC policies (RFC 7489 6.3)
        Case("dmarc_none", "u@none.example", "u@none.example", B, E("fail", "none", "fail", "none")),
        Case("dmarc_quarantine", "u@quarantine.example", "u@quarantine.example", B,
             E("fail", "none", "fail", "quarantine")),
        Case("dmarc_reject", "u@reject.example", "u@reject.example", B, E("fail", "none", "fail", "reject")),
        Case("dmarc_pass_spf", "u@reject.example", "u@reject.example", G, E("pass", "none", "pass", "reject")),
        # sp= for a subdomain without its own record (RFC 7489 6.6.3)
        Case("dmarc_subdomain_sp", "u@sub.org.example", "u@sub.org.example", B,
             E("none", "none", "fail", "quarantine")),
        # Identifier alignment, relaxed (default) and strict (adkim=s; aspf=s)
        Case("align_relaxed_dkim", "u@relaxed.example", "b@mail.relaxed.example", B,
             E("fail", "pass", "pass", "reject"), sign=[("mail.relaxed.example", "sel1")]),
        Case("align_strict_dkim", "u@strict.example", "b@mail.strict.example", B,
             E("fail", "pass", "fail", "reject"), sign=[("mail.strict.example", "sel1")]),
        Case("align_relaxed_spf", "u@relaxed.example", "b@mail.relaxed.example", G,
             E("pass", "none", "pass", "reject")),
        Case("align_strict_spf", "u@strict.example", "b@mail.strict.example", G,
             E("pass", "none", "fail", "reject")),
        # A DMARC record with a syntax error (p=bogus): permerror (RFC 8601 2.7.1), and no policy
        # may be claimed for it: the domain published none that is valid (RFC 7489 6.6.3).
        Case("dmarc_syntax_error", "u@bad.example", "u@bad.example", B, E("fail", "none", "permerror", None)),
        # Simple header canonicalization sees the header bytes as sent (RFC 6376 3.4.1; issue 9
        # item 1): no space, a tab, an empty value, a value starting on a folded line. From a
        # bad IP, DMARC rests on the DKIM pass.
        Case("dkim_simple_no_space", "u@dkim.example", "u@dkim.example", B,
             E("fail", "pass", "pass", "reject"), sign=[("dkim.example", "sel1")], canon="simple",
             subject_raw="no space after the colon"),
        Case("dkim_simple_tab", "u@dkim.example", "u@dkim.example", B,
             E("fail", "pass", "pass", "reject"), sign=[("dkim.example", "sel1")], canon="simple",
             subject_raw="\ta tab after the colon"),
        Case("dkim_simple_empty", "u@dkim.example", "u@dkim.example", B,
             E("fail", "pass", "pass", "reject"), sign=[("dkim.example", "sel1")], canon="simple",
             subject_raw=""),
        Case("dkim_simple_folded_start", "u@dkim.example", "u@dkim.example", B,
             E("fail", "pass", "pass", "reject"), sign=[("dkim.example", "sel1")], canon="simple",
             subject_raw="\r\n starts on the next line"),
        Case("dmarc_two_records_subdomain", "u@sub.multi.example", "u@sub.multi.example", B,
             E("none", "none", "none", None)),
        Case("dmarc_version_lowercase", "u@lower.example", "u@lower.example", B,
             E("none", "none", "none", None)),
        Case("dmarc_version_spaces", "u@spaces.example", "u@spaces.example", B,
             E("none", "none", "fail", "reject")),
        Case("spf_eleventh_term", "u@eleventh.spf.example", "u@eleventh.spf.example", G,
             E("permerror", "none", "fail", "none")),
        Case("spf_three_voids", "u@voids.spf.example", "u@voids.spf.example", G,
             E("permerror", "none", "fail", "none")),
        Case("spf_two_redirects", "u@redirect2.spf.example", "u@redirect2.spf.example", G,
             E("permerror", "none", "fail", "none")),
        # Several From domains (RFC 7489 6.6.1): threadmill evaluates each and reports
        # permerror (never pass) with the strictest failing domain's policy: other.example
        # fails (nothing aligned with it) and publishes p=none; header.from names it.
        Case("dmarc_two_from_domains", "u@dkim.example", "u@dkim.example", G,
             dict(E("pass", "pass", "permerror", "none"), header_from="other.example"),
             sign=[("dkim.example", "sel1")],
             from_header="u@dkim.example, v@other.example"),
    ]


# --- reading results -----------------------------------------------------------------------------

def header_fields(data):
    """[(name, value)] of a message's header (unfolded), bytes in."""
    head = data.split(b"\n\n", 1)[0] if b"\r\n\r\n" not in data else data.split(b"\r\n\r\n", 1)[0]
    text = head.decode("utf-8", "replace").replace("\r\n", "\n")
    out = []
    for line in text.split("\n"):
        if line[:1] in (" ", "\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + " " + line.strip())
        elif ":" in line:
            k, v = line.split(":", 1)
            out.append((k.strip(), v.strip()))
    return out


def _strip_comments(s):
    out, depth, quoted = [], 0, False
    i = 0
    while i < len(s):
        c = s[i]
        if quoted:
            out.append(c)
            if c == "\\" and i + 1 < len(s):
                out.append(s[i + 1]); i += 1
            elif c == '"':
                quoted = False
        elif c == '"' and depth == 0:
            quoted = True; out.append(c)
        elif c == "(":
            depth += 1
        elif c == ")" and depth:
            depth -= 1
        elif c == "\\" and depth:
            i += 1
        elif depth == 0:
            out.append(c)
        i += 1
    return "".join(out)


def parse_auth_results(value):
    """An A-R header value -> (authserv_id, [(method, result, {prop: value})]). Comments dropped.
    A semicolon inside a quoted string does not split."""
    parts, cur, quoted = [], [], False
    for c in _strip_comments(value):
        if c == '"':
            quoted = not quoted
        if c == ";" and not quoted:
            parts.append("".join(cur)); cur = []
        else:
            cur.append(c)
    parts.append("".join(cur))
    authserv = parts[0].strip().split()[0] if parts[0].strip() else ""
    results = []
    for p in parts[1:]:
        toks = re.findall(r'[\w.-]+=(?:"(?:[^"\\]|\\.)*"|[^\s"]+)|\S+', p.strip())
        if not toks or "=" not in toks[0]:
            continue
        method, result = toks[0].split("=", 1)
        props = {}
        for t in toks[1:]:
            if "=" in t:
                k, v = t.split("=", 1)
                props[k.lower()] = v.strip('"')
        results.append((method.lower(), result.lower(), props))
    return authserv, results


def ar_verdicts(value):
    """The spf/dkim/dmarc results of one A-R header: {'spf': 'pass', 'dkim': ['pass', ...], ...}.
    spf: the smtp.mailfrom result (not the HELO check)."""
    authserv, results = parse_auth_results(value)
    out = {"authserv": authserv, "dkim": [], "dkim_domains": []}
    for method, result, props in results:
        if method == "spf":
            if "smtp.mailfrom" in props or "spf" not in out:
                if "smtp.helo" in props and "spf" in out:
                    continue
                out["spf"] = result
        elif method == "dkim":
            out["dkim"].append(result)
            out["dkim_domains"].append(props.get("header.d", ""))
        elif method == "dmarc":
            out["dmarc"] = result
            out["dmarc_props"] = props
    return out


# --- the daemon's [auth] settings --------------------------------------------------------------

def _toml(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return '"%s"' % str(v).replace("\\", "\\\\").replace('"', '\\"')


def set_auth(rig, timeout=20, **settings):
    """Rewrite keys of the rig config's [auth] table and reload threadmill (SIGUSR1); waits for
    the daemon's "configuration re-read" line. The rig writes [auth] (dns_forwarders) itself, so
    --conf-extra cannot repeat the table."""
    import signal
    import time
    path = rig.env["RIG_CONFIG"]
    with open(path) as f:
        lines = f.read().split("\n")
    start = next(i for i, l in enumerate(lines) if l.strip() == "[auth]")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].strip().startswith("[")), len(lines))
    body = [l for l in lines[start + 1:end]
            if not any(re.match(r"\s*%s\s*=" % re.escape(k), l) for k in settings)]
    body = ["%s = %s" % (k, _toml(v)) for k, v in settings.items()] + body
    lines[start + 1:end] = body
    with open(path, "w") as f:
        f.write("\n".join(lines))

    def count():
        try:
            with open(rig.log_path, errors="replace") as f:
                text = f.read()
        except OSError:
            return 0, 0
        return text.count("reload: configuration re-read"), text.count("reload failed")

    ok0, bad0 = count()
    os.kill(rig.milter_pid(), signal.SIGUSR1)
    deadline = time.time() + timeout
    while time.time() < deadline:
        ok, bad = count()
        if bad > bad0:
            raise RuntimeError("threadmill refused the new configuration:\n" + rig.tail(rig.log_path))
        if ok > ok0:
            return
        time.sleep(0.05)
    raise RuntimeError("threadmill did not reload within %ss" % timeout)
