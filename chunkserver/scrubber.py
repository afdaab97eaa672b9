"""The background scrubber (GFS section 5.2: "during idle periods, chunkservers can scan and
verify the contents of inactive chunks"): verifies every block of idle replicas at a bounded
rate, so corruption in data nobody reads is found and reported before it is the last copy."""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass, field

from chunkserver.metrics import SCRUBBED_BYTES, SCRUBBED_REPLICAS
from chunkserver.storage import ChunkStore, CorruptReplica
from common import errors
from common.logformat import fields
from common.loops import Background

log = logging.getLogger(__name__)


@dataclass
class ScrubSchedule:
    """What to verify next, from when each replica was last verified and last written
    (time passed in)."""

    period: float  # a replica is verified at most once per period
    idle: float  # and only when it has not been written for this long
    verified: dict[int, float] = field(default_factory=dict)

    def next(self, written: dict[int, float], now: float) -> int | None:
        due = [
            h
            for h, at in written.items()
            if now - at >= self.idle and now - self.verified.get(h, -1e18) >= self.period
        ]
        return min(due, key=lambda h: (self.verified.get(h, -1e18), h)) if due else None

    def done(self, handle: int, now: float) -> None:
        self.verified[handle] = now


@dataclass(frozen=True)
class Finding:
    at: float  # wall clock
    handle: int
    problem: str


class Scrubber(Background):
    def __init__(self, store: ChunkStore, period: float, idle: float, rate: int) -> None:
        super().__init__("scrubber", self._round, lambda: 0.0, log)
        self.store = store
        self.findings: collections.deque[Finding] = collections.deque(maxlen=100)  # newest last
        self.schedule = ScrubSchedule(period, idle)
        self.rate = max(1, rate)  # bytes per second

    def _round(self) -> float:
        """Verifies the replica most due, if any; returns how long to wait before the next."""
        handle = self.schedule.next(self.store.written_at(), time.monotonic())
        if handle is None:
            return min(1.0, self.schedule.period)
        self.verify(handle)
        self.schedule.done(handle, time.monotonic())
        return 0.0

    def verify(self, handle: int) -> bool:
        """Reads every block of the replica at the bounded rate; False if it is corrupt."""
        meta = self.store.metas.get(handle)
        if meta is None or handle in self.store.corrupt:
            return meta is not None and handle not in self.store.corrupt
        started = time.monotonic()
        done = 0
        try:
            for piece in self.store.read(handle, meta.version, 0, meta.length, piece=1 << 20):
                done += len(piece)
                SCRUBBED_BYTES.inc(len(piece))
                ahead = done / self.rate - (time.monotonic() - started)
                if ahead > 0 and self.stopping.wait(ahead):
                    return True
        except CorruptReplica as err:
            self.findings.append(Finding(time.time(), handle, str(err)))
            log.warning(
                "scrubber: %s",
                err,
                extra=fields("replica_corrupt", handle=handle, found_by="scrub"),
            )
            return False
        except errors.GfsError:
            return True  # deleted or upgraded meanwhile: nothing to judge
        SCRUBBED_REPLICAS.inc()
        return True
