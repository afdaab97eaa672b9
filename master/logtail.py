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
        """Up to `limit` entries after `since`, oldest first; None if the tail is empty or does
        not reach back to `since` (the store answers). Nothing past its newest entry is
        nothing past the store's either: every entry the store writes is added here before
        anyone is told of it (a follower that has read everything asks again at once, and
        must not wait for the store's lock through a group commit)."""
        with self._lock:
            if not self._entries:
                return None
            first, last = self._entries[0].seq, self._entries[-1].seq
            if since >= last:
                return []
            if since + 1 < first:
                return None
            start = since + 1 - first
            return list(itertools.islice(self._entries, start, start + limit))
