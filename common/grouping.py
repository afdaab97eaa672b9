"""Group commit: callers that each hand in one item and wait for its result, where carrying
out many items at once costs about what one does (a sync, a round trip).

There is no worker thread: the first caller of a key leads, carrying out everything queued
under that key (its own item included) in one call, then hands the lead to the first caller
that queued meanwhile, so nobody waits for more than the batch in front of its own. Items of
different keys never share a batch, and their batches may run at the same time.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable, Sequence
from contextlib import AbstractContextManager
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
    exception it raises is every item's. `hold(key)`, if given, is entered by a leader before
    it takes its batch (a lock the batch needs: whoever queues while the leader waits for it
    joins the batch) and left after `carry_out`; `then(key, items, results)`, if given, runs
    after that, outside it and while the next batch may already be carried out, and returns
    the results the callers get."""

    def __init__(
        self,
        carry_out: Callable[[K, list[T]], Sequence[R | BaseException]],
        hold: Callable[[K], AbstractContextManager[object]] | None = None,
        then: Callable[[K, list[T], list[R | BaseException]], list[R | BaseException]]
        | None = None,
    ) -> None:
        self._carry_out = carry_out
        self._then = then
        self._hold = hold or (lambda _: contextlib.nullcontext())
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
            batch = [waiting]
            results: list[R | BaseException] = []
            try:
                with self._hold(key):
                    with self._lock:
                        batch += self._queues[key]
                        self._queues[key] = []
                    results = self._run(key, [w.item for w in batch])
            except Exception as err:
                results = [err] * len(batch)
            self._hand_on(key)  # the next batch need not wait for `then`
            try:
                if self._then is not None:
                    results = self._then(key, [w.item for w in batch], results)
            except Exception as err:
                results = [err] * len(batch)
            finally:  # nobody is left waiting, whatever failed
                results += [RuntimeError("not carried out")] * (len(batch) - len(results))
                for other, result in zip(batch, results, strict=True):
                    other.result, other.done = result, True
                    other.wake.set()
        if isinstance(waiting.result, BaseException):
            raise waiting.result
        return waiting.result  # type: ignore[return-value]

    def _hand_on(self, key: K) -> None:
        """Makes the first caller queued behind the batch just carried out the next leader,
        rather than keep it waiting for this one's callers to be answered."""
        with self._lock:
            queue = self._queues[key]
            if queue:
                successor = queue.pop(0)
                successor.lead = True
                successor.wake.set()
            else:
                del self._queues[key]

    def queued(self, key: K) -> int:
        """How many callers of `key` wait for the batch after the one being carried out."""
        with self._lock:
            return len(self._queues.get(key, ()))

    def _run(self, key: K, items: list[T]) -> list[R | BaseException]:
        try:
            results = list(self._carry_out(key, items))
            if len(results) != len(items):
                raise RuntimeError(f"{len(results)} results for {len(items)} items")
        except Exception as err:
            results = [err] * len(items)
        return results
