"""Per-path reader/writer locks, as GFS section 4.1 describes.

An operation on /d1/d2/leaf takes read locks on /d1 and /d1/d2 and a read or write lock on the
leaf. Creating /d/x and /d/y at once is allowed (both only read-lock /d); deleting /d while
something is created inside it is not (write vs read on /d).

The holders of every path are counted under one lock, and an operation takes all its paths at
once, when none of them is held against it: it never holds some while it waits for others, so
two operations never wait for each other in a cycle. A path nobody holds has no entry, and
taking a free path costs a dictionary update (a stat takes two).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator

from common import paths


class PathLocks:
    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._readers: dict[str, int] = {}  # path -> how many hold it for reading
        self._writers: set[str] = set()
        self._waiting = 0

    def _free(self, wanted: dict[str, bool]) -> bool:
        return not any(
            path in self._writers or (write and path in self._readers)
            for path, write in wanted.items()
        )

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
        with self._changed:
            if not self._free(wanted):
                self._waiting += 1
                try:
                    self._changed.wait_for(lambda: self._free(wanted))
                finally:
                    self._waiting -= 1
            for path, writing in wanted.items():
                if writing:
                    self._writers.add(path)
                else:
                    self._readers[path] = self._readers.get(path, 0) + 1
        try:
            yield
        finally:
            with self._changed:
                for path, writing in wanted.items():
                    if writing:
                        self._writers.discard(path)
                    elif self._readers[path] == 1:
                        del self._readers[path]
                    else:
                        self._readers[path] -= 1
                if self._waiting:
                    self._changed.notify_all()
