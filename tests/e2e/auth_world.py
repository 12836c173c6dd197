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
               "strict.example", "bad.example", "pct.example", "fresh.example",
               "dmarcmulti.example"]


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


class Ed25519Key:
    """An Ed25519 key (RFC 8463): PEM private key for dkim-sign, the raw 32-byte public key in
    the record."""

    def __init__(self, directory, name):
        import base64
        self.private = os.path.join(directory, name + ".pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", self.private],
                       check=True, capture_output=True, timeout=30)
        der = subprocess.run(["openssl", "pkey", "-in", self.private, "-pubout", "-outform", "DER"],
                             check=True, capture_output=True, timeout=30).stdout
        self.record = "v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:]).decode()


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
        self.k_ed = Ed25519Key(kdir, "ked")     # ed._domainkey.dkim.example
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
                ("mail.strict.example", "sel1"): self.k_align.private,
                # key-record flags (differential_cases): the same key under other records
                ("dkim.example", "testing"): self.k_dkim.private,
                ("dkim.example", "strict"): self.k_dkim.private,
                ("dkim.example", "sha1only"): self.k_dkim.private,
                ("dkim.example", "sha256only"): self.k_dkim.private,
                ("dkim.example", "ed"): self.k_ed.private}

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
        ]
        z += [txt_line(n, v) for n, v in spf]
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
        ]
        z += [txt_line("_dmarc." + n, v) for n, v in dmarc]
        z += self.differential_zone_lines()
        return z

    def differential_zone_lines(self):
        """The records of differential_cases() (test_auth_differential.py)."""
        p = self.k_dkim.record.split("p=", 1)[1]
        h = " ".join("a:h%d.spf.example" % i for i in range(1, 11))
        z = [
            # key-record flags (RFC 6376 section 3.6.1) and Ed25519 (RFC 8463)
            txt_line("testing._domainkey.dkim.example", "v=DKIM1; k=rsa; t=y; p=" + p),
            txt_line("strict._domainkey.dkim.example", "v=DKIM1; k=rsa; t=s; p=" + p),
            txt_line("sha1only._domainkey.dkim.example", "v=DKIM1; k=rsa; h=sha1; p=" + p),
            txt_line("sha256only._domainkey.dkim.example", "v=DKIM1; k=rsa; h=sha256; p=" + p),
            txt_line("ed._domainkey.dkim.example", self.k_ed.record),
            # SPF limits (RFC 7208 section 4.6.4, 6) and macros (section 7)
            txt_line("eleventh.spf.example", "v=spf1 %s a:good.spf.example -all" % h),
            "host-record=good.spf.example,192.0.2.10",
            txt_line("nested.spf.example", "v=spf1 include:n1.spf.example include:n2.spf.example "
                     "ip4:192.0.2.0/24 -all"),
            txt_line("n1.spf.example", "v=spf1 a:h1.spf.example a:h2.spf.example a:h3.spf.example "
                     "a:h4.spf.example a:h5.spf.example ?all"),
            txt_line("n2.spf.example", "v=spf1 a:h6.spf.example a:h7.spf.example a:h8.spf.example "
                     "a:h9.spf.example a:h10.spf.example ?all"),
            txt_line("void2.spf.example", "v=spf1 a:nx1.spf.example a:nx2.spf.example "
                     "ip4:192.0.2.0/24 -all"),
            txt_line("void3.spf.example", "v=spf1 a:nx1.spf.example a:nx2.spf.example "
                     "a:nx3.spf.example ip4:192.0.2.0/24 -all"),
            txt_line("redirect2.spf.example", "v=spf1 redirect=pass.spf.example "
                     "redirect=pass.spf.example"),
            txt_line("macro.spf.example", "v=spf1 exists:%{l}._l.%{d} exists:%{i}._i.%{d} -all"),
            "host-record=ok._l.macro.spf.example,127.0.0.2",
            "host-record=192.0.2.10._i.macro.spf.example,127.0.0.2",
            # DMARC record discovery (RFC 7489 section 6.6.3); the organizational domain rejects
            txt_line("_dmarc.dmarcmulti.example", "v=DMARC1; p=reject"),
            txt_line("_dmarc.two.dmarcmulti.example", "v=DMARC1; p=none"),
            txt_line("_dmarc.two.dmarcmulti.example", "v=DMARC1; p=quarantine"),
            txt_line("_dmarc.lower.dmarcmulti.example", "v=dmarc1; p=none"),
            txt_line("_dmarc.spaces.dmarcmulti.example", "v = DMARC1; p=quarantine"),
        ]
        for n in ("eleventh", "nested", "void2", "void3", "redirect2", "macro"):
            z.append(txt_line("_dmarc.%s.spf.example" % n, "v=DMARC1; p=reject"))
        return z

    def sign(self, data, domain, selector, canon=None, alg=None, identity=None):
        """data (bytes) signed by (domain, selector): bytes, CRLF. canon: "simple" (both header
        and body) or the default relaxed; alg: "ed25519-sha256" or the default rsa-sha256."""
        key = self.keys()[(domain, selector)]
        if selector == "ed" and alg is None:
            alg = "ed25519-sha256"
        if alg == "ed25519-sha256" and canon == "simple":
            return sign_ed25519_simple(data, domain, selector, key)
        cmd = [dkim_sign_binary(), "-d", domain, "-s", selector, "-k", key]
        cmd += ["-c", canon] if canon else []
        cmd += ["-a", alg] if alg else []
        cmd += ["-i", identity] if identity else []
        p = subprocess.run(cmd, input=data, capture_output=True, timeout=30)
        if p.returncode != 0:
            raise RuntimeError("dkim-sign failed: %s" % p.stderr.decode(errors="replace"))
        return p.stdout


