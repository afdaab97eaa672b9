"""Which log entries a majority of the master's replicas hold (GFS: "a mutation to the state is
considered committed only after its log record has been flushed to disk locally and on all
master replicas"; here, as HDFS's quorum journal, a majority).

The master is one of `replicas`; each shadow tells it (LogHeld) how far its own store holds
the log durably. An entry is held by a majority once `replicas // 2` shadows hold it beside
the master. A lone master (`replicas` 1) never waits.
"""

from __future__ import annotations

import threading
import time

from common import errors

MAX_FOLLOWERS = 64  # positions remembered; a restarted shadow comes back under a new name


class Quorum:
    def __init__(self, replicas: int) -> None:
        if replicas < 1:
            raise ValueError("a master has at least one replica: itself")
        self.replicas = replicas
        self.needed = replicas // 2  # shadows, beside the master
        self._held: dict[str, int] = {}  # shadow -> the newest entry it holds durably
        self._changed = threading.Condition()

    def held(self, follower: str, seq: int) -> None:
        """`follower` holds every entry up to `seq` (positions only move forward: a shadow
        whose store was wiped starts again from a checkpoint and says so from there)."""
        with self._changed:
            if seq > self._held.get(follower, 0):
                self._held[follower] = seq
                if len(self._held) > MAX_FOLLOWERS:  # names of shadows long replaced
                    del self._held[min(self._held, key=self._held.__getitem__)]
                self._changed.notify_all()

    def holding(self, seq: int) -> int:
        """Replicas, the master included, that hold entry `seq`."""
        with self._changed:
            return 1 + sum(1 for at in self._held.values() if at >= seq)

    def wait(self, seq: int, timeout: float) -> None:
        """Returns once a majority holds entry `seq`; Unavailable after `timeout` seconds."""
        if self.needed == 0 or seq <= 0:  # alone, or nothing was logged
            return
        deadline = time.monotonic() + timeout
        with self._changed:
            while sum(1 for at in self._held.values() if at >= seq) < self.needed:
                left = deadline - time.monotonic()
                if left <= 0:
                    held = 1 + sum(1 for at in self._held.values() if at >= seq)
                    raise errors.Unavailable(
                        f"log entry {seq} is on {held} of {self.replicas} master replicas, not "
                        f"a majority, after {timeout:g}s: the change is not acknowledged (it may "
                        "still take effect once a shadow catches up)"
                    )
                self._changed.wait(left)
