"""Group commit: callers that each hand in one item and wait for its result, where carrying
out many items at once costs about what one does (a sync, a round trip).

There is no worker thread: the first caller of a key leads, carrying out everything queued
under that key (its own item included) in one call, then hands the lead to the first caller
that queued meanwhile, so nobody waits for more than the batch in front of its own. Items of
different keys never share a batch, and their batches may run at the same time.

Callers that are the same few threads asking one thing after another (a client's worker
threads) would split into a batch of one and a batch of the rest: the thread that led a batch
is answered first and comes back at once, alone, while the others are still waking. With a
`linger`, a leader first waits (at most that long) until every thread the key's last batch
answered has come back, so they go together again; a thread that does not come back costs the
leader the linger once. A thread alone never waits for itself.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from contextlib import AbstractContextManager
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")


class _Waiting(Generic[T]):
    """A caller's item. `wake` is a lock taken from the start and let go once, when the item
    is done or its caller is made leader: the cheapest wake-up Python has (an Event is a
    Condition, a Lock and a waiter's Lock each time, a sixth of a client's CPU for a stat)."""

    __slots__ = ("done", "item", "lead", "result", "thread", "wake")

    def __init__(self, item: T) -> None:
        self.item = item
        self.thread = threading.get_ident()
        self.wake = threading.Lock()
        self.wake.acquire()
        self.lead = False
        self.done = False
        self.result: object = None


class Groups(Generic[K, T, R]):
    """`carry_out(key, items)` returns a result or an exception for each item, in order; an
    exception it raises is every item's. `hold(key)`, if given, is entered by a leader before
    it takes its batch (a lock the batch needs: whoever queues while the leader waits for it
    joins the batch) and left after `carry_out`; `then(key, items, results)`, if given, runs
    after that, outside it and while the next batch may already be carried out, and returns
    the results the callers get. `linger`: seconds a leader waits for the threads the last
    batch answered (0: none; for callers on a server's pool of threads, who are not the same
    few, it would only delay)."""

    def __init__(
        self,
        carry_out: Callable[[K, list[T]], Sequence[R | BaseException]],
        hold: Callable[[K], AbstractContextManager[object]] | None = None,
        then: Callable[[K, list[T], list[R | BaseException]], list[R | BaseException]]
        | None = None,
        linger: float = 0.0,
    ) -> None:
        self._carry_out = carry_out
        self._linger = linger
        self._then = then
        self._hold = hold or (lambda _: contextlib.nullcontext())
        self._lock = threading.Lock()
        self._queues: dict[K, list[_Waiting[T]]] = {}  # a key is here while someone leads it
        self._arrived = threading.Condition(self._lock)
        # The threads a key's last batch answered that have not handed in an item since.
        self._away: dict[K, set[int]] = {}
        self.closed = False

    def submit(self, key: K, item: T) -> R:
        """`item`'s result, once a batch that holds it was carried out (raises its exception)."""
        waiting: _Waiting[T] = _Waiting(item)
        with self._lock:
            if self.closed:
                raise RuntimeError("closed")
            self._back(key, waiting.thread)
            queue = self._queues.get(key)
            if queue is None:
                self._queues[key] = []
                waiting.lead = True
            else:
                queue.append(waiting)
        if not waiting.lead:
            waiting.wake.acquire()
        if not waiting.done:  # leading: this item, and whatever queued behind the last batch
            batch = [waiting]
            results: list[R | BaseException] = []
            if self._linger:
                self._wait_for_the_away(key)
            try:
                with self._hold(key):
                    with self._lock:
                        batch += self._queues[key]
                        self._queues[key] = []
                    results = self._run(key, [w.item for w in batch])
            except Exception as err:
                results = [err] * len(batch)
            self._hand_on(key, batch)  # the next batch need not wait for `then`
            try:
                if self._then is not None:
                    results = self._then(key, [w.item for w in batch], results)
            except Exception as err:
                results = [err] * len(batch)
            finally:  # nobody is left waiting, whatever failed
                results += [RuntimeError("not carried out")] * (len(batch) - len(results))
                for other, result in zip(batch, results, strict=True):
                    other.result, other.done = result, True
                    if other is not waiting:  # the leader is awake
                        other.wake.release()
        if isinstance(waiting.result, BaseException):
            raise waiting.result
        return waiting.result  # type: ignore[return-value]

    def _back(self, key: K, thread: int) -> None:
        """Notes that `thread` handed in an item again (the caller holds `_lock`)."""
        away = self._away.get(key)
        if away is not None and thread in away:
            away.discard(thread)
            if not away:
                del self._away[key]
                self._arrived.notify_all()

    def _wait_for_the_away(self, key: K) -> None:
        """Waits, at most `linger` seconds, until every other thread the last batch answered
        has handed in its next item (a thread that asks one thing after another comes back at
        once, and would otherwise lead a batch of one while the rest queue behind it)."""
        deadline = time.monotonic() + self._linger
        with self._lock:
            while key in self._away:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._away.pop(key, None)
                    return
                self._arrived.wait(left)

    def _hand_on(self, key: K, batch: list[_Waiting[T]]) -> None:
        """Makes the first caller queued behind the batch just carried out the next leader,
        rather than keep it waiting for this one's callers to be answered (with a linger, it
        waits for them to come back)."""
        with self._lock:
            if self._linger:
                self._away[key] = {w.thread for w in batch}
            queue = self._queues[key]
            if queue:
                successor = queue.pop(0)
                successor.lead = True
                successor.wake.release()
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
