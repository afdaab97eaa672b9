"""The client's cache of chunk locations, with a bound on staleness (time passed in)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from client.models import ChunkInfo


@dataclass
class LocationCache:
    max_age: float
    _items: dict[tuple[str, int], tuple[ChunkInfo, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, path: str, index: int, now: float) -> ChunkInfo | None:
        with self._lock:
            item = self._items.get((path, index))
            if item is None or now - item[1] >= self.max_age:
                return None
            return item[0]

    def put(self, path: str, info: ChunkInfo, now: float) -> None:
        with self._lock:
            self._items[(path, info.index)] = (info, now)

    def forget(self, path: str, index: int | None = None) -> None:
        with self._lock:
            if index is not None:
                self._items.pop((path, index), None)
            else:
                for key in [k for k in self._items if k[0] == path]:
                    del self._items[key]
