"""Replica health of the whole namespace, for the status pages and /metrics: a pass over every
file and chunk, made in the background when a reader finds the last one older than a refresh;
readers are answered at once (at most a refresh stale) and the pass runs only while someone
looks."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass

from master.health import CLASSES, classify, corrupt_chunks
from master.metadata import Metadata

REFRESH = 5.0  # seconds a snapshot serves before a reader asks for the next
BATCH = 5000  # chunks judged per hold of the core lock


@dataclass(frozen=True)
class Health:
    at: float  # monotonic; 0: not computed yet
    counts: dict[str, int]  # fsck's, of everything
    short: dict[int, int]  # live replicas -> chunks with that many, below the target
    reported: int = 0  # chunks with a live replica of their current version (or never written)
    took: float = 0.0  # seconds the pass took


class HealthSnapshot:
    def __init__(self, meta: Metadata) -> None:
        self.meta = meta
        self._latest = Health(0.0, {}, {})
        self._lock = threading.Lock()
        self._running = False

    def latest(self) -> Health:
        with self._lock:
            due = not self._running and time.monotonic() - self._latest.at > REFRESH
            self._running = self._running or due
        if due:
            if self._latest.at == 0.0:
                self._compute()  # the very first page waits for it
            else:
                threading.Thread(target=self._compute, name="page-health", daemon=True).start()
        return self._latest

    def _compute(self) -> None:
        started = time.monotonic()
        try:
            self._latest = self._pass(started)
        finally:
            with self._lock:
                self._running = False

    def _pass(self, started: float) -> Health:
        """Which chunks files hold, in one walk of the namespace; then every chunk's live
        replicas, BATCH chunks per hold of the core lock, so metadata operations wait at most
        one batch (the figures are a sum over moments a few milliseconds apart, as any
        monitoring figure is)."""
        meta, default = self.meta, self.meta.config.replication
        with meta.core:
            files = sum(1 for n in meta.state.nodes.values() if not n.is_dir)
            in_files = {h for n in meta.state.nodes.values() for h in n.chunks}
            handles = list(meta.state.chunks)
        counts = Counter(dict.fromkeys(CLASSES, 0))
        short: Counter[int] = Counter()
        reported = 0
        for start in range(0, len(handles), BATCH):
            with meta.core:
                now, corrupt = meta.clock(), corrupt_chunks(meta.servers)
                stale = Counter(h for s in meta.servers.servers.values() for h in s.stale)
                for handle in handles[start : start + BATCH]:
                    chunk = meta.state.chunks.get(handle)
                    if chunk is None:
                        continue  # deleted meanwhile
                    live = len(meta.servers.replicas(handle, now))
                    reported += bool(live or chunk.never_written)
                    if live < chunk.target(default):
                        short[live] += 1
                    if handle in in_files:
                        kind = classify(live, chunk.target(default), handle in corrupt)
                        counts.update([kind] if kind else [])
                        counts["corrupt"] += handle in corrupt
                        counts["stale_replicas"] += stale[handle]
        counts.update(files=files, chunks=len(in_files))
        done = time.monotonic()
        return Health(done, dict(counts), dict(short), reported, done - started)