def sign_ed25519_simple(data, domain, selector, keyfile):
    """An ed25519-sha256 signature with simple/simple canonicalization over every header field
    (RFC 6376 3.4.1, 3.4.3, 3.7; RFC 8463 3: Ed25519 over the SHA-256 of the signed data),
    made here because libopendkim 2.11's signer writes ed25519 simple signatures that no
    verifier accepts (neither libopendkim nor an independent RFC 8463 check; its relaxed ones
    verify). Needs python3-cryptography."""
    import base64
    import hashlib
    import time
    from cryptography.hazmat.primitives import serialization
    with open(keyfile, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    head, body = data.split(b"\r\n\r\n", 1)
    fields = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        else:
            fields.append(line)
    body = body.rstrip(b"\r\n") + b"\r\n" if body.strip(b"\r\n") else b"\r\n"
    bh = base64.b64encode(hashlib.sha256(body).digest()).decode()
    names = ":".join(f.split(b":", 1)[0].decode() for f in fields)
    sig = ("DKIM-Signature: v=1; a=ed25519-sha256; c=simple/simple; d=%s; s=%s; t=%d;\r\n"
           "\tbh=%s; h=%s; b=" % (domain, selector, int(time.time()), bh, names)).encode()
    signed = b"".join(f + b"\r\n" for f in fields) + sig
    return sig + base64.b64encode(key.sign(hashlib.sha256(signed).digest())) + b"\r\n" + data


# --- cases ---------------------------------------------------------------------------------------

class Case:
    """One message and the verdicts threadmill must give for it.

    sign: [(domain, selector)] or [(domain, selector, {canon, alg, identity})];
    tamper: None | "body" | "header" (after signing);
    expect: dict with spf, dkim, dmarc and policy (dmarc_policy in the log; None: absent).
    from_lines: raw From values, one field each ([] = no From field), instead of from_header;
    subject_raw: the whole Subject field as sent ("Subject:x", folding allowed); helo: the HELO
    name instead of client.example.org.
    """

    def __init__(self, name, from_addr, mail_from, ip, expect, sign=(), tamper=None, from_header=None,
                 note="", body=None, subject=None, from_lines=None, subject_raw=None, helo=None):
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
        self.from_lines = from_lines
        self.subject_raw = subject_raw
        self.helo = helo
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
        if self.from_lines is not None:
            headers = [("From", v) for v in self.from_lines] + headers[1:]
        body = "Hello Alice,\n\nthis is the %s case.\n\n-- \nSender\n" % self.name + (self.body or "")
        data = rigutil.message(headers, body).encode()
        if self.subject_raw is not None:
            old = ("Subject: auth case %s%s\r\n" % (self.name, self.subject or "")).encode()
            new = (self.subject_raw.replace("\r\n", "\n").replace("\n", "\r\n") + "\r\n").encode()
            data = data.replace(old, new, 1)
        for sig in self.sign:
            data = world.sign(data, sig[0], sig[1], **(sig[2] if len(sig) > 2 else {}))
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
        # Several From domains (RFC 7489 6.6.1): threadmill reports permerror with the strictest
        # failing domain's policy: other.example (p=none) fails, dkim.example passes.
        Case("dmarc_two_from_domains", "v@other.example", "u@dkim.example", G,
             E("pass", "pass", "permerror", "none"), sign=[("dkim.example", "sel1")],
             from_header="u@dkim.example, v@other.example"),
    ]


