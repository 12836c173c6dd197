#!/usr/bin/env python3
"""End-to-end: an uncertain reply whose echo comes late is shown as sent and never released.

The daemon is killed with SIGKILL while a reply is held mid-reinjection; the held sendmail then
finishes while the daemon is down, so the reply waits in Postfix's maildrop (pickup gets a
temporary failure from the absent milter). With reinject_confirm_seconds = 1 the retried job
calls the reply uncertain and parks (what the former 30 s default did when pickup's next scan
came later). A second message's reinjection wakes pickup: the first reply passes back through
the milter and is delivered. Required: `threadmillctl replies list` shows the uncertain reply
first without, then with the echo's queue id; `replies release` refuses it (it would be the
duplicate) and `replies done` settles it; each message answered exactly once.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rigutil  # noqa: E402
import chaosutil  # noqa: E402
from chaosutil import wait_for  # noqa: E402


class ReplyUncertain(chaosutil.ChaosCase):

    NAME = "uncertain"
    OPTIONS = {"confirm_seconds": 1}

    def listed(self):
        p = self.rig.ctl("--json", "replies", "list")
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def test_late_echo_is_shown_and_release_refused(self):
        c = self.chaos
        open(os.path.join(c.dir, "hold"), "w").close()
        first = chaosutil.Stream(self.rig, rigutil.token(), rate=1, limit=1).start()
        c.hold()
        c.kill_daemon(release_while_down=True)
        first.stop()
        self.assertEqual(len(first.accepted), 1)
        owed = wait_for("the reply to be called uncertain",
                        lambda: [o for o in self.listed() if o["state"] == "uncertain"], 60)
        self.assertEqual(len(owed), 1, owed)
        reply = owed[0]["reply"]
        self.assertEqual(owed[0]["echo"], "", "no echo yet: Postfix's pickup has not rescanned")

        # Another reply's reinjection wakes pickup; the first reply passes the milter late.
        second = chaosutil.Stream(self.rig, rigutil.token(), rate=1, limit=1).start()
        wait_for("both replies delivered", lambda: len(c.replies()) >= 2, 120)
        second.stop()
        late = wait_for("the late echo in `replies list`",
                        lambda: [o for o in self.listed() if o["reply"] == reply and o["echo"]],
                        30)
        self.assertEqual(late[0]["state"], "uncertain")

        p = self.rig.ctl("replies", "release", reply)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn("queue id " + late[0]["echo"], p.stderr)
        p = self.rig.ctl("replies", "done", reply)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.listed(), [])

        accepted = dict(first.accepted, **second.accepted)
        t = c.tally(accepted)
        self.assertEqual((t["answered"], t["duplicates"], t["lost"]), (2, 0, 0), t)


if __name__ == "__main__":
    rigutil.main(chaosutil.missing())
