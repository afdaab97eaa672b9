"""Which log entries a majority of the master's replicas hold (GFS: "a mutation to the state is
considered committed only after its log record has been flushed to disk locally and on all
master replicas"; here, as HDFS's quorum journal, a majority).

The master is one of `replicas`; each shadow tells it (LogHeld) how far its own store holds
the log durably. An entry is held by a majority once `replicas // 2` shadows hold it beside
the master. A lone master (`replicas` 1) never waits.
"""

from __future__ import annotations

import heapq
import itertools
import threading

from common import errors

MAX_FOLLOWERS = 64  # positions remembered; a restarted shadow comes back under a new name


class Quorum:
    def __init__(self, replicas: int) -> None:
        if replicas < 1:
            raise ValueError("a master has at least one replica: itself")
        self.replicas = replicas
        self.needed = replicas // 2  # shadows, beside the master
        self._lock = threading.Lock()
        self._held: dict[str, int] = {}  # shadow -> the newest entry it holds durably
        self._majority = 0  # the newest entry a majority holds
        # (entry, ticket, event) of each waiting commit, soonest first: each is woken once,
        # when its entry is held, where a condition would wake every waiter at every report.
        self._waiting: list[tuple[int, int, threading.Event]] = []
        self._tickets = itertools.count()
        self._deposed: str | None = None  # why this master acknowledges nothing more

    def depose(self, reason: str) -> None:
        """Ends this master's term: every waiting commit and every later one is refused."""
        with self._lock:
            self._deposed = reason
            for _, _, event in self._waiting:
                event.set()
            self._waiting = []

    def held(self, follower: str, seq: int) -> None:
        """`follower` holds every entry up to `seq` (positions only move forward: a shadow
        whose store was wiped starts again from a checkpoint and says so from there)."""
        with self._lock:
            if seq <= self._held.get(follower, 0):
                return
            self._held[follower] = seq
            if len(self._held) > MAX_FOLLOWERS:  # names of shadows long replaced
                del self._held[min(self._held, key=self._held.__getitem__)]
            positions = sorted(self._held.values(), reverse=True)
            if len(positions) < self.needed:
                return
            self._majority = max(self._majority, positions[self.needed - 1])
            while self._waiting and self._waiting[0][0] <= self._majority:
                heapq.heappop(self._waiting)[2].set()

    def spare(self, follower: str) -> bool:
        """Whether a majority needs nothing from `follower` now: enough others hold more of
        the log than it does. Never while nobody waits for a majority (a lone master)."""
        with self._lock:
            if self.needed == 0:
                return False
            mine = self._held.get(follower, 0)
            return sum(1 for at in self._held.values() if at > mine) >= self.needed

    def holding(self, seq: int) -> int:
        """Replicas, the master included, that hold entry `seq`."""
        with self._lock:
            return 1 + sum(1 for at in self._held.values() if at >= seq)

    def reached(self, seq: int, timeout: float) -> bool:
        """Whether a majority holds entry `seq`, waiting `timeout` seconds at most for it
        (False at once once this master's term ended)."""
        try:
            self.wait(seq, timeout)
        except (errors.Unavailable, errors.Deposed):
            return False
        return True

    def wait(self, seq: int, timeout: float) -> None:
        """Returns once a majority holds entry `seq`; Unavailable after `timeout` seconds,
        Deposed once this master's term ended."""
        with self._lock:
            if self._deposed is not None:
                raise errors.Deposed(self._deposed)
            if self.needed == 0 or seq <= 0 or self._majority >= seq:  # alone, or no entry
                return
            event = threading.Event()
            heapq.heappush(self._waiting, (seq, next(self._tickets), event))
        event.wait(timeout)
        with self._lock:
            if self._deposed is not None:
                raise errors.Deposed(self._deposed)
            if self._majority >= seq:
                return
            self._waiting = [w for w in self._waiting if w[2] is not event]
            heapq.heapify(self._waiting)
        held = self.holding(seq)
        raise errors.Unavailable(
            f"log entry {seq} is on {held} of {self.replicas} master replicas, not a majority, "
            f"after {timeout:g}s: the change is not acknowledged (it may still take effect "
            "once a shadow catches up)"
        )
