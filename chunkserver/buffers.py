"""Pushed data waiting for its write, keyed by data id, with an age limit and a size limit
(time passed in)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from client import errors


@dataclass
class DataBuffers:
    ttl: float
    limit: int
    _items: dict[str, tuple[bytes, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    held: int = 0

    def reserve(self, size: int, now: float) -> None:
        """Fails if `size` more bytes would pass the limit (after dropping expired data)."""
        with self._lock:
            self._expire(now)
            if self.held + size > self.limit:
                raise errors.ResourceExhausted(
                    f"push buffers full ({self.held} of {self.limit} bytes held); try again"
                )

    def put(self, data_id: str, data: bytes, now: float) -> None:
        with self._lock:
            self._expire(now)
            old = self._items.pop(data_id, None)
            if old is not None:
                self.held -= len(old[0])
            self._items[data_id] = (data, now)
            self.held += len(data)

    def get(self, data_id: str) -> bytes:
        with self._lock:
            item = self._items.get(data_id)
        if item is None:
            raise errors.Aborted(f"no pushed data with id {data_id}; push it again")
        return item[0]

    def drop(self, data_id: str) -> None:
        with self._lock:
            item = self._items.pop(data_id, None)
            if item is not None:
                self.held -= len(item[0])

    def _expire(self, now: float) -> None:
        for data_id, (data, at) in list(self._items.items()):
            if now - at >= self.ttl:
                del self._items[data_id]
                self.held -= len(data)
