#!/usr/bin/env python3
"""campaign.py - a complete exec session-mode program (threadmill's JSON-lines bridge, see
handlers/exec/README.md): a small mail campaign.

- On each heartbeat it sends the configured message to every recipient who has not had it yet
  (host call "send"), and remembers the new conversation in KV: "sent:<address>" -> thread id,
  "thread:<thread id>" -> {"to", "state", ...}.
- When a message arrives in one of those threads, it matches it to its record ("kv_get"),
  keeps the answer ("kv_put") with its attachments ("attachment"), its size as received
  ("raw_message") and the conversation so far ("thread"), stores a draft reply for a person
  to approve ("draft"; threadmillctl drafts approve ID), and logs how many recipients answered so far ("kv_list").
- Any other message gets the acknowledgment `ack_text` as a reply ("reply"), when configured.

Configuration ([handler.NAME] of the exec handler, read with "config_get"):

    [handler.exec]                      # or any instance name once module = "exec" is used
    command = ["/usr/bin/python3", "/usr/local/lib/threadmill/campaign.py"]
    mode = "session"
    heartbeat_seconds = 60
    from = "news@example.com"           # the address "send" uses
    campaign_to = "alice@example.org, bob@example.org"
    campaign_subject = "Lunch on Friday?"
    campaign_text = "Shall we meet on Friday at noon?"
    draft_text = "Thank you for your answer, we will confirm soon."
    ack_text = "Thank you, your message has arrived."   # optional

The program keeps nothing in memory between events: every worker runs its own copy, so all
state lives in threadmill's KV store. Python 3.6+, standard library only.
"""

import base64
import hashlib
import json
import sys


class BridgeError(Exception):
    """A host call answered {"ok": false}: .status is refused|invalid|not_found|store|internal."""

    def __init__(self, call, status, error):
        super().__init__("%s: %s (%s)" % (call, error, status))
        self.status = status
        self.error = error


class Bridge:
    """The program's side of the protocol: events in, calls out, one JSON object per line."""

    def __init__(self, inp=sys.stdin, out=sys.stdout):
        self.inp = inp
        self.out = out
        self.req = 0

    def _write(self, obj):
        self.out.write(json.dumps(obj) + "\n")
        self.out.flush()

    def _read(self):
        while True:
            line = self.inp.readline()
            if not line:
                return None  # threadmill closed our stdin: time to exit
            line = line.strip()
            if line:
                return json.loads(line)

    def events(self):
        """Yields each event ({"type": "start"|"inbound"|"heartbeat", ...}) until end of input."""
        while True:
            msg = self._read()
            if msg is None:
                return
            yield msg

    def call(self, name, **args):
        """Runs a host call and returns its answer; raises BridgeError when it failed."""
        self.req += 1
        self._write(dict(args, call=name, req=self.req))
        while True:
            answer = self._read()
            if answer is None:
                raise EOFError("threadmill went away")
            if answer.get("req") == self.req:
                break
        if not answer.get("ok"):
            raise BridgeError(name, answer.get("status"), answer.get("error"))
        return answer

    def log(self, message, level="info"):
        """A line in threadmill's log (no answer asked: no "req")."""
        self._write({"call": "log", "level": level, "message": message})

    def done(self, event_id, status="ok", reason=""):
        self._write({"done": event_id, "status": status, "reason": reason})


def config(bridge, key, default=""):
    got = bridge.call("config_get", key=key)
    return got["value"] if got["found"] else default


def kv_json(bridge, key):
    got = bridge.call("kv_get", key=key)
    return json.loads(got["value"]) if got["found"] else None


def heartbeat(bridge):
    """Sends the campaign to every recipient who has not had it yet."""
    recipients = [a.strip() for a in config(bridge, "campaign_to").split(",") if a.strip()]
    subject = config(bridge, "campaign_subject", "Hello")
    text = config(bridge, "campaign_text", "Hello!")
    for address in recipients:
        if bridge.call("kv_get", key="sent:" + address)["found"]:
            continue
        try:
            thread = bridge.call("send", to=[address], subject=subject, text=text)["thread_id"]
        except BridgeError as e:
            if e.status in ("store", "internal"):
                raise
            bridge.log("campaign: not sent to %s: %s" % (address, e.error), "warn")
            continue
        record = {"to": address, "subject": subject, "state": "sent"}
        bridge.call("kv_put", key="thread:" + thread, value=record)
        bridge.call("kv_put", key="sent:" + address, value=thread)
        bridge.log("campaign: sent to %s, thread %s" % (address, thread))


def inbound(bridge, envelope):
    """Matches an answer to the campaign, or acknowledges any other message."""
    thread = envelope["channel_thread_id"]
    record = kv_json(bridge, "thread:" + thread)
    if record is None:
        ack = config(bridge, "ack_text")
        if ack:
            try:
                bridge.call("reply", text=ack)
            except BridgeError as e:
                if e.status in ("store", "internal"):
                    raise
                bridge.log("campaign: no acknowledgment: %s" % e.error)
        return
    bridge.call("kv_put", key="answer:" + thread, value=envelope.get("reply_text", ""))
    # What else the answer brought: its attachments' bytes ("attachment"), the message as
    # received ("raw_message") and the conversation so far ("thread").
    files = []
    for a in envelope.get("attachments", []):
        data = base64.b64decode(bridge.call("attachment", file_id=a["file_id"])["data_base64"])
        files.append({"filename": a.get("filename", ""), "size": len(data),
                      "sha256": hashlib.sha256(data).hexdigest()})
    raw = base64.b64decode(bridge.call("raw_message")["data_base64"])
    conversation = bridge.call("thread")
    bridge.call("kv_put", key="received:" + thread, value={
        "attachments": files, "raw_size": len(raw),
        "messages": [[m["direction"], m["message_id"]] for m in conversation["messages"]]})
    if record.get("state") == "sent":
        text = config(bridge, "draft_text", "Thank you for your answer.")
        try:
            record["draft_id"] = bridge.call("draft", text=text)["draft_id"]
        except BridgeError as e:
            if e.status in ("store", "internal"):
                raise
            record["draft_refused"] = e.error
        record["state"] = "answered"
        record["answered_by"] = envelope.get("from_address", "")
        bridge.call("kv_put", key="thread:" + thread, value=record)
    records = bridge.call("kv_list", prefix="thread:", include_values=True, limit=1000)["items"]
    answered = sum(1 for r in records if json.loads(r.get("value", "{}")).get("state") == "answered")
    bridge.log("campaign: %s answered in thread %s (%d of %d answered)"
               % (record["to"], thread, answered, len(records)))


def main():
    bridge = Bridge()
    for event in bridge.events():
        kind = event.get("type")
        if kind not in ("inbound", "heartbeat"):
            continue  # "start" (the list of calls), or a type from a newer threadmill
        try:
            if kind == "inbound":
                inbound(bridge, event["envelope"])
            else:
                heartbeat(bridge)
            bridge.done(event["id"])
        except BridgeError as e:
            # Store trouble: let threadmill run the event again later.
            bridge.done(event["id"], "retry", str(e))
        except EOFError:
            return


if __name__ == "__main__":
    main()
