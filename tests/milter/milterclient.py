"""A small MTA-side milter protocol (version 6) client, standard library only.

Used by the milter-protocol tests for inputs miltertest cannot send (Debian's miltertest 1.6.0
crashes on header values over ~1 KB) and by tests/bench/bench to drive a milter directly.
It honours what the milter negotiates: skipped steps (SMFIP_NO*) are not sent, and steps
without a reply (SMFIP_NR_*) are not waited for.
"""

import socket
import struct

# Protocol steps the MTA offers (everything a v6 Postfix knows).
SMFIP_NOCONNECT = 0x1
SMFIP_NOHELO = 0x2
SMFIP_NOMAIL = 0x4
SMFIP_NORCPT = 0x8
SMFIP_NOBODY = 0x10
SMFIP_NOHDRS = 0x20
SMFIP_NOEOH = 0x40
SMFIP_NR_HDR = 0x80
SMFIP_NOUNKNOWN = 0x100
SMFIP_NODATA = 0x200
SMFIP_SKIP = 0x400
SMFIP_RCPT_REJ = 0x800
SMFIP_NR_CONN = 0x1000
SMFIP_NR_HELO = 0x2000
SMFIP_NR_MAIL = 0x4000
SMFIP_NR_RCPT = 0x8000
SMFIP_NR_DATA = 0x10000
SMFIP_NR_UNKN = 0x20000
SMFIP_NR_EOH = 0x40000
SMFIP_NR_BODY = 0x80000
SMFIP_HDR_LEADSPC = 0x100000
ALL_PROTOCOL = 0x1FFFFF
ALL_ACTIONS = 0x1FF

FINAL = {b"a": "accept", b"c": "continue", b"r": "reject", b"t": "tempfail", b"d": "discard",
         b"y": "replycode"}
MODS = {b"h": "addheader", b"i": "insheader", b"m": "chgheader", b"+": "addrcpt",
        b"-": "delrcpt", b"b": "replbody", b"e": "chgfrom", b"q": "quarantine",
        b"2": "addrcpt_par", b"p": "progress"}

# How many bytes one body/header packet may carry (libmilter's default MILTER_MAX_DATA_SIZE).
MAX_CHUNK = 65535


class MilterError(Exception):
    pass


def parse_socket(spec):
    """libmilter socket spec -> (family, address)."""
    kind, _, rest = spec.partition(":")
    if kind in ("local", "unix"):
        return socket.AF_UNIX, rest
    if kind in ("inet", "inet6"):
        port, _, host = rest.partition("@")
        fam = socket.AF_INET if kind == "inet" else socket.AF_INET6
        return fam, (host or ("127.0.0.1" if kind == "inet" else "::1"), int(port))
    raise ValueError("bad milter socket %r" % spec)


class Result:
    def __init__(self):
        self.verdict = None        # accept / continue / reject / tempfail / discard / replycode
        self.reply_text = None     # for replycode
        self.mods = []             # (kind, fields...) e.g. ("addheader", name, value)
        self.step = None           # the step that ended the message early, if any

    def headers_added(self):
        out = []
        for m in self.mods:
            if m[0] == "addheader":
                out.append((m[1], m[2]))
            elif m[0] == "insheader":
                out.append((m[2], m[3]))
        return out

    def __repr__(self):
        return "Result(%s step=%s mods=%r)" % (self.verdict, self.step, self.mods)


