"""trackers - watch-event handlers that time what the benchmark waits for.

Each is fed by a kubeapi.Watch thread with the monotonic time an event
was read, so every latency is measured on one clock, in one place.
"""

import math
import threading


def is_ready(obj):
    """is_ready - the object's Ready condition is True."""
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


class ReadyTracker:
    """ReadyTracker - when each MonoSecret was first seen Ready=True."""

    def __init__(self):
        self.ready = {}

    def on_event(self, typ, obj, t):
        if typ not in ("ADDED", "MODIFIED"):
            return
        name = obj["metadata"]["name"]
        if name not in self.ready and is_ready(obj):
            self.ready[name] = t


class SecretTracker:
    """SecretTracker - every write to the namespace's Secrets, and the
    arrival of expected changes and re-creations.

    expect_change(name, b64) waits for a Secret holding that password;
    expect_back(name) waits for the Secret to be deleted and then to come
    back. Times are read-times of the watch events."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events = {"ADDED": 0, "MODIFIED": 0, "DELETED": 0}
        self.want = {}          # name -> password (base64) awaited
        self.changed = {}       # name -> time the awaited value arrived
        self.gone = {}          # name -> time its DELETED event was read
        self.awaiting_back = set()
        self.back = {}          # name -> time it was seen again

    def expect_change(self, name, pw_b64):
        with self.lock:
            self.want[name] = pw_b64

    def expect_back(self, name):
        with self.lock:
            self.awaiting_back.add(name)

    def count(self):
        with self.lock:
            return sum(self.events.values())

    def on_event(self, typ, obj, t):
        name = obj["metadata"]["name"]
        with self.lock:
            self.events[typ] = self.events.get(typ, 0) + 1
            if typ in ("ADDED", "MODIFIED") and name in self.want:
                if (obj.get("data") or {}).get("password") == self.want[name]:
                    self.changed[name] = t
                    del self.want[name]
            if name in self.awaiting_back:
                if typ == "DELETED":
                    self.gone[name] = t
                elif typ == "ADDED" and name in self.gone:
                    self.back[name] = t
                    self.awaiting_back.discard(name)


def percentile(values, p):
    """percentile - nearest-rank percentile of values (None if empty)."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, math.ceil(p / 100.0 * len(v)) - 1))
    return v[k]
