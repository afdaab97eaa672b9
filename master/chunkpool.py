"""The pool of new chunks: empty chunks whose replicas the master had made ahead of the files
that will take them, so that a new file's first chunk (a small file's only one) costs no
creation calls while its client waits: the replicas were made in batches, one call a server
for many chunks and one sync of its directory for them all.

A pooled chunk is not in the chunk table: its handle was logged as issued before any replica
was made (no handle is given out twice, across restarts too), and until a file takes it, it is
among the handles reserved (`ChunkControl.busy`), and reports neither judge its replicas nor
ask for them again. Taken, it enters the table with the file's chunk list and its first lease
in one commit, its replicas listed as located. Dropped (a server of its is dead or not roomy
when it would be taken, reports in full as one that started again does, says it lost or found
corrupt the replica, or is drained; or no file took it before this master's term ended), its
replicas are garbage: removed by order, or by the next report that lists them.

`Shelf` is the pool's bookkeeping (pure); `ChunkPool` makes and drops its chunks;
chunkcontrol.py gives a new file one (`ChunkControl._from_pool`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from typing import NamedTuple

from common import errors, limits
from common.logformat import fields
from master import namespace, placement
from master.calls import ChunkserverCalls
from master.chunkservers import ANY_VERSION, Removal
from master.metadata import Metadata

log = logging.getLogger(__name__)


class Pooled(NamedTuple):
    handle: int
    servers: tuple[str, ...]  # each acknowledged its empty replica


class Shelf:
    """The chunks ready in the pool, for each replication, and what refilling it takes."""

    def __init__(self, size: int, most: int = 0) -> None:
        """`size`: chunks kept ready for each replication asked for (0: no pool); a replication
        whose pool ran out is kept twice as large from then on, up to `most` (default 16 times
        `size`, at most what one call may make)."""
        self.size = size
        self.most = most or min(16 * size, limits.MAX_CREATED)
        self._target: dict[int, int] = {}  # by replication: its size, grown on misses
        self._ready: dict[int, deque[Pooled]] = {}  # by replication
        self.handles: set[int] = set()  # of the chunks ready
        self.placed: Counter[str] = Counter()  # replicas ready or being made, by server
        self.filling: set[int] = set()  # replications with a batch being made

    def wanted(self, replication: int) -> int:
        """How many chunks of `replication` to make now: none while a batch is being made or
        while more than half the pool is left; else enough to fill it."""
        ready = len(self._ready.get(replication, ()))
        target = self._size(replication)
        if not self.size or replication in self.filling or ready > target // 2:
            return 0
        return target - ready

    def _size(self, replication: int) -> int:
        """The pool's size for `replication`: `size`, doubled each time it ran out."""
        return self._target.get(replication, self.size)

    def add(self, replication: int, made: Iterable[Pooled]) -> None:
        for chunk in made:
            self._ready.setdefault(replication, deque()).append(chunk)
            self.handles.add(chunk.handle)
            self.placed.update(chunk.servers)

    def take(self, replication: int, usable: set[str]) -> tuple[Pooled | None, list[Pooled]]:
        """The oldest chunk of `replication` whose servers are all `usable`, and the chunks
        passed over on the way (a server of theirs is not: they are dropped)."""
        ready = self._ready.get(replication)
        dropped: list[Pooled] = []
        while ready:
            chunk = ready.popleft()
            self._gone(chunk)
            if usable.issuperset(chunk.servers):
                return chunk, dropped
            dropped.append(chunk)
        if ready is not None:  # ran out (not just never filled yet): the demand outpaces
            # the batches (a burst of small files); larger ones keep up, at one call a server.
            self._target[replication] = min(self.most, 2 * self._size(replication))
        return None, dropped

    def drop(self, which: Callable[[Pooled], bool]) -> list[Pooled]:
        """Drops the chunks `which` picks; returns them."""
        dropped: list[Pooled] = []
        for ready in self._ready.values():
            dropped += [c for c in ready if which(c)]
            kept = [c for c in ready if not which(c)]
            ready.clear()
            ready.extend(kept)
        for chunk in dropped:
            self._gone(chunk)
        return dropped

    def ready(self) -> list[Pooled]:
        return [c for ready in self._ready.values() for c in ready]

    def _gone(self, chunk: Pooled) -> None:
        self.handles.discard(chunk.handle)
        self.placed.subtract(chunk.servers)