def differential_cases():
    """The families test_auth_differential.py adds to cases() (issue 9): simple header
    canonicalization, several From fields or authors, odd From fields, DMARC record discovery, SPF
    limits and macros, key-record flags, Ed25519. Fresh objects on every call."""
    G, B = GOOD_IP, BAD_IP
    simple = {"canon": "simple"}
    signed = dict(sign=[("dkim.example", "sel1", simple)])
    pass_dkim = E("fail", "pass", "pass", "reject")
    return [
        # Simple header canonicalization leaves a field exactly as sent (RFC 6376 3.4.1).
        Case("simple_no_space", "u@dkim.example", "u@dkim.example", B, pass_dkim,
             subject_raw="Subject:no space", **signed),
        Case("simple_tab", "u@dkim.example", "u@dkim.example", B, pass_dkim,
             subject_raw="Subject:\ttab after the colon", **signed),
        Case("simple_two_spaces", "u@dkim.example", "u@dkim.example", B, pass_dkim,
             subject_raw="Subject:  two spaces", **signed),
        Case("simple_empty", "u@dkim.example", "u@dkim.example", B, pass_dkim,
             subject_raw="Subject:", **signed),
        Case("simple_folded_start", "u@dkim.example", "u@dkim.example", B, pass_dkim,
             subject_raw="Subject:\n\tstarts on a folded line", **signed),
        Case("simple_plain", "u@dkim.example", "u@dkim.example", B, pass_dkim, **signed),
        Case("simple_tampered", "u@dkim.example", "u@dkim.example", B, E("fail", "fail", "fail", "reject"),
             subject_raw="Subject:no space", tamper="body", **signed),
        # Several From fields or authors (RFC 7489 6.6.1): never a pass; the strictest failing
        # policy is reported (header.from names that domain) and enforced.
        Case("from_two_fields", "u@reject.example", "u@none.example", B,
             E("fail", "none", "permerror", "reject"), from_lines=["u@none.example", "u@reject.example"]),
        Case("from_two_authors_reject", "v@reject.example", "u@quarantine.example", B,
             E("fail", "none", "permerror", "reject"),
             from_lines=["u@quarantine.example, v@reject.example"]),
        Case("from_two_authors_quarantine", "v@quarantine.example", "u@none.example", B,
             E("fail", "none", "permerror", "quarantine"),
             from_lines=["u@none.example, v@quarantine.example"]),
        # One field, one domain, two mailboxes: "a single From: field with a single domain".
        Case("from_two_authors_signed", "u@dkim.example", "u@dkim.example", B,
             E("fail", "pass", "pass", "reject"), from_lines=["u@dkim.example, v@dkim.example"],
             sign=[("dkim.example", "sel1")]),
        # Odd From fields reach the milter as sent (rig: local_header_rewrite_clients empty).
        Case("from_no_domain", "carol@reject.example", "carol@reject.example", B,
             E("fail", "none", "permerror", None), from_lines=["carol"]),
        Case("from_trailing_dot", "u@reject.example", "u@reject.example", B,
             E("fail", "none", "fail", "reject"), from_lines=["u@reject.example."]),
        Case("from_missing", "u@reject.example", "u@reject.example", B,
             E("fail", "none", "permerror", None), from_lines=[]),
        # DMARC record discovery (RFC 7489 6.6.3, 6.3); _dmarc.dmarcmulti.example says p=reject.
        Case("dmarc_two_records", "u@two.dmarcmulti.example", "u@two.dmarcmulti.example", B,
             E("none", "none", "none", None)),
        Case("dmarc_lower_case_v", "u@lower.dmarcmulti.example", "u@lower.dmarcmulti.example", B,
             E("none", "none", "fail", "reject")),
        Case("dmarc_spaces_v", "u@spaces.dmarcmulti.example", "u@spaces.dmarcmulti.example", B,
             E("none", "none", "fail", "quarantine")),
        # SPF limits (RFC 7208 4.6.4, 6), each domain with its own p=reject record.
        Case("spf_eleventh_term", "u@eleventh.spf.example", "u@eleventh.spf.example", G,
             E("permerror", "none", "fail", "reject")),
        Case("spf_nested_terms", "u@nested.spf.example", "u@nested.spf.example", G,
             E("permerror", "none", "fail", "reject")),
        Case("spf_two_void", "u@void2.spf.example", "u@void2.spf.example", G,
             E("pass", "none", "pass", "reject")),
        Case("spf_three_void", "u@void3.spf.example", "u@void3.spf.example", G,
             E("permerror", "none", "fail", "reject")),
        Case("spf_redirect_twice", "u@redirect2.spf.example", "u@redirect2.spf.example", G,
             E("permerror", "none", "fail", "reject")),
        Case("spf_helo_literal", "u@example.org", "<>", G, E("none", "none", "fail", "none"),
             helo="[192.0.2.10]"),
        # Macros (RFC 7208 7): exists:%{l}._l.%{d} and exists:%{i}._i.%{d}
        Case("spf_macro_local", "ok@macro.spf.example", "ok@macro.spf.example", B,
             E("pass", "none", "pass", "reject")),
        Case("spf_macro_ip", "u@macro.spf.example", "u@macro.spf.example", G,
             E("pass", "none", "pass", "reject")),
        Case("spf_macro_fail", "u@macro.spf.example", "u@macro.spf.example", B,
             E("fail", "none", "fail", "reject")),
        # Key-record flags (RFC 6376 3.6.1): t=y, t=s, h=; the revoked key is in cases().
        Case("key_testing", "u@dkim.example", "u@dkim.example", B, pass_dkim,
             sign=[("dkim.example", "testing")]),
        Case("key_strict_same", "u@dkim.example", "u@dkim.example", B, pass_dkim,
             sign=[("dkim.example", "strict", {"identity": "u@dkim.example"})]),
        Case("key_strict_subdomain", "u@dkim.example", "u@dkim.example", B,
             E("fail", "permerror", "fail", "reject"),
             sign=[("dkim.example", "strict", {"identity": "u@mail.dkim.example"})]),
        Case("key_hash_sha256", "u@dkim.example", "u@dkim.example", B, pass_dkim,
             sign=[("dkim.example", "sha256only")]),
        Case("key_hash_sha1_only", "u@dkim.example", "u@dkim.example", B,
             E("fail", "permerror", "fail", "reject"), sign=[("dkim.example", "sha1only")]),
        # Ed25519 (RFC 8463), alone and beside RSA
        Case("ed25519", "u@dkim.example", "u@dkim.example", B, pass_dkim, sign=[("dkim.example", "ed")]),
        Case("ed25519_simple", "u@dkim.example", "u@dkim.example", B, pass_dkim,
             subject_raw="Subject:no space", sign=[("dkim.example", "ed", simple)]),
        Case("ed25519_and_rsa", "u@dkim.example", "u@dkim.example", B, pass_dkim,
             sign=[("dkim.example", "ed"), ("dkim.example", "sel1")]),
        Case("ed25519_tampered", "u@dkim.example", "u@dkim.example", B, E("fail", "fail", "fail", "reject"),
             sign=[("dkim.example", "ed")], tamper="body"),
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
