"""Group commit: callers that each hand in one item and wait for its result, where carrying
out many items at once costs about what one does (a sync, a round trip).

There is no worker thread: the first caller of a key leads, carrying out everything queued
under that key (its own item included) in one call, then hands the lead to the first caller
that queued meanwhile, so nobody waits for more than the batch in front of its own. Items of
different keys never share a batch, and their batches may run at the same time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Waiting(Generic[T]):
    item: T
    wake: threading.Event = field(default_factory=threading.Event)  # done, or made leader
    lead: bool = False
    done: bool = False
    result: object = None


class Groups(Generic[K, T, R]):
    """`carry_out(key, items)` returns a result or an exception for each item, in order; an
    exception it raises is every item's."""

    def __init__(self, carry_out: Callable[[K, list[T]], Sequence[R | BaseException]]) -> None:
        self._carry_out = carry_out
        self._lock = threading.Lock()
        self._queues: dict[K, list[_Waiting[T]]] = {}  # a key is here while someone leads it
        self.closed = False

    def submit(self, key: K, item: T) -> R:
        """`item`'s result, once a batch that holds it was carried out (raises its exception)."""
        waiting: _Waiting[T] = _Waiting(item)
        with self._lock:
            if self.closed:
                raise RuntimeError("closed")
            queue = self._queues.get(key)
            if queue is None:
                self._queues[key] = []
                waiting.lead = True
            else:
                queue.append(waiting)
        if not waiting.lead:
            waiting.wake.wait()
        if not waiting.done:  # leading: this item, and whatever queued behind the last batch
            with self._lock:
                batch = [waiting, *self._queues[key]]
                self._queues[key] = []
            self._run(key, batch)
            with self._lock:
                queue = self._queues[key]
                if queue:  # hand the lead on rather than keep this caller waiting
                    successor = queue.pop(0)
                    successor.lead = True
                    successor.wake.set()
                else:
                    del self._queues[key]
        if isinstance(waiting.result, BaseException):
            raise waiting.result
        return waiting.result  # type: ignore[return-value]

    def queued(self, key: K) -> int:
        """How many callers of `key` wait for the batch after the one being carried out."""
        with self._lock:
            return len(self._queues.get(key, ()))

    def _run(self, key: K, batch: list[_Waiting[T]]) -> None:
        try:
            results: Sequence[object] = self._carry_out(key, [w.item for w in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for {len(batch)} items")
        except Exception as err:
            results = [err] * len(batch)
        for waiting, result in zip(batch, results, strict=True):
            waiting.result, waiting.done = result, True
            waiting.wake.set()
