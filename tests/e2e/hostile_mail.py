"""Hostile messages and the measuring tools shared by tests/e2e/test_hostile.py and
tests/bench/hostile: one builder per adversarial class of issue 8, the threadmill process tree's
CPU time and write volume from /proc, and the checks on a delivered copy (our
Authentication-Results present, no forged one of our authserv-id left).

Standard library only. Messages are bytes with CRLF line ends, sent with smtplib as they are.
Forged Authentication-Results carry the comment (FORGED-<tag>) so that a survivor is found
whatever Postfix does to the header's folding.
"""

import os
import re
import smtplib
import time

import auth_world
import rigutil

AUTHSERV = "mx.rig.example.com"  # the rig's [milter] hostname: threadmill's authserv-id
HOLE_ZONE = "hole.example"       # dnsmasq forwards it to a server that never answers


# --- /proc ----------------------------------------------------------------------------------------

def _stat(pid):
    """(ppid, utime + stime + cutime + cstime in ticks) of a process, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(rest[1]), sum(int(x) for x in rest[11:15])


def process_cpu(pid):
    """utime + stime of one process (all its threads), seconds."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu(root):
    """CPU seconds of root and every live descendant (milter, supervisor, workers, handler
    programs), each counted with its reaped children (cutime/cstime): a process that ended and
    was waited for is counted once, in its parent."""
    stats = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            s = _stat(int(name))
            if s:
                stats[int(name)] = s
    children = {}
    for pid, (ppid, _t) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1]
        todo += children.get(pid, [])
    return total / os.sysconf("SC_CLK_TCK")


def written_bytes(pid):
    """Bytes one process (all its threads) has passed to write(2) and friends (/proc/PID/io wchar):
    spool files, LMDB commits, log lines."""
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    return 0


# --- sending --------------------------------------------------------------------------------------

class Sent:
    """The outcome of one SMTP transaction: final reply code and text, queue id, wall time."""

    def __init__(self, code, text, qid, elapsed):
        self.code, self.text, self.qid, self.elapsed = code, text, qid, elapsed

    def __repr__(self):
        return "%d %s (%.1fs)" % (self.code, self.text.strip()[:200], self.elapsed)


def transact(port, data, mail_from, rcpts, ip=None, timeout=300):
    """MAIL, RCPT, DATA with exact bytes; XCLIENT ADDR=ip first when ip is given (the simulated
    outside client). Returns Sent; a refused MAIL or RCPT raises rigutil.RigError."""
    t0 = time.monotonic()
    with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as s:
        s.ehlo("client.example.org")
        if ip:
            code, msg = s.docmd("XCLIENT", "ADDR=%s NAME=[UNAVAILABLE]" % ip)
            if code != 220:
                raise rigutil.RigError("XCLIENT refused: %d %r" % (code, msg))
            s.ehlo("client.example.org")
        code, msg = s.mail(mail_from)
        if code // 100 != 2:
            raise rigutil.RigError("MAIL FROM:<%s> refused: %d %r" % (mail_from, code, msg))
        for r in rigutil.as_list(rcpts):
            code, msg = s.rcpt(r)
            if code // 100 != 2:
                raise rigutil.RigError("RCPT %s refused: %d %r" % (r, code, msg))
        code, msg = s.data(data)
    m = re.search(rb"queued as ([0-9A-Za-z]+)", msg)
    return Sent(code, msg.decode("utf-8", "replace"), m.group(1).decode() if m else None,
                time.monotonic() - t0)


# --- building hostile messages ----------------------------------------------------------------------

def forged_ar(tag, domain="reject.example", authserv=AUTHSERV):
    """An Authentication-Results field claiming our authserv-id and a DMARC pass for domain."""
    return ("Authentication-Results: %s; spf=pass smtp.mailfrom=%s;\r\n"
            "\tdkim=pass header.d=%s; dmarc=pass (FORGED-%s) header.from=%s\r\n"
            % (authserv, domain, domain, tag, domain)).encode()


def head(from_hdr, to, subject, msgid, extra=b""):
    """The ordinary top of a message (bytes, CRLF), then extra raw header lines."""
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: Tue, 25 Nov 2025 09:00:00 +0000\r\n"
            "Message-ID: %s\r\n" % (from_hdr, to, subject, msgid)).encode() + extra


