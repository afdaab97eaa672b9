"""Admission control: a server's worker threads are few (gRPC's Python server runs each call
on one), so calls that may last long (pushes, reads, followed log streams) get a bounded share
of them and a deadline of the server's own, and no number of slow or endless ones can stop it
from answering the rest (heartbeats, leases, lookups).

Forty pushes that never ended froze a chunkserver while the master still called it alive;
forty followed log streams froze the master until it declared every chunkserver dead.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Iterator

import grpc

from common import errors


class Admission:
    """At most `limit` calls of one kind at once; one more is refused at once (`Busy`, an
    UNAVAILABLE that clients retry, on another replica where there is one), never queued: a
    queued call would hold a worker thread all the same."""

    def __init__(self, what: str, limit: int) -> None:
        self.what = what
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    @contextlib.contextmanager
    def admit(self) -> Iterator[None]:
        if not self._slots.acquire(blocking=False):
            raise errors.Busy(
                f"this server has {self.limit} {self.what} under way already; try again shortly"
            )
        try:
            yield
        finally:
            self._slots.release()


class Deadlines:
    """Cancels calls that outlive the server's own deadline for them, whatever deadline (or
    none) their client gave. One thread for every call."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, grpc.ServicerContext]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def bounded(self, context: grpc.ServicerContext, seconds: float) -> Iterator[None]:
        """The call of `context` is cancelled if it is still running after `seconds`."""
        entry = (time.monotonic() + seconds, next(self._order), context)
        with self._cond:
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="deadlines", daemon=True)
                self._thread.start()
            self._cond.notify()
        try:
            yield
        finally:
            with self._cond:
                if entry in self._heap:
                    self._heap.remove(entry)
                    heapq.heapify(self._heap)

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    _, _, context = heapq.heappop(self._heap)
                    context.cancel()  # type: ignore[no-untyped-call]
                wait = self._heap[0][0] - now if self._heap else None
                self._cond.wait(wait)
