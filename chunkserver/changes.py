"""Which replicas changed since the master last took a report of them, for incremental reports.

A change is marked, not described: a report lists each changed replica as it is when the report
is made (or as gone), so marking twice, or a change landing while a report is being made, can
only list a replica once more than needed, never miss one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable


class Changes:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._marked: set[int] = set()

    def mark(self, handle: int) -> None:
        with self._lock:
            self._marked.add(handle)

    def mark_all(self, handles: Iterable[int]) -> None:
        with self._lock:
            self._marked.update(handles)

    def take(self) -> set[int]:
        """The replicas marked since the last call (the caller reports them, or gives them
        back with `mark_all` if the report did not reach the master)."""
        with self._lock:
            taken, self._marked = self._marked, set()
        return taken
