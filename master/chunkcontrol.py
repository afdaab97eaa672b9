"""Chunk control: allocation, copy-on-write, versions and leases (GFS sections 3.1, 3.4, 4.5).

Owns the chunk locks and the chunks in flight (being created, having their version changed,
reserved for a copy not yet committed). A chunk's row is written only under its chunk lock,
except the rows of handles just reserved, which nobody else can know yet.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import Counter
from concurrent.futures import Executor

from common import errors
from common.keyedlocks import KeyedLocks
from common.logformat import fields
from master import leases, namespace, placement
from master.calls import ChunkserverCalls
from master.issuer import TokenIssuer
from master.metadata import ChunkView, Metadata
from master.metrics import LEASES_GRANTED, LEASES_REVOKED
from master.permissions import SUPERUSER, Caller
from master.state import Chunk, Mutation, PutChunk, put_chunk

log = logging.getLogger(__name__)


class ChunkControl:
    def __init__(
        self,
        meta: Metadata,
        calls: ChunkserverCalls,
        fanout: Executor,
        tokens: TokenIssuer | None = None,
    ) -> None:
        self.meta = meta
        self.tokens = tokens  # a secure master's: primaries get lease tokens
        self.config = meta.config
        self.calls = calls
        self.fanout = fanout  # runs RPCs only: nothing on it waits for the pool
        self.locks: KeyedLocks[int] = KeyedLocks()
        # Guarded by meta.core:
        self.creating: set[int] = set()  # new chunks whose replicas are being made (or again)
        self._versions_in_flight: set[int] = set()
        self._reserved: set[int] = set()  # handles reserved, not yet committed
        # New chunks whose every creation this master sent was acknowledged, with the servers
        # that did: no creation of theirs can still arrive late, so their first lease needs no
        # version bump to fence one out. Not persisted: a restarted master bumps, as ever.
        self.created_cleanly: dict[int, frozenset[str]] = {}
        self._being_made: Counter[str] = Counter()  # replicas being created, by server
        self._handles = threading.Lock()  # leaf: held only to reserve handles
        self._next_handle = 0

    def busy(self) -> set[int]:
        """Chunks no report or repair may judge now: being created, copied locally or having
        their version changed (listed again replica by replica as each acknowledges). The
        caller holds `meta.core`."""
        return self.creating | self._versions_in_flight | self._reserved

    def _reserve(self, count: int) -> int:
        """The first of `count` new handles nobody else will be given (recorded as reserved
        until committed), without holding any lock across the RPCs that follow."""
        with self._handles:
            with self.meta.core:
                first = max(self._next_handle, self.meta.state.next_handle)
                self._reserved.update(range(first, first + count))
            self._next_handle = first + count
            return first

    def _release(self, first: int, count: int) -> None:
        with self.meta.core:
            self._reserved.difference_update(range(first, first + count))

    # --- a client's lookup --------------------------------------------------------------------

    def get_chunk(
        self, path: str, index: int, for_write: bool, caller: Caller = SUPERUSER
    ) -> ChunkView:
        if index < 0:
            raise errors.InvalidArgument(f"chunk index must be >= 0, not {index}")
        if not for_write:
            return self.meta.chunk_view(path, index, caller)
        with self.meta.core:  # before anything is allocated or leased
            namespace.check_write(self.meta.state, path, caller)
        self._allocate_through(path, index)
        self._unshare(path, index)
        meta = self.meta
        with meta.paths.hold(read=[path]):
            with meta.core:
                node = namespace.lookup_file(meta.state, path)
                if index >= len(node.chunks):
                    raise namespace.no_chunk(path, index)
                handle = node.chunks[index]
            with self.locks.hold(handle):
                self._ensure_lease(handle)
            with meta.core:
                return meta.view(meta.state.nodes[path], index, meta.clock())

    # --- allocation and copy-on-write ---------------------------------------------------------

    def _allocate_through(self, path: str, index: int) -> None:
        """Adds chunk `index` to the file (it may be one past the end, no further) with
        replicas created on distinct live servers, unless it has it already."""
        meta = self.meta
        with meta.paths.hold(read=[path]), meta.core:
            missing = namespace.missing_chunks(meta.state, path, index)
        if not missing:
            return
        if missing > 1:
            # One request adds at most one chunk: an index of 3000 made 9000 replicas at once.
            raise errors.OutOfRange(
                f"chunk {index} of {path} is more than one past its end; add chunks in order"
            )
        with meta.paths.hold(write=[path]):
            with meta.core:
                missing = namespace.missing_chunks(meta.state, path, index)
            if not missing:
                return
            now = meta.clock()
            with meta.core:
                roomy = self._roomy(now)
                alive = len(meta.servers.candidates(now))
                r = namespace.lookup_file(meta.state, path).replication or self.config.replication
            least = min(r, self.config.min_replication)  # fewer than r: copied up later
            if alive < least:
                raise errors.FailedPrecondition(
                    f"only {alive} chunkserver(s) alive; a new chunk needs at least {least}"
                    f" (replication {r}, min replication {least})"
                )
            if len(roomy) < least:
                raise errors.ResourceExhausted(
                    f"only {len(roomy)} chunkserver(s) have room for a new chunk "
                    f"({self.config.chunk_size} bytes); it needs at least {least}"
                )
            first = self._reserve(missing)
            handles = list(range(first, first + missing))
            # Until its replicas exist, a new chunk is not under-replicated: repair must not
            # copy (or trim) it while a slow server still has its creation on the way.
            with meta.core:
                self.creating.update(handles)
            try:
                mutation = meta.plan(
                    lambda: namespace.add_chunks(meta.state, path, index, now, first)
                )
                meta.commit(mutation)
                for handle in handles:
                    chosen, acks = self._create_replicas(handle)
                    if acks and sorted(acks) == sorted(chosen):
                        with meta.core:
                            self.created_cleanly[handle] = frozenset(acks)
                    log.info(
                        "chunk %d of %s created on %s",
                        handle,
                        path,
                        ", ".join(acks) or "none",
                        extra=fields("chunk_created", handle=handle, path=path, replicas=acks),
                    )
            finally:
                self._release(first, missing)
                with meta.core:
                    self.creating.difference_update(handles)

    def _roomy(self, now: float) -> list[placement.Candidate]:
        """Live servers that may take a new replica and have room for a whole chunk. The
        caller holds `meta.core`."""
        chunk_size = self.config.chunk_size
        return [c for c in self.meta.servers.candidates(now) if c.free_bytes >= chunk_size]

    def _unshare(self, path: str, index: int) -> None:
        """Before a write to a chunk a snapshot shares, gives `path` its own copy: every live
        replica copies the chunk locally to a new handle, then the file is pointed at it. Holds
        only this file's lock and the shared chunk's through the copies."""
        meta = self.meta
        with meta.paths.hold(read=[path]), meta.core:
            handle = namespace.lookup_file(meta.state, path).chunks[index]
            if meta.state.chunks[handle].refcount <= 1:
                return  # the common case: no write lock, no chunk lock
        with meta.paths.hold(write=[path]):
            with meta.core:
                handle = namespace.lookup_file(meta.state, path).chunks[index]
            with self.locks.hold(handle):
                with meta.core:
                    chunk = meta.state.chunks[handle]
                    replicas = meta.servers.replicas(handle, meta.clock())
                if chunk.refcount <= 1:
                    return
                new = self._reserve(1)
                try:
                    acks = self._copy_locally(chunk, new, replicas)
                    now = meta.clock()

                    def copies_listed() -> None:
                        for address in acks:
                            meta.servers.confirm(new, address, now)

                    meta.commit(
                        meta.plan(lambda: namespace.split_chunk(meta.state, path, index, now, new)),
                        along=copies_listed,
                    )
                finally:
                    self._release(new, 1)
        log.info(
            "chunk %d of %s copied locally to chunk %d on %s before a write (copy-on-write)",
            index,
            path,
            new,
            ", ".join(acks),
            extra=fields("chunk_copied_on_write", handle=new, path=path, replicas=acks),
        )

    def _copy_locally(self, chunk: Chunk, new: int, replicas: list[str]) -> list[str]:
        def copy(address: str) -> str | None:
            try:
                self.calls.copy_local(address, chunk.handle, chunk.version, new, chunk.version)
                return address
            except errors.GfsError as err:
                log.warning("local copy of chunk %d on %s failed: %s", chunk.handle, address, err)
                return None

        acks = [a for a in self.fanout.map(copy, replicas) if a is not None]
        if not acks:
            raise errors.Unavailable(f"no replica of chunk {chunk.handle} could be copied")
        return acks

    # --- versions -----------------------------------------------------------------------------

    def _create_replicas(self, handle: int) -> tuple[list[str], list[str]]:
        """Creates the chunk's (empty) replicas at its version on as many live servers with room
        as its target (or as there are) placement picks; returns those chosen and those that
        acknowledged."""
        with self.meta.core:
            chunk = self.meta.state.chunks[handle]
            # A server's chunk count grows once a creation is acknowledged: the replicas still
            # being made count too, or chunks created at the same moment (writers starting
            # together) all went to the same servers and shared every link.
            pending = [
                dataclasses.replace(c, chunks=c.chunks + self._being_made[c.address])
                for c in self._roomy(self.meta.clock())
            ]
            chosen = placement.choose(pending, chunk.target(self.config.replication))
            self._being_made.update(chosen)
        try:
            return chosen, self.set_version(handle, chunk.version, chosen, create=True)
        finally:
            with self.meta.core:
                self._being_made.subtract(chosen)

    def create_again(self, handle: int) -> list[str]:
        """Makes new replicas of a never-written chunk that has none left (its creation was cut
        short by a master crash, say): it holds nothing, so nothing is lost. The caller holds
        the chunk's lock and has checked both."""
        _, acks = self._create_replicas(handle)
        log.warning(
            "chunk %d had no replica and was never written: created again on %s",
            handle,
            ", ".join(acks) or "none",
        )
        return acks

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
            self._versions_in_flight.add(handle)
        try:
            # Logged, not yet heard of: a replica is listed again once it acknowledges.
            meta.commit(
                put_chunk("bump_version", bump, version=bump.version),
                along=lambda: meta.servers.reset_versions(handle, set()),
            )
            holders = self.set_version(handle, bump.version, replicas, create=False)
        finally:
            with meta.core:
                self._versions_in_flight.discard(handle)
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

    def _ensure_lease(self, handle: int) -> None:
        """Makes sure the chunk has a primary with a valid lease (GFS section 3.1): bump the
        version and log it, tell the live replicas, then name a primary (a new chunk's first
        lease may need no bump: `leases.first_grant_needs_no_bump`). The caller holds the
        chunk's lock."""
        meta = self.meta
        now = meta.clock()
        with meta.core:
            chunk = meta.state.chunks[handle]
            replicas = meta.servers.replicas(handle, now)
            lost = meta.servers.lost(handle, now)
            cleanly = self.created_cleanly.pop(handle, None)  # one chance: the first grant
        if not replicas and chunk.never_written:
            replicas = self.create_again(handle)
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
        config = self.config
        until = leases.lease_until(meta.clock(), config.lease_seconds, config.rpc_timeout)
        # The floor goes with the grant: replicas below the version are stale from now on.
        leased = bumped._replace(lease_holder=primary, lease_expiry=until, floor=0)
        meta.commit(put_chunk("grant_lease", leased, primary=primary))
        proof = b""
        if self.tokens is not None:
            proof = self.tokens.lease(handle, bumped.version, primary, until)
        self.calls.grant_lease(
            primary,
            handle,
            bumped.version,
            config.lease_seconds,
            secondaries,
            config.chunk_size,
            proof,
        )
        LEASES_GRANTED.inc()
        log.info(
            "lease on chunk %d v%d granted to %s",
            handle,
            bumped.version,
            primary,
            extra=fields("lease_granted", handle=handle, version=bumped.version, address=primary),
        )

    def _revoke(self, chunk: Chunk, reason: str) -> Chunk:
        """Takes the lease back from a live primary (GFS section 3.1: the master may revoke a
        lease); once it acknowledges, no write is being ordered under it."""
        holder = chunk.lease_holder
        self.calls.revoke_lease(holder, chunk.handle, chunk.version)
        # Expired now, never 0.0: the chunk was leased, so the next grant must bump the version.
        revoked = chunk._replace(lease_holder="", lease_expiry=self.meta.clock())
        self.meta.commit(put_chunk("revoke_lease", revoked, holder=holder))
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