class MilterClient:
    def __init__(self, spec, timeout=30, nodelay=True):
        fam, addr = parse_socket(spec)
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(addr)
        if fam != socket.AF_UNIX and nodelay:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = self.sock.makefile("rb")
        self.version = self.actions = self.protocol = 0

    def close(self):
        try:
            self._send(b"Q")
        except OSError:
            pass
        self.rfile.close()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # wire
    def _send(self, cmd, data=b""):
        self.sock.sendall(struct.pack(">I", len(data) + 1) + cmd + data)

    def _read(self):
        head = self.rfile.read(4)
        if len(head) < 4:
            raise MilterError("milter closed the connection")
        (n,) = struct.unpack(">I", head)
        body = self.rfile.read(n)
        if len(body) < n or n < 1:
            raise MilterError("short packet from milter")
        return body[:1], body[1:]

    @staticmethod
    def _z(*parts):
        return b"".join((p.encode("utf-8", "surrogateescape") if isinstance(p, str) else p) + b"\0"
                        for p in parts)

    def negotiate(self, actions=ALL_ACTIONS, protocol=ALL_PROTOCOL):
        self._send(b"O", struct.pack(">III", 6, actions, protocol))
        cmd, data = self._read()
        if cmd != b"O" or len(data) < 12:
            raise MilterError("bad negotiation reply %r" % cmd)
        self.version, self.actions, self.protocol = struct.unpack(">III", data[:12])
        return self

    def _has(self, flag):
        return bool(self.protocol & flag)

    def macro(self, step, **macros):
        data = step
        for k, v in macros.items():
            name = k if len(k) == 1 else "{%s}" % k
            data += self._z(name, v)
        self._send(b"D", data)

    def _step(self, cmd, data, skip_flag, noreply_flag, result, name):
        """Send one step; returns True when the message should go on."""
        if skip_flag and self._has(skip_flag):
            return True
        self._send(cmd, data)
        if noreply_flag and self._has(noreply_flag):
            return True
        while True:
            c, d = self._read()
            if c == b"p":  # progress
                continue
            if c == b"c":
                return True
            if c in FINAL:
                result.verdict = FINAL[c]
                result.step = name
                if c == b"y":
                    result.reply_text = d.rstrip(b"\0").decode("utf-8", "replace")
                return False
            raise MilterError("unexpected reply %r to %s" % (c, name))

    def send_message(self, client_addr="127.0.0.1", client_name="localhost", helo="client.example.org",
                     mail_from="<alice@example.com>", rcpts=("<carol@example.org>",), headers=(),
                     body=b"Hello.\r\n", macros=None, connect=True):
        """One SMTP transaction (with the connection steps when connect=True).
        headers: (name, value) pairs, str or bytes. macros: {"connect": {...}, "mail": {...},
        "rcpt": {...}, "eoh": {...}, "eom": {...}} (names without braces; single letters as is)."""
        macros = macros or {}
        r = Result()
        hdr_space = b" " if self._has(SMFIP_HDR_LEADSPC) else b""
        if connect:
            self.macro(b"C", **macros.get("connect", {"j": "mx.rig.example.com",
                                                        "daemon_name": "rig-mx"}))
            fam = b"6" if ":" in client_addr else b"4"
            if not self._step(b"C", self._z(client_name) + fam + struct.pack(">H", 25) + self._z(client_addr),
                              SMFIP_NOCONNECT, SMFIP_NR_CONN, r, "connect"):
                return r
            if not self._step(b"H", self._z(helo), SMFIP_NOHELO, SMFIP_NR_HELO, r, "helo"):
                return r
        self.macro(b"M", **macros.get("mail", {}))
        if not self._step(b"M", self._z(mail_from), SMFIP_NOMAIL, SMFIP_NR_MAIL, r, "mail"):
            return r
        for rcpt in rcpts:
            self.macro(b"R", **macros.get("rcpt", {}))
            if not self._step(b"R", self._z(rcpt), SMFIP_NORCPT, SMFIP_NR_RCPT, r, "rcpt"):
                return r
        self.macro(b"T", **macros.get("data", {}))
        if not self._step(b"T", b"", SMFIP_NODATA, SMFIP_NR_DATA, r, "data"):
            return r
        for name, value in headers:
            if isinstance(value, str):
                value = value.encode("utf-8", "surrogateescape")
            data = self._z(name, hdr_space + value)
            if len(data) > MAX_CHUNK - 1:
                # libmilter drops the connection on larger packets; Postfix cuts the header
                # the same way (a milter never sees more than ~64 KB of one header).
                data = data[:MAX_CHUNK - 2] + b"\0"
            if not self._step(b"L", data, SMFIP_NOHDRS, SMFIP_NR_HDR, r, "header"):
                return r
        self.macro(b"N", **macros.get("eoh", {}))
        if not self._step(b"N", b"", SMFIP_NOEOH, SMFIP_NR_EOH, r, "eoh"):
            return r
        if isinstance(body, str):
            body = body.encode()
        for i in range(0, len(body), MAX_CHUNK - 1):
            if not self._step(b"B", body[i:i + MAX_CHUNK - 1], SMFIP_NOBODY, SMFIP_NR_BODY, r, "body"):
                return r
        self.macro(b"E", **macros.get("eom", {}))
        self._send(b"E")
        while True:
            c, d = self._read()
            if c in FINAL:
                r.verdict = FINAL[c]
                r.step = "eom"
                if c == b"y":
                    r.reply_text = d.rstrip(b"\0").decode("utf-8", "replace")
                return r
            if c == b"h":
                name, value = d.split(b"\0")[:2]
                r.mods.append(("addheader", name.decode(), value.decode("utf-8", "replace")))
            elif c == b"i":
                (idx,) = struct.unpack(">I", d[:4])
                name, value = d[4:].split(b"\0")[:2]
                r.mods.append(("insheader", idx, name.decode(), value.decode("utf-8", "replace")))
            elif c in MODS:
                r.mods.append((MODS[c], d))
            else:
                raise MilterError("unexpected reply %r at eom" % c)
