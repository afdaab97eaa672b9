"""A chunk's versions and leases (GFS sections 3.1 and 4.5): the version told to replicas and
bumped (logged first) before a grant or to fence out a primary that cannot be reached; leases
granted, revoked, extended; higher versions a server reports, adopted. The decisions are
leases.py's; this carries them out, under the chunk locks it shares with chunkcontrol.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor

from common import errors
from common.keyedlocks import KeyedLocks
from common.logformat import fields
from master import leases
from master.calls import ChunkserverCalls
from master.issuer import TokenIssuer
from master.metadata import Metadata
from master.metrics import LEASES_GRANTED, LEASES_REVOKED
from master.state import Chunk, Mutation, PutChunk, put_chunk

log = logging.getLogger(__name__)


class Leasing:
    def __init__(
        self,
        meta: Metadata,
        calls: ChunkserverCalls,
        fanout: Executor,
        locks: KeyedLocks[int],
        recreate: Callable[[int], list[str]],
        tokens: TokenIssuer | None = None,
    ) -> None:
        """`recreate(handle)` makes new replicas of a never-written chunk that has none left,
        and returns the servers that took one (chunkcontrol.py's `create_again`)."""
        self.meta = meta
        self.config = meta.config
        self.calls = calls
        self.fanout = fanout  # runs RPCs only: nothing on it waits for the pool
        self.locks = locks  # the chunk locks
        self.tokens = tokens  # a secure master's: primaries get lease tokens
        self.recreate = recreate
        # Guarded by meta.core:
        self.versions_in_flight: set[int] = set()
        # New chunks whose every creation this master sent was acknowledged, with the servers
        # that did: no creation of theirs can still arrive late, so their first lease needs no
        # version bump to fence one out. Not persisted: a restarted master bumps, as ever.
        self.created_cleanly: dict[int, frozenset[str]] = {}

    def set_version(self, handle: int, version: int, servers: list[str], create: bool) -> list[str]:
        """Tells each server the chunk's version; returns those that acknowledged, each
        recorded as holding it as soon as it acknowledges (not one of them before)."""

        def tell(address: str) -> str | None:
            try:
                self.tell_version(handle, version, address, create)
            except errors.GfsError as err:
                log.warning(
                    "chunkserver %s missed version %d of chunk %d: %s",
                    address,
                    version,
                    handle,
                    err,
                    extra=fields("replica_missed_version", handle=handle, address=address),
                )
                return None
            return address

        acks = [a for a in self.fanout.map(tell, servers) if a is not None]
        with self.meta.core:
            self.meta.servers.reset_versions(handle, set(acks))
        return acks

    def tell_version(self, handle: int, version: int, address: str, create: bool) -> None:
        """One server learns the chunk's version; once it acknowledges it is listed as holding
        it. Raises the RPC's error."""
        self.calls.set_version(address, handle, version, create)
        with self.meta.core:
            self.meta.servers.confirm(handle, address, self.meta.clock())

    def _bump_version(
        self, chunk: Chunk, replicas: list[str], keep_lease: bool = False
    ) -> tuple[Chunk, list[str]]:
        """Logs version+1, then tells the live replicas; those that miss it become stale (see
        `leases.bumped`). The caller holds the chunk's lock."""
        meta, handle = self.meta, chunk.handle
        bump = leases.bumped(chunk, keep_lease)
        with meta.core:
            self.versions_in_flight.add(handle)
        try:
            # Logged, not yet heard of: a replica is listed again once it acknowledges.
            meta.commit(
                put_chunk("bump_version", bump, version=bump.version),
                along=lambda: meta.servers.reset_versions(handle, set()),
            )
            holders = self.set_version(handle, bump.version, replicas, create=False)
        finally:
            with meta.core:
                self.versions_in_flight.discard(handle)
        if not holders:
            meta.commit(leases.untaken(chunk, bump))
            log.warning(
                "no replica of chunk %d took version %d; those from v%d stay current",
                handle,
                bump.version,
                chunk.floor or chunk.version,
            )
            raise errors.Unavailable(
                f"no replica of chunk {handle} accepted version {bump.version}"
            )
        taken = leases.taken(bump)
        if taken is not None:
            meta.commit(taken)
            bump = bump._replace(floor=0)
        return bump, holders

    def adopt(self, address: str, claims: dict[int, int]) -> list[int]:
        """Adopts the higher versions `address` reported (see `leases.adopted`), each under
        its chunk's lock, planned from the row as it is then; lists `address` as holding them.
        Returns the handles adopted."""
        meta = self.meta
        with self.locks.hold_all(claims):
            with meta.core:
                mutation = leases.adopted(meta.state.chunks, address, claims)
            if mutation is None:
                return []
            handles = [c.chunk.handle for c in mutation.changes if isinstance(c, PutChunk)]
            now = meta.clock()

            def listed() -> None:
                for handle in handles:
                    meta.servers.reset_versions(handle, set())
                    meta.servers.confirm(handle, address, now)

            meta.commit(mutation, along=listed)
        log.warning(
            "adopted higher versions reported by %s: chunks %s",
            address,
            handles,
            extra=fields("versions_adopted", address=address, handles=handles),
        )
        return handles

    # --- leases -------------------------------------------------------------------------------

    def ensure(self, handle: int) -> None:
        """Makes sure the chunk has a primary with a valid lease (GFS section 3.1): bump the
        version and log it, tell the live replicas, then name a primary (a new chunk's first
        lease may need no bump: `leases.first_grant_needs_no_bump`). A never-written chunk
        with no replica left is created again first. The caller holds the chunk's lock."""
        meta = self.meta
        now = meta.clock()
        with meta.core:
            chunk = meta.state.chunks[handle]
            replicas = meta.servers.replicas(handle, now)
            lost = meta.servers.lost(handle, now)
            cleanly = self.created_cleanly.pop(handle, None)  # one chance: the first grant
        if not replicas and chunk.never_written:
            replicas = self.recreate(handle)
            cleanly = None
        decision = leases.decide(chunk, replicas, now, lost)
        if isinstance(decision, leases.Revoke):
            chunk = self._revoke(chunk, f"replica(s) {', '.join(lost)} died")
            decision = leases.decide(chunk, replicas, meta.clock())
        match decision:
            case leases.Reuse():
                return
            case leases.WaitOut(holder, seconds_left):
                raise errors.Unavailable(
                    f"primary {holder} of chunk {handle} is unreachable; "
                    f"its lease ends in {seconds_left:.0f}s"
                )
            case leases.NoReplica():
                raise errors.Unavailable(f"no live replica of chunk {handle}")
            case leases.Grant():
                if leases.first_grant_needs_no_bump(chunk, replicas, lost, cleanly):
                    bumped, holders = chunk, replicas
                else:
                    bumped, holders = self._bump_version(chunk, replicas)
        primary, secondaries = leases.choose_primary(handle, holders)
        until = self.lease_end()
        # The floor goes with the grant: replicas below the version are stale from now on.
        leased = bumped._replace(lease_holder=primary, lease_expiry=until, floor=0)
        meta.commit(put_chunk("grant_lease", leased, primary=primary))
        self.tell_primary(leased, secondaries)

    def lease_end(self) -> float:
        """The master's record of the end of a lease granted now."""
        config = self.config
        return leases.lease_until(self.meta.clock(), config.lease_seconds, config.rpc_timeout)

    def tell_primary(self, leased: Chunk, secondaries: list[str]) -> None:
        """Gives the lease `leased` records (logged already) to its holder. Raises the RPC's
        error. A holder that refuses it for not holding the chunk at that version took no
        lease: the record is cleared and that replica no longer counts, so the next lookup
        grants among the others (after a bump) instead of waiting the lease out. On any other
        failure the holder may have taken the lease, and the record stays."""
        config = self.config
        handle, version, primary = leased.handle, leased.version, leased.lease_holder
        proof = b""
        if self.tokens is not None:
            proof = self.tokens.lease(handle, version, primary, leased.lease_expiry)
        seconds, size = config.lease_seconds, config.chunk_size
        try:
            self.calls.grant_lease(primary, handle, version, seconds, secondaries, size, proof)
        except errors.StaleReplica as refused:
            self._refused(leased, str(refused))
            raise
        LEASES_GRANTED.inc()
        log.info(
            "lease on chunk %d v%d granted to %s",
            handle,
            version,
            primary,
            extra=fields("lease_granted", handle=handle, version=version, address=primary),
        )

    def _refused(self, leased: Chunk, reason: str) -> None:
        meta, handle, holder = self.meta, leased.handle, leased.lease_holder
        with meta.core:
            meta.servers.forget(handle, holder)
            meta.servers.recheck(handle, holder)  # its next report says what it holds
        self._ended("lease_refused", leased)
        log.warning(
            "lease on chunk %d v%d refused by %s (%s): the next lookup grants among the others",
            handle,
            leased.version,
            holder,
            reason,
            extra=fields("lease_refused", handle=handle, address=holder, reason=reason),
        )

    def _ended(self, op: str, chunk: Chunk) -> Chunk:
        """Logs the chunk's lease as over now (as `op`, naming its holder) and returns the
        chunk as it then stands. Expired now, never 0.0: the chunk was leased, so the next
        grant must bump the version."""
        ended = chunk._replace(lease_holder="", lease_expiry=self.meta.clock())
        self.meta.commit(put_chunk(op, ended, holder=chunk.lease_holder))
        return ended

    def _revoke(self, chunk: Chunk, reason: str) -> Chunk:
        """Takes the lease back from a live primary (GFS section 3.1: the master may revoke a
        lease); once it acknowledges, no write is being ordered under it."""
        holder = chunk.lease_holder
        self.calls.revoke_lease(holder, chunk.handle, chunk.version)
        revoked = self._ended("revoke_lease", chunk)
        LEASES_REVOKED.inc()
        log.info(
            "lease on chunk %d revoked from %s: %s",
            chunk.handle,
            holder,
            reason,
            extra=fields("lease_revoked", handle=chunk.handle, address=holder, reason=reason),
        )
        return revoked

    def stop_primary(self, chunk: Chunk, reason: str) -> tuple[Chunk, list[str] | None]:
        """Makes sure no primary orders mutations of the chunk (the caller holds its lock): a
        live primary gives its lease up; one that cannot be reached (it may only be cut off) is
        fenced out by a version bump among the live replicas, which refuse the old version, and
        its lease record stays, so no new primary is named before it ends. Returns the chunk as
        it now stands and, after a fence, the replicas at its new version. A lease over by the
        master's record is stopped too: the record may be from a clock that ran behind this
        one (set forward across a restart), while its primary still counts it on its own (a
        copy made then missed the writes it went on ordering, at the same version)."""
        meta = self.meta
        now = meta.clock()
        if not chunk.lease_holder:
            return chunk, None
        with meta.core:
            holder_alive = meta.servers.alive(chunk.lease_holder, now)
            live = meta.servers.replicas(chunk.handle, now)
        if holder_alive:
            return self._revoke(chunk, reason), None
        fenced, holders = self._bump_version(chunk, live, keep_lease=True)
        log.info(
            "chunk %d fenced at v%d (%s): its primary %s is unreachable",
            chunk.handle,
            fenced.version,
            reason,
            chunk.lease_holder,
            extra=fields(
                "primary_fenced",
                handle=chunk.handle,
                version=fenced.version,
                address=chunk.lease_holder,
            ),
        )
        return fenced, holders

    def extend_leases(
        self, holder: str, requests: list[tuple[int, int]]
    ) -> list[tuple[int, bytes]]:
        """Extends (and logs) the leases `holder` asked for, under the chunks' locks so that no
        grant or version bump of the same chunk interleaves; returns each extended handle with
        its new lease token (b"" from an insecure master). A holder that no longer holds the
        chunk's current version (its disk failed under it) is not extended: its lease runs
        out instead of keeping every writer waiting on a primary that cannot write."""
        if not requests:
            return []
        meta = self.meta
        with self.locks.hold_all(h for h, _ in requests):
            now = meta.clock()
            until = leases.lease_until(now, self.config.lease_seconds, self.config.rpc_timeout)
            with meta.core:
                held = [(h, v) for h, v in requests if holder in meta.servers.locations.get(h, ())]
                extended = leases.extensions(meta.state.chunks, holder, held, now, until)
            if extended:
                meta.commit(
                    Mutation(
                        "extend_leases",
                        {"holder": holder, "handles": [c.handle for c in extended]},
                        tuple(PutChunk(c) for c in extended),
                    )
                )
        return [
            (c.handle, self.tokens.lease(c.handle, c.version, holder, c.lease_expiry))
            if self.tokens is not None
            else (c.handle, b"")
            for c in extended
        ]
