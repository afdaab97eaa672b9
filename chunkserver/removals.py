"""The replicas the master asked this server to remove (GFS section 4.4: garbage is named in
heartbeat replies and each chunkserver removes it at its own pace), removed by a thread of
their own: removing a thousand replicas on a busy disk took the heartbeat loop long enough
that the master declared the server dead."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from chunkserver.storage import ChunkStore
from common.logformat import fields
from common.loops import Background

log = logging.getLogger(__name__)


class Removals(Background):
    def __init__(self, store: ChunkStore, interval: float) -> None:
        super().__init__("removals", self._round, lambda: interval, log)
        self.store = store
        self._lock = threading.Lock()
        self._asked: dict[int, int] = {}  # handle -> the newest max_version asked, not yet done

    def ask(self, removals: Iterable[tuple[int, int]]) -> None:
        """Queues each (handle, max_version): the replica goes if its version is at most
        max_version when its turn comes. A repeat (each heartbeat names what is still here)
        replaces the earlier ask."""
        with self._lock:
            self._asked.update(removals)

    def queued(self) -> list[tuple[int, int]]:
        """The (handle, max_version) asked for and not yet done."""
        with self._lock:
            return sorted(self._asked.items())

    def _round(self) -> None:
        with self._lock:
            batch, self._asked = self._asked, {}
        if not batch:
            return
        for handle in self.store.delete_many(batch.items()):
            log.info(
                "removed replica of chunk %d as the master asked",
                handle,
                extra=fields("replica_removed", handle=handle),
            )
