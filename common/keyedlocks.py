"""One lock per key (a chunk handle, say), made on first use and dropped when nobody holds it
or waits for it, so a table of millions of keys stays as small as the keys in use.

The entry counts its users (holders and waiters) under the table's guard: it is dropped only
by the last one to leave, never while a thread waits on it (dropping an awaited lock let that
thread and the next taker of the key, who got a fresh lock, hold "the" lock at once)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass
class _Entry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0


class KeyedLocks(Generic[K]):
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._entries: dict[K, _Entry] = {}

    def _enter(self, key: K) -> _Entry:
        with self._guard:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry()
            entry.users += 1
            return entry

    def _leave(self, key: K, entry: _Entry) -> None:
        with self._guard:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[key]

    @contextlib.contextmanager
    def hold(self, key: K) -> Iterator[None]:
        """Holds `key`'s lock for the block."""
        entry = self._enter(key)
        try:
            with entry.lock:
                yield
        finally:
            self._leave(key, entry)

    @contextlib.contextmanager
    def try_hold(self, key: K) -> Iterator[bool]:
        """Holds `key`'s lock for the block if it is free now; yields whether it got it."""
        entry = self._enter(key)
        try:
            got = entry.lock.acquire(blocking=False)
            try:
                yield got
            finally:
                if got:
                    entry.lock.release()
        finally:
            self._leave(key, entry)

    @contextlib.contextmanager
    def hold_all(self, keys: Iterable[K]) -> Iterator[None]:
        """Holds the locks of all `keys`, taken in sorted order (no deadlock between two
        holders of overlapping sets)."""
        with contextlib.ExitStack() as held:
            for key in sorted(set(keys)):  # type: ignore[type-var]
                held.enter_context(self.hold(key))
            yield

    def __contains__(self, key: object) -> bool:
        """Whether `key` has a lock now (someone holds or awaits it)."""
        with self._guard:
            return key in self._entries

    def __len__(self) -> int:
        with self._guard:
            return len(self._entries)
