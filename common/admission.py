"""Admission control: a server's worker threads are few (gRPC's Python server runs each call
on one), so calls that may last long (pushes, reads, followed log streams) get a bounded share
of them and a deadline of the server's own, and no number of slow or endless ones can stop it
from answering the rest (heartbeats, leases, lookups).

Forty pushes that never ended froze a chunkserver while the master still called it alive;
forty followed log streams froze the master until it declared every chunkserver dead.

Besides the limit per kind, `Shares` gives every server two more bounds, checked before any
servicer runs: one client (a certificate's name; on an insecure server, one connection) has
at most `per_client` calls under way, and all calls together leave `reserved` workers free
for the calls that keep the cluster alive (heartbeats and the master's orders), which are
never refused.
"""

from __future__ import annotations

import collections
import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from common import errors, tls, transport
from common.interceptors import Behaviour, Wrapping


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


class _Share:
    """One call under way: its client, once that had to be known."""

    __slots__ = ("client", "context")

    def __init__(self, context: grpc.ServicerContext) -> None:
        self.context = context
        self.client: str | None = None


def _client_of(context: grpc.ServicerContext) -> str:
    """A certificate's name; on an insecure server, the connection. Asking gRPC for the
    connection (`context.peer()`) lets go of the GIL twice and takes it back behind whatever
    else runs: 7 us at the median, 80 on average, ~10% of a small call's server CPU."""
    who = tls.peer(context)
    if who is not None:
        return who.name
    try:
        return context.peer()
    except Exception:  # a call gone meanwhile: it is counted, against nobody in particular
        return "?"


class Shares(Wrapping):
    """Bounds on the calls under way, per client and in all, except for `vital` methods.

    While fewer than `per_client` calls are under way no client can have its share, so a call
    is admitted without asking who makes it; once that many are, the new call's client and
    that of every call admitted unnamed are asked, once each, and counted as before."""

    def __init__(self, workers: int, reserved: int, per_client: int, vital: frozenset[str]):
        self.limit = max(1, workers - reserved)
        self.per_client = max(1, per_client)
        self.vital = vital  # full method names
        self._lock = threading.Lock()
        self._total = 0
        self._by_client: collections.Counter[str] = collections.Counter()
        self._unnamed: set[_Share] = set()

    def _enter(self, context: grpc.ServicerContext) -> _Share:
        share = _Share(context)
        with self._lock:
            self._within_the_limit()
            if self._total < self.per_client:
                self._total += 1
                self._unnamed.add(share)
                return share
        client = _client_of(context)
        with self._lock:
            for other in self._unnamed:  # rare: the first time a server is this busy
                other.client = _client_of(other.context)
                self._by_client[other.client] += 1
            self._unnamed.clear()
            if self._by_client[client] >= self.per_client:
                raise errors.Busy(
                    f"this client has {self.per_client} calls under way on this server already; "
                    "try again shortly"
                )
            self._within_the_limit()
            self._total += 1
            self._by_client[client] += 1
            share.client = client
            return share

    def _within_the_limit(self) -> None:
        """Raises Busy if the server has all the calls it takes under way (`_lock` held)."""
        if self._total >= self.limit:
            raise errors.Busy(
                f"this server has {self.limit} calls under way already; try again shortly"
            )

    def _leave(self, share: _Share) -> None:
        with self._lock:
            self._total -= 1
            if share.client is None:
                self._unnamed.discard(share)
                return
            self._by_client[share.client] -= 1
            if not self._by_client[share.client]:
                del self._by_client[share.client]

    def wrapper(self, method: str) -> Callable[[Behaviour], Behaviour] | None:
        if method in self.vital:
            return None

        def shared(behaviour: Behaviour) -> Behaviour:
            def call(request: Any, context: grpc.ServicerContext) -> Any:
                try:
                    share = self._enter(context)
                except errors.Busy as busy:
                    transport.abort(context, busy)
                try:
                    result = behaviour(request, context)
                except BaseException:
                    self._leave(share)
                    raise
                if isinstance(result, Iterator):
                    return self._streaming(result, share)
                self._leave(share)
                return result

            return call

        return shared

    def _streaming(self, items: Iterator[Any], share: _Share) -> Iterator[Any]:
        """A response stream holds its client's share until it ends."""
        try:
            yield from items
        finally:
            self._leave(share)
