"""A test ARC sealer (RFC 8617 section 5.1) in Python, independent of threadmill's C++ code:
relaxed/relaxed canonicalization (RFC 6376 section 3.4), RSA-SHA256 with python3-cryptography.
seal() adds one ARC set (ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results) on top of
a message as a mailing list or forwarder does after changing it."""

import base64
import hashlib
import re

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class Sealer:
    def __init__(self, domain, selector="arc"):
        self.domain = domain
        self.selector = selector
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def record(self):
        der = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()

    def _sign(self, data):
        sig = self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(sig).decode()

    def seal(self, data, aar, cv="none", instance=1,
             signed=("from", "to", "subject", "date", "message-id", "dkim-signature")):
        """data: the message (bytes, CRLF); aar: what the sealer recorded ("authserv; dmarc=pass
        ..."). Returns the sealed message."""
        head, body = data.split(b"\r\n\r\n", 1)
        fields = split_fields(head)
        i = str(instance)
        bh = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest()).decode()
        ams = (" i=%s; a=rsa-sha256; c=relaxed/relaxed; d=%s; s=%s; t=1764061200;\r\n\th=%s;"
               " bh=%s; b=" % (i, self.domain, self.selector, ":".join(signed), bh))
        hashed = b""
        used = {}
        for name in signed:
            cands = [f for f in reversed(fields) if f[0].lower() == name]
            k = used.get(name, 0)
            used[name] = k + 1
            if k < len(cands):
                hashed += relaxed_header(*cands[k])
        hashed += relaxed_header("ARC-Message-Signature", ams)[:-2]
        ams += self._sign(hashed)
        aar_value = " i=%s; %s" % (i, aar)
        seal = " i=%s; a=rsa-sha256; cv=%s; d=%s; s=%s; t=1764061200; b=" % (
            i, cv, self.domain, self.selector)
        sets = {}
        for name, value in fields:
            n = name.lower()
            if n in ("arc-seal", "arc-message-signature", "arc-authentication-results"):
                sets.setdefault(int(re.search(r"i=(\d+)", value).group(1)), {})[n] = value
        hashed = b""
        for k in sorted(sets):
            for n in ("arc-authentication-results", "arc-message-signature", "arc-seal"):
                hashed += relaxed_header(n, sets[k][n])
        hashed += relaxed_header("ARC-Authentication-Results", aar_value)
        hashed += relaxed_header("ARC-Message-Signature", ams)
        hashed += relaxed_header("ARC-Seal", seal)[:-2]
        seal += self._sign(hashed)
        top = ("ARC-Seal:%s\r\nARC-Message-Signature:%s\r\nARC-Authentication-Results:%s\r\n"
               % (seal, ams, aar_value)).encode()
        return top + data


def split_fields(head):
    fields = []
    for line in head.decode().split("\r\n"):
        if line[:1] in (" ", "\t") and fields:
            fields[-1][1] += "\r\n" + line
        else:
            name, value = line.split(":", 1)
            fields.append([name, value])
    return [tuple(f) for f in fields]


def relaxed_header(name, value):
    v = re.sub(r"[ \t]+", " ", value.replace("\r\n", "")).strip()
    return ("%s:%s\r\n" % (name.lower().rstrip(), v)).encode()


def relaxed_body(body):
    lines = [re.sub(rb"[ \t]+", b" ", l).rstrip(b" ") for l in body.split(b"\r\n")]
    while lines and lines[-1] == b"":
        lines.pop()
    return b"".join(l + b"\r\n" for l in lines)
