"""The newest durable op-log entries, kept in memory as well: a follower's stream reads them
without waiting on the store's lock, which a group commit holds through its whole transaction
(with a majority needed to answer a change, that wait was on every change's path)."""

from __future__ import annotations

import itertools
import threading
from collections import deque

from master.rows import LogEntry

KEPT = 4096  # entries: a follower further behind reads the store


class LogTail:
    def __init__(self, kept: int = KEPT) -> None:
        self._lock = threading.Lock()
        self._entries: deque[LogEntry] = deque(maxlen=kept)

    def add(self, entries: list[LogEntry]) -> None:
        """Entries just made durable, oldest first. The tail stays an unbroken run: entries
        that do not follow on from it start it again."""
        with self._lock:
            for entry in entries:
                if self._entries and entry.seq != self._entries[-1].seq + 1:
                    self._entries.clear()
                self._entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def after(self, since: int, limit: int) -> list[LogEntry] | None:
        """Up to `limit` entries after `since`, oldest first; None if the tail does not reach
        back to `since` (or holds nothing past it: the store may, written since)."""
        with self._lock:
            if not self._entries:
                return None
            first, last = self._entries[0].seq, self._entries[-1].seq
            if not first <= since + 1 <= last:
                return None
            start = since + 1 - first
            return list(itertools.islice(self._entries, start, start + limit))
