"""Repair and balancing (GFS section 4.3): copies for under-replicated chunks, most urgent
first and throttled per server; removals of surplus and corrupt replicas; moves from the
fullest servers to the emptiest. Decisions come from the pure planners of `replication`; this
module carries them out as background jobs on its own pool."""

from __future__ import annotations

import logging
import math
from collections.abc import Collection
from concurrent.futures import Executor

from common import errors
from common.logformat import fields
from master import replication
from master.chunkcontrol import ChunkControl
from master.chunkservers import Removal
from master.metadata import ChunkView, Metadata
from master.metrics import COPIES, REPAIR_JUDGED
from master.safemode import SafeMode
from master.state import Chunk

log = logging.getLogger(__name__)

# Repair judges the chunks whose replicas or row changed and those it left wanting; and, as a
# safety net, sweeps the whole chunk table once in this long (seconds), a slice each round.
SWEEP = 300.0


def _settled(held: Collection[str], target: int, serving: set[str]) -> bool:
    """Whether a chunk held on `held` needs nothing of repair: exactly its target of replicas,
    every one on a live server in service (`serving`)."""
    return len(held) == target and serving.issuperset(held)


class Repair:
    """Judges and carries out a round of repair, balancing moves, and the copies both start.
    Nothing while in safe mode (`safe_mode`, the one the heartbeats keep)."""

    def __init__(
        self, meta: Metadata, chunks: ChunkControl, jobs: Executor, safe_mode: SafeMode
    ) -> None:
        self.meta = meta
        self.chunks = chunks
        self.config = meta.config
        self.jobs = jobs  # copies and re-creations; their RPC fan-outs use another pool
        self.safe_mode = safe_mode
        # Guarded by meta.core:
        self.cloning: dict[int, replication.Clone] = {}  # copies under way, by chunk
        self._wanted: set[int] = set()  # under-replicated chunks a client asked for
        self._unsettled: set[int] = set()  # chunks repair left wanting: judged again next round
        self._swept_to = 1  # the handle the sweep goes on from
        self._swept_at = float("-inf")  # when it last took a slice

    def wanted(self, view: ChunkView) -> None:
        """A client is waiting on this chunk: copy it sooner if it is under-replicated."""
        with self.meta.core:
            chunk = self.meta.state.chunks.get(view.handle)
            if chunk is not None and len(view.replicas) < chunk.target(self.config.replication):
                self._wanted.add(view.handle)

    def _steady(self) -> dict[int, Chunk]:
        """Chunks repair and balancing may judge by their listed replicas (see
        `ChunkControl.busy`). The caller holds `meta.core`."""
        busy = self.chunks.busy()
        return {h: c for h, c in self.meta.state.chunks.items() if h not in busy}

    def _to_judge(self, now: float) -> dict[int, Chunk]:
        """The steady chunks this round of repair judges: those touched since the last round
        (`Chunkservers.touched`, a changed row), those it left wanting, those a client waits
        on and those with a corrupt replica; and the sweep's next slice. Busy ones are left
        wanting. The caller holds `meta.core`."""
        servers = self.meta.servers
        handles = servers.take_touched() | self._unsettled | self._wanted | self._sweep(now)
        for info in servers.servers.values():
            handles |= info.corrupt
        table, busy = self.meta.state.chunks, self.chunks.busy()
        self._unsettled = handles & busy
        return {h: table[h] for h in handles - busy if h in table}

    def _sweep(self, now: float) -> set[int]:
        """The chunks of the next slice of the table (by handle) that do not look settled:
        not exactly their target of replicas, all on live servers in service. A slice is as
        large a share of the table as the time since the last one is of SWEEP, so the whole
        table is looked at in SWEEP seconds without a round that judges it all (after a
        longer pause, as at start, it all is)."""
        table, end = self.meta.state.chunks, self.meta.state.next_handle
        servers, default = self.meta.servers, self.config.replication
        elapsed, self._swept_at = now - self._swept_at, now
        if elapsed >= SWEEP:
            return set(table)
        start = self._swept_to if self._swept_to < end else 1
        self._swept_to = min(end, start + math.ceil(end * max(elapsed, 0.0) / SWEEP))
        serving = self._serving(now)
        odd = set()
        for handle in range(start, self._swept_to):
            chunk = table.get(handle)
            held = servers.locations.get(handle, ())
            if chunk is not None and not _settled(held, chunk.target(default), serving):
                odd.add(handle)
        return odd

    def _serving(self, now: float) -> set[str]:
        """Live servers not being drained. The caller holds `meta.core`."""
        servers = self.meta.servers
        return {s.address for s in servers.live_servers(now)} - servers.retiring

    def _busy_servers(self) -> dict[str, int]:
        """Copies each server takes part in now. The caller holds `meta.core`."""
        busy: dict[str, int] = {}
        for c in self.cloning.values():
            busy[c.source] = busy.get(c.source, 0) + 1
            busy[c.target] = busy.get(c.target, 0) + 1
        return busy

    def repair(self) -> None:
        """One round of replica management (GFS section 4.3): copies for under-replicated
        chunks, most urgent first and throttled per server; removals of surplus replicas and of
        corrupt ones whose chunk is whole again. Nothing while in safe mode. Judges only the
        chunks that may need something (`_to_judge`), not every chunk each round."""
        meta = self.meta
        now = meta.clock()
        target = self.config.replication
        with meta.core:
            if self.safe_mode.active:
                return
            servers = meta.servers
            chunks = self._to_judge(now)
            REPAIR_JUDGED.inc(len(chunks))
            live = {h: servers.replicas(h, now) for h in chunks}
            racks = {a: s.rack for a, s in servers.servers.items()}
            free = {a: s.free_bytes for a, s in servers.servers.items()}
            self._wanted = {
                h
                for h in self._wanted
                if h in chunks and 0 < len(live.get(h, ())) < chunks[h].target(target)
            }
            clones = replication.plan_clones(
                chunks,
                live,
                servers.candidates(now),
                racks,
                target,
                self.config.chunk_size,
                self._busy_servers(),
                self.config.clone_limit,
                self._wanted,
                self.cloning,
                servers.retiring,
                {(h, a) for a, h in servers.ordered()} | servers.removing.keys(),
            )
            for clone in clones:
                self.cloning[clone.handle] = clone
                log.info(
                    "copying chunk %d (%d live) from %s to %s",
                    clone.handle,
                    len(live[clone.handle]),
                    clone.source,
                    clone.target,
                    extra=fields(
                        "copy_started",
                        handle=clone.handle,
                        source=clone.source,
                        address=clone.target,
                    ),
                )
            empty = [h for h, c in chunks.items() if c.never_written and not live[h]]
            self.chunks.creating.update(empty)
            settled = {h: c for h, c in chunks.items() if h not in self.cloning}
            trims = replication.plan_trims(
                settled, live, free, racks, target, now, servers.retiring
            )
            for address, removals in trims.items():
                for removal in removals:
                    servers.remove(removal.handle, address, now)
                    servers.order_removal(address, removal)
                    log.info(
                        "chunk %d has more than %d replicas: removing the one on %s",
                        removal.handle,
                        chunks[removal.handle].target(target),
                        address,
                    )
            corrupt = {a: s.corrupt for a, s in servers.servers.items() if s.corrupt}
            replaced = replication.plan_corrupt_removals(
                meta.state.chunks, live, corrupt, target, servers.ordered()
            )
            for address, removals in replaced.items():
                for removal in removals:
                    servers.order_removal(address, removal)
                    log.info(
                        "corrupt replica of chunk %d on %s replaced; removing it",
                        removal.handle,
                        address,
                    )
            serving = self._serving(now)
            self._unsettled |= {
                h
                for h, c in chunks.items()
                if h in self.cloning or not _settled(live[h], c.target(target), serving)
            }
        for clone in clones:
            self.jobs.submit(self.clone, clone)
        for handle in empty:
            self.jobs.submit(self._recreate, handle)

    def _recreate(self, handle: int) -> None:
        """Repair's part in re-creating a never-written chunk that has no replica."""
        try:
            with self.chunks.locks.hold(handle):
                meta = self.meta
                with meta.core:
                    chunk = meta.state.chunks.get(handle)
                    replicas = meta.servers.replicas(handle, meta.clock())
                if chunk is not None and chunk.never_written and not replicas:
                    self.chunks.create_again(handle)
        except Exception:
            log.exception("creating chunk %d again failed", handle)
        finally:
            with self.meta.core:
                self.chunks.creating.discard(handle)

    def balance(self) -> int:
        """Starts moves from the servers holding the most replicas to those holding the fewest
        (throttled like repair); returns how many started. Nothing in safe mode."""
        meta = self.meta
        now = meta.clock()
        with meta.core:
            if self.safe_mode.active:
                return 0
            counts = {c.address: c.chunks for c in meta.servers.candidates(now)}
            if max(counts.values(), default=0) - min(counts.values(), default=0) <= 1:
                return 0  # balanced: plan_moves moves nothing, no need to walk every chunk
            chunks = self._steady()
            live = {h: meta.servers.replicas(h, now) for h in chunks}
            racks = {a: s.rack for a, s in meta.servers.servers.items()}
            moves = replication.plan_moves(
                meta.state.chunks,
                live,
                counts,
                racks,
                self._busy_servers(),
                self.config.clone_limit,
                self.cloning,
            )
            for move in moves:
                self.cloning[move.handle] = move
        for move in moves:
            log.info(
                "balancing: moving chunk %d from %s to %s", move.handle, move.source, move.target
            )
            self.jobs.submit(self.clone, move)
        return len(moves)

    def clone(self, clone: replication.Clone) -> None:
        """Carries out one copy. Under the chunk's lock, a lease in force is revoked first (the
        new replica would miss its writes); the copy itself holds no lock (a minute, for 64
        MiB, of no writes and no lease extensions for the chunk otherwise), and counts only if
        the version did not move meanwhile: any write since needed a new lease, which bumps
        it."""
        meta, handle = self.meta, clone.handle
        try:
            with self.chunks.locks.hold(handle):
                chunk = meta.chunk(handle)
                if chunk is None or chunk.version != clone.version:
                    return
                chunk, holders = self.chunks.leasing.stop_primary(
                    chunk, f"copying it to {clone.target}"
                )
                if holders is not None and clone.source not in holders:
                    return
            self.chunks.calls.clone_from(clone.target, handle, chunk.version, clone.source)
            with self.chunks.locks.hold(handle), meta.core:
                current = meta.state.chunks.get(handle)
                if current is None or current.version != chunk.version:
                    log.info(
                        "copy of chunk %d to %s not counted: the chunk changed meanwhile",
                        handle,
                        clone.target,
                    )
                    return
                now = meta.clock()
                meta.servers.confirm(handle, clone.target, now)
                if clone.move:  # the source's replica goes: no longer handed out
                    meta.servers.remove(handle, clone.source, now)
                    meta.servers.order_removal(clone.source, Removal(handle, current.version))
                count = len(meta.servers.replicas(handle, now))
            COPIES.labels("move" if clone.move else "repair").inc()
            log.info(
                "re-replicated chunk %d v%d from %s to %s (%d live replicas)",
                handle,
                chunk.version,
                clone.source,
                clone.target,
                count,
                extra=fields(
                    "rereplicated",
                    handle=handle,
                    version=chunk.version,
                    source=clone.source,
                    address=clone.target,
                    live=count,
                ),
            )
        except errors.GfsError as err:
            log.warning(
                "copying chunk %d from %s to %s failed: %s",
                handle,
                clone.source,
                clone.target,
                err,
                extra=fields(
                    "copy_failed", handle=handle, source=clone.source, address=clone.target
                ),
            )
        except Exception:
            log.exception("copying chunk %d failed", handle)
        finally:
            with meta.core:
                self.cloning.pop(handle, None)