class ChunkPool:
    def __init__(
        self,
        meta: Metadata,
        calls: ChunkserverCalls,
        fanout: Executor,
        jobs: Executor | None,
        reserve: Callable[[int], int],
        release: Callable[[Iterable[int]], None],
        pending: Callable[[float], list[placement.Candidate]],
    ) -> None:
        """`jobs` makes the chunks in the background (None: no pool). `reserve(count)` and
        `release(handles)` are ChunkControl's handle reservations (a pooled chunk's handle is
        reserved until a file takes it or it is dropped); `pending(now)` the live servers with
        room, with the replicas being made and those in the pool counted among their chunks."""
        self.meta = meta
        self.calls = calls
        self.fanout = fanout  # runs RPCs only
        self.jobs = jobs
        self.reserve = reserve
        self.release = release
        self.pending = pending
        self.shelf = Shelf(meta.config.chunk_pool if jobs is not None else 0)  # under meta.core

    @property
    def handles(self) -> set[int]:
        """Of the chunks ready (the caller holds `meta.core`)."""
        return self.shelf.handles

    def take(self, replication: int, roomy: list[placement.Candidate]) -> Pooled | None:
        """A chunk of `replication` whose servers are all among `roomy` (its handle still
        reserved: the caller releases it once the chunk is in the table), or None; the pool is
        refilled in the background when low."""
        with self.meta.core:
            taken, dropped = self.shelf.take(replication, {c.address for c in roomy})
        self.drop(dropped)
        if len(roomy) >= replication:
            self._refill(replication)
        return taken

    def drop(self, dropped: list[Pooled]) -> None:
        """Chunks leave the pool unused: their replicas are garbage, ordered removed."""
        if not dropped:
            return
        self.release(c.handle for c in dropped)
        with self.meta.core:
            for handle, servers in dropped:
                for address in servers:
                    self.meta.servers.order_removal(address, Removal(handle, ANY_VERSION))
        log.info("%d new chunks left the pool unused: their replicas go", len(dropped))

    def unpool(self, address: str) -> None:
        """The pool's chunks with a replica on `address` go (it started again, and may have
        come back without them; or it is being drained)."""
        with self.meta.core:
            dropped = self.shelf.drop(lambda c: address in c.servers)
        self.drop(dropped)

    def lost(self, address: str, handles: set[int]) -> None:
        """`address` says it lost, no longer has or found corrupt `handles` (a failed disk):
        the pool's chunks among them go."""
        with self.meta.core:
            dropped = self.shelf.drop(lambda c: c.handle in handles and address in c.servers)
        self.drop(dropped)

    def _refill(self, replication: int) -> None:
        with self.meta.core:
            wanted = self.shelf.wanted(replication)
            if wanted:
                self.shelf.filling.add(replication)
        if wanted and self.jobs is not None:
            self.jobs.submit(self._fill, replication, wanted)

    def _fill(self, replication: int, count: int) -> None:
        """`make` on a background job: whatever becomes of it is logged."""
        made: list[Pooled] = []
        try:
            made = self.make(replication, count)
        except errors.GfsError as err:
            log.warning("no new chunks made for the pool: %s", err)
        except Exception:
            log.exception("making new chunks for the pool failed")
        finally:
            with self.meta.core:
                self.shelf.add(replication, made)
                self.shelf.filling.discard(replication)
        if made:
            log.info(
                "%d new chunks of replication %d made ahead for the pool (handles %d-%d)",
                len(made),
                replication,
                made[0].handle,
                made[-1].handle,
                extra=fields("chunk_pool_filled", replication=replication, chunks=len(made)),
            )

    def make(self, replication: int, count: int) -> list[Pooled]:
        """Makes up to `count` new chunks of `replication` and returns them: their handles
        issued (logged) first, then each server asked once for all of its replicas. A chunk is
        returned only if every server chosen for it acknowledged its replica; the others'
        replicas are ordered removed and their handles released."""
        meta = self.meta
        first = self.reserve(count)
        handles = range(first, first + count)
        chosen: dict[int, list[str]] = {}
        acked: set[str] = set()
        made: list[Pooled] = []
        try:
            meta.commit(namespace.issue_handles(first + count))
            with meta.core:
                chosen = self._place(handles, replication)
                by_server: defaultdict[str, list[int]] = defaultdict(list)
                for handle, servers in chosen.items():
                    for address in servers:
                        by_server[address].append(handle)
                making = Counter({a: len(hs) for a, hs in by_server.items()})
                self.shelf.placed.update(making)

            def create(address: str) -> str | None:
                try:
                    self.calls.create_replicas(address, by_server[address], namespace.NEW_VERSION)
                    return address
                except errors.GfsError as err:
                    log.warning("%s made no new chunks for the pool: %s", address, err)
                    return None

            try:
                acked = {a for a in self.fanout.map(create, list(by_server)) if a is not None}
            finally:
                with meta.core:  # counted again once they are on the shelf
                    self.shelf.placed.subtract(making)
            made = [Pooled(h, tuple(s)) for h, s in chosen.items() if acked.issuperset(s)]
            return made
        finally:
            kept = {c.handle for c in made}
            self.release(h for h in handles if h not in kept)
            with meta.core:
                for handle, servers in chosen.items():
                    if handle not in kept:
                        for address in acked.intersection(servers):
                            meta.servers.order_removal(address, Removal(handle, ANY_VERSION))

    def _place(self, handles: Iterable[int], replication: int) -> dict[int, list[str]]:
        """Servers for each new chunk, each chunk counted as placed before the next is (the
        caller holds `meta.core`); stops where too few servers are left."""
        pending = {c.address: c for c in self.pending(self.meta.clock())}
        chosen: dict[int, list[str]] = {}
        for handle in handles:
            servers = placement.choose(pending.values(), replication)
            if len(servers) < replication:
                break
            chosen[handle] = servers
            for address in servers:
                c = pending[address]
                pending[address] = dataclasses.replace(c, chunks=c.chunks + 1)
        return chosen
