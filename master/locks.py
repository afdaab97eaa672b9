"""Per-path reader/writer locks, as GFS section 4.1 describes.

An operation on /d1/d2/leaf takes read locks on /d1 and /d1/d2 and a read or write lock on the
leaf. Creating /d/x and /d/y at once is allowed (both only read-lock /d); deleting /d while
something is created inside it is not (write vs read on /d). Locks are taken in sorted path
order, so two operations never wait for each other in a cycle.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator

from common import paths


class _RWLock:
    def __init__(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.readers = 0
        self.writer = False
        self.users = 0  # holders and waiters; the entry is dropped when none are left

    def acquire(self, write: bool) -> None:
        with self.cond:
            if write:
                self.cond.wait_for(lambda: not self.writer and self.readers == 0)
                self.writer = True
            else:
                self.cond.wait_for(lambda: not self.writer)
                self.readers += 1

    def release(self, write: bool) -> None:
        with self.cond:
            if write:
                self.writer = False
            else:
                self.readers -= 1
            self.cond.notify_all()


class PathLocks:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, _RWLock] = {}

    def _enter(self, path: str) -> _RWLock:
        with self._guard:
            lock = self._locks.get(path)
            if lock is None:  # not setdefault: that built a lock (and its condition) every call
                lock = self._locks[path] = _RWLock()
            lock.users += 1
            return lock

    def _leave(self, path: str, lock: _RWLock) -> None:
        with self._guard:
            lock.users -= 1
            if lock.users == 0:
                del self._locks[path]

    @contextlib.contextmanager
    def hold(self, read: Iterable[str] = (), write: Iterable[str] = ()) -> Iterator[None]:
        """Read-locks every ancestor of the given paths and the `read` paths themselves,
        write-locks the `write` paths."""
        wanted: dict[str, bool] = {}
        for path in [*read, *write]:
            for ancestor in paths.ancestors(path):
                wanted.setdefault(ancestor, False)
        for path in read:
            wanted.setdefault(path, False)
        for path in write:
            wanted[path] = True
        held: list[tuple[str, _RWLock, bool]] = []
        try:
            for path in sorted(wanted):
                lock = self._enter(path)
                try:
                    lock.acquire(wanted[path])
                except BaseException:
                    self._leave(path, lock)
                    raise
                held.append((path, lock, wanted[path]))
            yield
        finally:
            for path, lock, write_mode in reversed(held):
                lock.release(write_mode)
                self._leave(path, lock)
