"""Replica management (GFS section 4.3), what the chunkservers tell: heartbeats and the
replicas they report, liveness, safe mode and decommissioning. Decisions come from the pure
planner of `chunkservers`; repair and balancing, which act on what this learns, are
`master.repair`'s."""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from dataclasses import dataclass, field

from common import errors
from common.logformat import fields
from master.chunkcontrol import ChunkControl
from master.chunkservers import Heartbeat, Removal
from master.metadata import Metadata
from master.metrics import REPORTED_REPLICAS, REPORTS
from master.safemode import SafeMode

log = logging.getLogger(__name__)


@dataclass
class BeatAnswer:
    """The master's answer to a heartbeat."""

    removals: list[Removal] = field(default_factory=list)
    extended: list[tuple[int, bytes]] = field(default_factory=list)  # (handle, lease token)
    recheck: list[int] = field(default_factory=list)  # to be listed in the next report
    full_report: bool = False  # nothing taken: a full report is wanted


class ReplicaManager:
    def __init__(self, meta: Metadata, chunks: ChunkControl, jobs: Executor) -> None:
        self.meta = meta
        self.chunks = chunks
        self.config = meta.config
        self.jobs = jobs  # catch-ups; their RPC fan-outs use another pool
        # Guarded by meta.core:
        self.safe_mode = SafeMode(meta.config.safemode_threshold, active=bool(meta.state.chunks))
        self._catching_up: set[tuple[int, str]] = set()  # (handle, address) being told
        if self.safe_mode.active:
            log.info("in safe mode until %d chunks are reported", len(meta.state.chunks))

    # --- reports ------------------------------------------------------------------------------

    def heartbeat(self, beat: Heartbeat) -> BeatAnswer:
        """Takes a chunkserver's report; answers the replicas it must remove, the leases
        extended for it, and what it must report next."""
        meta = self.meta
        now = meta.clock()
        with meta.core:
            known = meta.servers.servers.get(beat.address)
            before_corrupt = set(known.corrupt) if known else set()
            before_stale = set(known.stale) if known else set()
            before_garbage = {r.handle for r in beat.reports if known and r.handle in known.garbage}
            outcome = meta.servers.heartbeat(
                meta.state, beat, now, self.chunks.busy(), self.chunks.pool.handles
            )
            if outcome.full_wanted:
                return BeatAnswer(full_report=True)
            behind = {(h, beat.address) for h in outcome.behind} - self._catching_up
            self._catching_up |= behind
        kind = "part" if beat.part else "incremental" if beat.incremental else "full"
        REPORTS.labels(kind).inc()
        REPORTED_REPLICAS.labels(kind).inc(len(beat.reports) + len(beat.gone) + len(beat.corrupt))
        if outcome.joined or not beat.incremental or beat.part == 1:
            # A full report: the server started (again), maybe without the pool's replicas.
            self.chunks.pool.unpool(beat.address)
        elif beat.lost or beat.gone or beat.corrupt:
            self.chunks.pool.lost(beat.address, {*beat.lost, *beat.gone, *beat.corrupt})
        if outcome.joined:
            log.info(
                "chunkserver %s (rack %s) joined with %d replicas",
                beat.address,
                beat.rack,
                len(beat.reports) if beat.replica_count is None else beat.replica_count,
                extra=fields("chunkserver_joined", address=beat.address, rack=beat.rack),
            )
        for removal in outcome.removals:  # once per replica: a report repeats until it is gone
            if removal.handle not in before_stale | before_garbage:
                log.info(
                    "replica of chunk %d on %s is stale or of a deleted chunk: it goes",
                    removal.handle,
                    beat.address,
                    extra=fields("replica_stale", handle=removal.handle, address=beat.address),
                )
        for handle in set(beat.corrupt) - before_corrupt:
            log.warning(
                "replica of chunk %d on %s is corrupt",
                handle,
                beat.address,
                extra=fields("replica_corrupt", handle=handle, address=beat.address),
            )
        for handle, address in behind:
            self.jobs.submit(self._catch_up, handle, address)
        # The writes first, each of which may fail (a full disk, no majority): the removals
        # taken from the orders below must reach the server whatever becomes of them, or the
        # master would believe them sent and the replicas would stay until a full report.
        if outcome.claims:
            adopted: list[int] = []
            try:
                adopted = self.chunks.leasing.adopt(beat.address, outcome.claims)
            except errors.GfsError as err:
                log.warning("higher versions reported by %s not adopted: %s", beat.address, err)
            with meta.core:  # judged again: the chunk changed meanwhile, or the write failed
                for handle in set(outcome.claims) - set(adopted):
                    meta.servers.recheck(handle, beat.address)
        extended: list[tuple[int, bytes]] = []
        try:
            extended = self.chunks.leasing.extend_leases(beat.address, beat.extend)
        except errors.GfsError as err:  # they run out; the primary asks again
            log.warning(
                "leases of %d chunks on %s not extended: %s", len(beat.extend), beat.address, err
            )
        removals, recheck = outcome.removals, outcome.recheck
        with meta.core:
            holding_back = self.safe_mode.active
            if not holding_back:
                removals += meta.servers.send_orders(beat.address, now)
            else:  # judged again by each report until safe mode ends, as they are now
                for removal in removals:
                    meta.servers.recheck(removal.handle, beat.address)
                recheck = sorted(set(recheck) | {r.handle for r in removals})
        if holding_back and removals:
            log.info("safe mode: not removing %d replicas on %s yet", len(removals), beat.address)
            removals = []
        return BeatAnswer(removals, extended, recheck)

    def _catch_up(self, handle: int, address: str) -> None:
        """Tells a replica left behind by version bumps no replica took the chunk's version
        (it missed no mutation); it counts once it acknowledges. Otherwise its next report
        judges it again."""
        caught_up = False
        try:
            with self.chunks.locks.hold(handle):
                chunk = self.meta.chunk(handle)
                if chunk is None or not chunk.floor:
                    return
                self.chunks.leasing.tell_version(handle, chunk.version, address, create=False)
            caught_up = True
            log.info("replica of chunk %d on %s caught up to v%d", handle, address, chunk.version)
        except errors.GfsError as err:
            log.warning("replica of chunk %d on %s did not catch up: %s", handle, address, err)
        except Exception:
            log.exception("catching up chunk %d on %s failed", handle, address)
        finally:
            with self.meta.core:
                self._catching_up.discard((handle, address))
                if not caught_up:
                    self.meta.servers.recheck(handle, address)

    # --- liveness, safe mode, decommissioning -------------------------------------------------

    def check_liveness(self) -> list[str]:
        """Declares servers dead that stopped reporting; returns those newly dead."""
        meta = self.meta
        with meta.core:
            dead = meta.servers.newly_dead(meta.clock())
        for address in dead:
            log.warning(
                "chunkserver %s is dead (silent for %.1fs)",
                address,
                self.config.dead_after,
                extra=fields("chunkserver_dead", address=address),
            )
        self.update_safe_mode()
        return dead

    def update_safe_mode(self) -> None:
        """Leaves safe mode once enough chunks are reported (counting walks every chunk: only
        while waiting for that)."""
        with self.meta.core:
            waiting = self.safe_mode.active and not self.safe_mode.manual
        if not waiting:
            return
        known, reported = self.meta.chunk_counts()
        with self.meta.core:
            left = self.safe_mode.update(known, reported)
        if left:
            log.info("leaving safe mode: %d of %d chunks reported", reported, known)

    def set_safe_mode(self, action: str) -> None:
        if action not in ("get", "enter", "leave"):
            raise errors.InvalidArgument(
                f"safe mode action must be get, enter or leave: {action!r}"
            )
        with self.meta.core:
            if action == "enter":
                self.safe_mode.enter()
            elif action == "leave":
                self.safe_mode.leave()
        if action != "get":
            log.info("safe mode %s by an operator", "entered" if action == "enter" else "left")

    def decommission(self, address: str, cancel: bool = False) -> None:
        """Drains a server: its replicas stop counting, are copied elsewhere, then removed; it
        is reported `decommissioned` (safe to remove) once it holds none. With `cancel`, takes
        it back into service (surplus replicas the drain made are trimmed as usual)."""
        with self.meta.core:
            if address not in self.meta.servers.servers:
                raise errors.NotFound(f"no chunkserver {address} is known")
            if cancel:
                changed = self.meta.servers.recommission(address)
            else:
                changed = self.meta.servers.decommission(address)
        if cancel and not changed:
            raise errors.FailedPrecondition(f"{address} is not being decommissioned")
        if cancel:
            log.info(
                "decommissioning of %s cancelled: back in service",
                address,
                extra=fields("decommission_cancelled", address=address),
            )
        else:
            self.chunks.pool.unpool(address)
            log.info(
                "decommissioning %s: draining its replicas",
                address,
                extra=fields("decommissioning", address=address),
            )