def many_fields(filler=36500, repeats=30000, name="X-Auto-Response-Suppress"):
    """filler fields (together past the default max_header_bytes of 1 MiB) followed by repeats
    copies of name, a field threadmill looks up. The filler's name has name's length and differs
    only in its last character: a scan comparing names case-insensitively reads all of it."""
    fname = (name[:-1] + ("x" if name[-1].lower() != "x" else "y")).encode()
    vlen = max(1, -(-int(1.1 * 1024 * 1024) // filler) - len(fname) - 4)
    lines = [b"%s: %s\r\n" % (fname, b"f" * vlen)] * filler
    lines += [b"%s: again %d\r\n" % (name.encode(), i) for i in range(repeats)]
    return b"".join(lines)


def many_references(token, count=5000):
    """One References field with count msg-ids (Postfix hands a milter about 64 KB of it) and an
    In-Reply-To with the last one."""
    ids = [b"<r%05d.%s@example.org>" % (i, token.encode()) for i in range(count)]
    return (b"In-Reply-To: " + ids[-1] + b"\r\nReferences: " + b"\r\n ".join(ids) + b"\r\n")


def dkim_signature(domain, selector="sel1"):
    """A syntactically valid DKIM-Signature field (its b= will not verify: the point is the key
    query for selector._domainkey.domain)."""
    return ("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s; s=%s;\r\n"
            "\th=from:to:subject:date:message-id; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n"
            "\tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSBidXQgaXQgcGFyc2VzIGFzIG9uZSBhbnl3YXku\r\n"
            % (domain, selector)).encode()


def many_signatures(count=500):
    """count signatures of distinct long domains under other.example, whose keys do not exist
    (NXDOMAIN, answered at once): every one past max_signatures is ignored."""
    label = "signer-with-a-rather-long-label-to-fill-the-results-header"
    return b"".join(dkim_signature("s%04d.%s.other.example" % (i, label)) for i in range(count))


def many_forged(tag, count=16000):
    return b"".join(forged_ar("%s-%d" % (tag, i)) for i in range(count))


def multipart(parts, boundary="hostile-b1"):
    """(extra top-level header lines, body) of a multipart/mixed message from raw parts."""
    hdr = ("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"%s\"\r\n" % boundary).encode()
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + p + b"\r\n" for p in parts)
    return hdr, body + b"--" + boundary.encode() + b"--\r\n"


def huge_parameters(megabytes=3.0, field_kb=60):
    """MIME parts whose Content-Type and Content-Disposition are runs of ';' (empty parameters,
    folded lines of 76) for the RFC 2045/2231 parameter parser, megabytes in all. Each field stays
    under field_kb KB: with a milter attached Postfix cuts longer header fields, MIME part headers
    included, at about 64 KB, so through Postfix the attacker's lever is the number of parts."""
    run = b" " + b";" * 76 + b"\r\n"
    lines = int(field_kb * 1000 / len(run))
    part = (b"Content-Type: application/octet-stream; name=\"a.bin\"\r\n" + run * lines +
            b"Content-Disposition: attachment; filename=\"a.bin\"\r\n" + run * lines +
            b"Content-Transfer-Encoding: base64\r\n\r\nAAAA")
    count = max(1, int(megabytes * 1e6 / len(part)))
    return multipart([b"Content-Type: text/plain; charset=us-ascii\r\n\r\nSee attachments."] + [part] * count)


def deep_mime(depth=5000):
    """multipart/mixed nested depth levels deep, a text part at the bottom."""
    hdr = b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"n0\"\r\n"
    opening = b"".join(b"--n%d\r\nContent-Type: multipart/mixed; boundary=\"n%d\"\r\n\r\n" % (i, i + 1)
                       for i in range(depth))
    bottom = b"--n%d\r\nContent-Type: text/plain\r\n\r\nthe bottom\r\n" % depth
    closing = b"".join(b"--n%d--\r\n" % i for i in range(depth, -1, -1))
    return hdr, opening + bottom + closing


# --- reading results ---------------------------------------------------------------------------------

def read(path):
    with open(path, "rb") as f:
        return f.read()


def ar_fields(data):
    """The Authentication-Results values of a message (unfolded)."""
    return [v for k, v in auth_world.header_fields(data) if k.lower() == "authentication-results"]


def claims_ours(value):
    return auth_world.parse_auth_results(value)[0].lower() == AUTHSERV


def ar_problems(data, expect_ours=True):
    """What is wrong with the Authentication-Results of a delivered copy: forged ones of our
    authserv-id still there, ours missing or twice. [] when all is well."""
    fields = ar_fields(data)
    problems = []
    forged = [v for v in fields if "FORGED-" in v]
    if forged:
        problems.append("%d forged Authentication-Results of %s survived in the delivered copy "
                        "(first: %.150s)" % (len(forged), AUTHSERV, forged[0]))
    ours = [v for v in fields if claims_ours(v) and "FORGED-" not in v]
    if expect_ours and len(ours) != 1:
        problems.append("expected exactly one Authentication-Results of ours in the delivered copy, "
                        "found %d (of %d A-R fields)" % (len(ours), len(fields)))
    return problems, ours


def dmarc_of(ar_value):
    return auth_world.ar_verdicts(ar_value).get("dmarc", "none")
