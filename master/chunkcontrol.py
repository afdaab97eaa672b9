"""Chunk control: a client's lookup for a write, allocation and copy-on-write (GFS sections
3.1 and 3.4); versions and leases are `leasing`'s (leasing.py). A new file's first chunk comes
from the pool of chunks made ahead (chunkpool.py) when it has one.

Owns the chunk locks and the chunks in flight (being created, having their version changed,
reserved for a copy not yet committed). A chunk's row is written only under its chunk lock,
except the rows of handles just reserved, which nobody else can know yet.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Executor

from common import errors
from common.keyedlocks import KeyedLocks
from common.logformat import fields
from master import leases, namespace, placement
from master.calls import ChunkserverCalls
from master.chunkpool import ChunkPool
from master.issuer import TokenIssuer
from master.leasing import Leasing
from master.metadata import ChunkView, Metadata
from master.permissions import SUPERUSER, Caller
from master.state import Chunk, Mutation

log = logging.getLogger(__name__)


class ChunkControl:
    def __init__(
        self,
        meta: Metadata,
        calls: ChunkserverCalls,
        fanout: Executor,
        tokens: TokenIssuer | None = None,
        jobs: Executor | None = None,
    ) -> None:
        """`jobs` makes the pool's chunks in the background (None: no pool)."""
        self.meta = meta
        self.config = meta.config
        self.calls = calls
        self.fanout = fanout  # runs RPCs only: nothing on it waits for the pool
        self.locks: KeyedLocks[int] = KeyedLocks()
        self.leasing = Leasing(meta, calls, fanout, self.locks, self.create_again, tokens)
        # Guarded by meta.core:
        self.creating: set[int] = set()  # new chunks whose replicas are being made (or again)
        self._reserved: set[int] = set()  # handles reserved, not yet committed
        self._being_made: Counter[str] = Counter()  # replicas being created, by server
        self._handles = threading.Lock()  # leaf: held only to reserve handles
        self._next_handle = 0
        self.pool = ChunkPool(
            meta, calls, fanout, jobs, self._reserve, self._release, self._pending
        )

    def busy(self) -> set[int]:
        """Chunks no report or repair may judge now: being created, copied locally or having
        their version changed (listed again replica by replica as each acknowledges). The
        caller holds `meta.core`."""
        return self.creating | self.leasing.versions_in_flight | self._reserved

    def _reserve(self, count: int) -> int:
        """The first of `count` new handles nobody else will be given (recorded as reserved
        until committed), without holding any lock across the RPCs that follow."""
        with self._handles:
            with self.meta.core:
                first = max(self._next_handle, self.meta.state.next_handle)
                self._reserved.update(range(first, first + count))
            self._next_handle = first + count
            return first

    def _release(self, handles: Iterable[int]) -> None:
        with self.meta.core:
            self._reserved.difference_update(handles)

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
                self.leasing.ensure(handle)
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
            if missing == 1 and self._from_pool(
                path, r, roomy, lambda h: namespace.add_chunks(meta.state, path, index, now, h)
            ):
                return
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
                            self.leasing.created_cleanly[handle] = frozenset(acks)
                    log.info(
                        "chunk %d of %s created on %s",
                        handle,
                        path,
                        ", ".join(acks) or "none",
                        extra=fields("chunk_created", handle=handle, path=path, replicas=acks),
                    )
            finally:
                self._release(handles)
                with meta.core:
                    self.creating.difference_update(handles)

    # --- the pool of new chunks ---------------------------------------------------------------

    def create_with_first_chunk(
        self, path: str, caller: Caller = SUPERUSER, replication: int = 0
    ) -> ChunkView | None:
        """A new file made with its chunk 0, from the pool, leased for writing: the file, the
        chunk and its lease in one commit. None, with nothing done, when the pool has no chunk
        on servers that may take it now (the caller creates the file and allocates as ever);
        raises as a create would (the file exists, say) without taking any."""
        meta = self.meta
        with meta.paths.hold(write=[path]):
            now = meta.clock()
            with meta.core:  # as the create would: raises its error before the pool is asked
                namespace.create(meta.state, path, now, caller, replication)
                roomy = self._roomy(now)

            def made_with(handle: int) -> Mutation:
                return namespace.create(meta.state, path, now, caller, replication, handle)

            r = replication or self.config.replication
            if not self._from_pool(path, r, roomy, made_with):
                return None
            with meta.core:
                return meta.view(meta.state.nodes[path], 0, meta.clock())

    def _from_pool(
        self,
        path: str,
        replication: int,
        roomy: list[placement.Candidate],
        add: Callable[[int], Mutation],
    ) -> bool:
        """Gives `path` a chunk from the pool, `add(handle)` planning the mutation that puts it
        in the namespace with its first lease (the caller holds the file's write lock); False if
        the pool had none on servers that may take it now. Either way the pool is refilled in
        the background when low. Raises if the commit failed; not if only the grant did."""
        meta = self.meta
        taken = self.pool.take(replication, roomy)
        if taken is None:
            return False
        handle, servers = taken
        now = meta.clock()
        # Its replicas were made and acknowledged before it was pooled: its first lease needs
        # no bump, and goes in the commit that adds it (see leases.with_first_lease).
        primary, secondaries = leases.choose_primary(handle, sorted(servers))
        until = self.leasing.lease_end()

        def located() -> None:
            for address in servers:
                meta.servers.confirm(handle, address, now)

        try:
            with self.locks.hold(handle):
                try:
                    mutation = meta.plan(
                        lambda: leases.with_first_lease(add(handle), handle, primary, until)
                    )
                    meta.commit(mutation, along=located)
                except BaseException:
                    with meta.core:  # applied, though not acknowledged by a majority?
                        applied = handle in meta.state.chunks
                    if not applied:
                        self.pool.drop([taken])
                    raise
                with meta.core:
                    chunk = meta.state.chunks[handle]
                try:
                    self.leasing.tell_primary(chunk, secondaries)
                except errors.GfsError as err:
                    # The chunk is the file's: whoever looks it up next meets the lease as
                    # recorded (cleared if refused, see Leasing.tell_primary).
                    log.warning("chunk %d of %s: its first lease not given: %s", handle, path, err)
        finally:
            self._release([handle])
        log.info(
            "chunk %d of %s taken from the pool, on %s",
            handle,
            path,
            ", ".join(servers),
            extra=fields("chunk_created", handle=handle, path=path, replicas=list(servers)),
        )
        return True

    def _pending(self, now: float) -> list[placement.Candidate]:
        """Live servers with room, counting the replicas being made and those in the pool
        among their chunks. The caller holds `meta.core`."""
        # A server's chunk count grows once a creation is acknowledged: the replicas still
        # being made count too, or chunks created at the same moment (writers starting
        # together) all went to the same servers and shared every link.
        extra = self._being_made + self.pool.shelf.placed
        return [
            dataclasses.replace(c, chunks=c.chunks + extra[c.address]) for c in self._roomy(now)
        ]

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
                    self._release([new])
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

    # --- creation -----------------------------------------------------------------------------

    def _create_replicas(self, handle: int) -> tuple[list[str], list[str]]:
        """Creates the chunk's (empty) replicas at its version on as many live servers with room
        as its target (or as there are) placement picks; returns those chosen and those that
        acknowledged."""
        with self.meta.core:
            chunk = self.meta.state.chunks[handle]
            pending = self._pending(self.meta.clock())
            chosen = placement.choose(pending, chunk.target(self.config.replication))
            self._being_made.update(chosen)
        try:
            return chosen, self.leasing.set_version(handle, chunk.version, chosen, create=True)
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
