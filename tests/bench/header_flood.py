#!/usr/bin/env python3
"""CPU seconds threadmill spends on a header flood (issue 8 item 1), through the milter
protocol: FILLER filler headers (named Subjecx, Subjecy, ...: a case-insensitive name compare only fails at the last byte) followed by COPIES copies of one looked-up header (Subject).

    header_flood.py RIG_DIR [FILLER] [COPIES]     (RIG_DIR from `rig start DIR --no-postfix`)

Prints the milter's user+system CPU seconds for the message, from /proc/PID/stat.
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "milter"))
import milterclient as mc  # noqa: E402


def env(d):
    out = {}
    with open(os.path.join(d, "rig.env")) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                out[k] = v.strip("'")
    return out


def cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    d = sys.argv[1]
    filler = int(sys.argv[2]) if len(sys.argv) > 2 else 36500
    copies = int(sys.argv[3]) if len(sys.argv) > 3 else 30000
    e = env(d)
    with open(os.path.join(d, "milter.pid")) as f:
        pid = int(f.read())
    headers = [("Subjec%s" % "xyzw"[i % 4], "f" * 20) for i in range(filler)]
    headers += [("Subject", "copy %d" % i) for i in range(copies)]
    before, t0 = cpu(pid), time.time()
    with mc.MilterClient(e["RIG_MILTER_SOCKET"], timeout=600) as c:
        c.negotiate()
        r = c.send_message(client_addr="192.0.2.10", client_name="[192.0.2.10]",
                           mail_from="<a@example.org>", rcpts=("<bob@example.com>",),
                           headers=headers, macros={"eom": {"i": "FLOOD"}})
    # the milter may still be working on queued headers when the client is done: wait idle
    last = cpu(pid)
    while True:
        time.sleep(0.5)
        now = cpu(pid)
        if now == last:
            break
        last = now
    print("verdict=%s filler=%d copies=%d milter_cpu_seconds=%.2f wall=%.1f"
          % (r.verdict, filler, copies, last - before, time.time() - t0))


if __name__ == "__main__":
    main()
