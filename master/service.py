"""The master's operations: the pure planners and tables, made concurrent and durable.

Every change is planned against the in-memory state under the path locks that keep what was
checked from changing, committed to the store (durable), and only then applied in memory, so a
reader never sees a change that a crash could take back. Chunkservers are told of new versions
and leases over RPCs here; nothing in this module speaks protobuf to clients.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from client import errors, rpc
from master import leases, namespace, placement, replication
from master.chunkservers import Chunkservers, Heartbeat, Removal
from master.config import MasterConfig
from master.locks import PathLocks
from master.safemode import SafeMode
from master.state import Chunk, MasterState, Mutation, Node, PutChunk
from master.store import LogEntry, Store
from protos import chunkserver_pb2

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkView:
    index: int
    handle: int
    version: int
    size: int
    replicas: list[str]
    primary: str  # "" when no valid lease


class MasterService:
    """Invariant: `state` is exactly what the store's tables hold; a change reaches `state` only
    after the store made it durable. Chunk locations (`servers`) are memory only, rebuilt from
    reports."""

    def __init__(
        self,
        config: MasterConfig,
        store: Store,
        clock: Callable[[], float] = time.time,
        channels: rpc.Channels | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.channels = channels or rpc.Channels()
        self.state: MasterState = store.load()
        self.servers = Chunkservers(dead_after=config.dead_after)
        self.paths = PathLocks()
        self._core = threading.Lock()  # guards state and servers
        self._allocation = threading.Lock()  # one handle reservation at a time
        self._creating: set[int] = set()  # new chunks whose replicas are being made
        self._chunk_guard = threading.Lock()
        self._chunk_locks: dict[int, threading.Lock] = {}
        self._versions_in_flight: set[int] = set()
        self._catching_up: set[tuple[int, str]] = set()  # (handle, address) being told
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="master-rpc")
        self._known_dead: set[str] = set()
        self._followers: dict[str, tuple[int, float]] = {}  # name -> (position, last heard)
        self._cloning: dict[int, replication.Clone] = {}  # copies under way, by chunk
        self._wanted: set[int] = set()  # under-replicated chunks a client asked for
        self._removals: dict[str, list[Removal]] = {}  # for each server's next heartbeat
        self._retiring: set[str] = set()  # being decommissioned: drained, then removable
        self.safe_mode = SafeMode(config.safemode_threshold, active=bool(self.state.chunks))
        if self.safe_mode.active:
            log.info("in safe mode until %d chunks are reported", len(self.state.chunks))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.channels.close()

    # --- durability ---------------------------------------------------------------------------

    def _commit(self, mutation: Mutation, along: Callable[[], None] | None = None) -> None:
        """Makes `mutation` durable, then applies it (and `along`, in the same step under
        `_core`: nobody sees one without the other)."""
        self.store.commit(mutation)
        with self._core:
            self.state.apply(mutation)
            if along is not None:
                along()

    def _plan(self, planner: Callable[[], Mutation]) -> Mutation:
        with self._core:
            return planner()

    # --- namespace ----------------------------------------------------------------------------

    def mkdir(self, path: str, parents: bool) -> None:
        with self.paths.hold(write=[path]):
            self._commit(
                self._plan(lambda: namespace.mkdir(self.state, path, parents, self.clock()))
            )

    def create(self, path: str) -> None:
        with self.paths.hold(write=[path]):
            self._commit(self._plan(lambda: namespace.create(self.state, path, self.clock())))

    def delete(self, path: str, recursive: bool, skip_trash: bool = False) -> None:
        """Moves `path` to the trash (restorable until `trash_grace` ends), or with
        `skip_trash` (or no grace) deletes it at once."""
        if skip_trash or self.config.trash_grace <= 0:
            with self.paths.hold(write=[path]):
                with self._core:
                    namespace.lookup(self.state, path)
                    handles = {h for n in self.state.subtree(path) for h in n.chunks}
                # Under the chunks' locks: a copy, lease or version change of a chunk under way
                # would otherwise write the chunk back into the table after it is gone.
                with self._holding_chunks(handles):
                    mutation = self._plan(lambda: namespace.delete(self.state, path, recursive))
                    self._commit(mutation)
            log.info("deleted %s for good (%d changes)", path, len(mutation.changes))
            return
        now = self.clock()
        hidden = namespace.trash_path(path, now)
        with self.paths.hold(write=[path, hidden]):
            mutation = self._plan(lambda: namespace.move_to_trash(self.state, path, recursive, now))
            self._commit(mutation)
        log.info("deleted %s (in the trash as %s)", path, mutation.args.get("as", path))

    def undelete(self, path: str) -> None:
        with self.paths.hold(write=[path, namespace.TRASH]):
            mutation = self._plan(lambda: namespace.undelete(self.state, path, self.clock()))
            self._commit(mutation)
        log.info("restored %s from the trash", path)

    def purge_trash(self) -> None:
        """Deletes for good what has been in the trash longer than the grace period."""
        with self._core:
            expired = namespace.expired_trash(self.state, self.clock(), self.config.trash_grace)
        for hidden in expired:
            with contextlib.suppress(errors.NotFound):  # purged or restored meanwhile
                self.delete(hidden, recursive=True, skip_trash=True)

    def rename(self, src: str, dst: str) -> None:
        with self.paths.hold(write=[src, dst]):
            self._commit(self._plan(lambda: namespace.rename(self.state, src, dst, self.clock())))

    def extend(self, path: str, length: int) -> None:
        with self.paths.hold(write=[path]):
            self._commit(
                self._plan(lambda: namespace.extend(self.state, path, length, self.clock()))
            )

    def snapshot(self, src: str, dst: str) -> None:
        """Copies `src` (a file or a tree) to `dst` in metadata only (GFS section 3.4): leases
        on its chunks are taken back first, so no write can slip in unseen; chunks are shared
        until one side writes to them."""
        with self.paths.hold(write=[src, dst]):
            with self._core:
                namespace.lookup(self.state, src)
                handles = sorted({h for n in self.state.subtree(src) for h in n.chunks})
            for handle in handles:
                with self._chunk_lock(handle):
                    with self._core:
                        chunk = self.state.chunks[handle]
                    self._stop_primary(chunk, f"snapshot of {src}")
            self._commit(self._plan(lambda: namespace.snapshot(self.state, src, dst, self.clock())))
        log.info("snapshot of %s taken as %s (%d chunks shared)", src, dst, len(handles))

    def _unshare(self, path: str, index: int) -> None:
        """Before a write to a chunk a snapshot shares, gives `path` its own copy: every live
        replica copies the chunk locally to a new handle, then the file is pointed at it."""
        with self.paths.hold(write=[path]), self._allocation:
            with self._core:
                handle = namespace.lookup_file(self.state, path).chunks[index]
                chunk = self.state.chunks[handle]
            if chunk.refcount <= 1:
                return
            with self._chunk_lock(handle):
                now = self.clock()
                with self._core:
                    mutation = namespace.split_chunk(self.state, path, index, now)
                    replicas = self.servers.replicas(handle, now)
                new = int(mutation.args["to"])  # type: ignore[call-overload]
                request = chunkserver_pb2.CopyLocalRequest(
                    handle=handle, version=chunk.version, new_handle=new, new_version=chunk.version
                )

                def copy(address: str) -> str | None:
                    try:
                        rpc.call(
                            self.channels.chunkserver(address).CopyLocal,
                            request,
                            target=address,
                            timeout=self.config.rpc_timeout * 12,
                        )
                        return address
                    except errors.GfsError as err:
                        log.warning("local copy of chunk %d on %s failed: %s", handle, address, err)
                        return None

                acks = [a for a in self._pool.map(copy, replicas) if a is not None]
                if not acks:
                    raise errors.Unavailable(f"no replica of chunk {handle} could be copied")
                self._commit(mutation)
                with self._core:
                    for address in acks:
                        self.servers.confirm(new, address, self.clock())
        log.info(
            "chunk %d of %s copied locally to chunk %d on %s before a write (copy-on-write)",
            index,
            path,
            new,
            ", ".join(acks),
        )

    def list_dir(self, path: str) -> list[Node]:
        with self.paths.hold(read=[path]), self._core:
            return namespace.list_dir(self.state, path)

    def stat(self, path: str) -> tuple[Node, list[ChunkView]]:
        with self.paths.hold(read=[path]), self._core:
            node = namespace.lookup(self.state, path)
            now = self.clock()
            views = [self._view(node, i, now) for i in range(len(node.chunks))]
            return node, views

    # --- chunks and leases --------------------------------------------------------------------

    def _view(self, node: Node, index: int, now: float) -> ChunkView:
        handle = node.chunks[index]
        chunk = self.state.chunks[handle]
        replicas = self.servers.replicas(handle, now)
        size = max(0, min(self.config.chunk_size, node.size - index * self.config.chunk_size))
        primary = chunk.lease_holder if chunk.lease_valid(now) else ""
        return ChunkView(index, handle, chunk.version, size, replicas, primary)

    def get_chunk(self, path: str, index: int, for_write: bool) -> ChunkView:
        if index < 0:
            raise errors.InvalidArgument(f"chunk index must be >= 0, not {index}")
        if for_write:
            self._allocate_through(path, index)
            self._unshare(path, index)
        with self.paths.hold(read=[path]):
            with self._core:
                node = namespace.lookup_file(self.state, path)
                if index >= len(node.chunks):
                    raise errors.NotFound(f"{path} has no chunk {index}")
                handle = node.chunks[index]
            if for_write:
                with self._chunk_lock(handle):
                    self._ensure_lease(handle)
            with self._core:
                view = self._view(self.state.nodes[path], index, self.clock())
                if len(view.replicas) < self.config.replication:
                    self._wanted.add(view.handle)  # a client is waiting on it: copy it sooner
                return view

    def _prune_chunk_locks(self) -> None:
        """Drops the locks of chunks that no longer exist (nobody can be waiting on them)."""
        with self._core:
            gone = [h for h in self._chunk_locks if h not in self.state.chunks]
        with self._chunk_guard:
            for handle in gone:
                lock = self._chunk_locks.get(handle)
                if lock is not None and not lock.locked():
                    del self._chunk_locks[handle]

    def _chunk_lock(self, handle: int) -> threading.Lock:
        with self._chunk_guard:
            return self._chunk_locks.setdefault(handle, threading.Lock())

    @contextlib.contextmanager
    def _holding_chunks(self, handles: set[int]) -> Iterator[None]:
        """The locks of these chunks, taken in handle order (no deadlock between holders)."""
        with contextlib.ExitStack() as held:
            for handle in sorted(handles):
                held.enter_context(self._chunk_lock(handle))
            yield

    def _allocate_through(self, path: str, index: int) -> None:
        """Adds chunks up to `index` to the file, each with replicas created on distinct live
        servers, unless it has them already."""
        with self.paths.hold(read=[path]), self._core:
            if index < len(namespace.lookup_file(self.state, path).chunks):
                return
        with self.paths.hold(write=[path]), self._allocation:
            now = self.clock()
            with self._core:
                mutation = namespace.add_chunks(self.state, path, index, now)
                candidates = self._candidates(now)
                roomy = self._roomy(now)
            handles: list[int] = list(mutation.args.get("handles", []))  # type: ignore[call-overload]
            if not handles:
                return
            r = self.config.replication
            if len(candidates) < r:
                raise errors.FailedPrecondition(
                    f"only {len(candidates)} chunkserver(s) alive; replication {r} needs {r}"
                )
            if len(roomy) < r:
                raise errors.ResourceExhausted(
                    f"only {len(roomy)} chunkserver(s) have room for a new chunk "
                    f"({self.config.chunk_size} bytes); replication {r} needs {r}"
                )
            # Until its replicas exist, a new chunk is not under-replicated: repair must not
            # copy (or trim) it while a slow server still has its creation on the way.
            with self._core:
                self._creating.update(handles)
            try:
                self._commit(mutation)
                for handle in handles:
                    acks = self._create_replicas(handle, roomy)
                    log.info(
                        "chunk %d of %s created on %s", handle, path, ", ".join(acks) or "none"
                    )
            finally:
                with self._core:
                    self._creating.difference_update(handles)

    def _roomy(self, now: float) -> list[placement.Candidate]:
        """Live servers that may take a new replica and have room for a whole chunk."""
        return [c for c in self._candidates(now) if c.free_bytes >= self.config.chunk_size]

    def _create_replicas(self, handle: int, roomy: list[placement.Candidate]) -> list[str]:
        """Creates the chunk's (empty) replicas at version 1 on servers placement picks from
        `roomy`; returns those that acknowledged."""
        chosen = placement.choose(roomy, self.config.replication)
        return self._set_version(handle, 1, chosen, create=True)

    def _create_again(self, handle: int) -> list[str]:
        """Makes new replicas of a never-written chunk that has none left (its creation was cut
        short by a master crash, say): it holds nothing, so nothing is lost. The caller holds
        the chunk's lock and has checked both."""
        with self._core:
            roomy = self._roomy(self.clock())
        acks = self._create_replicas(handle, roomy)
        log.warning(
            "chunk %d had no replica and was never written: created again on %s",
            handle,
            ", ".join(acks) or "none",
        )
        return acks

    def _set_version(
        self, handle: int, version: int, servers: list[str], create: bool
    ) -> list[str]:
        """Tells each server the chunk's version; returns those that acknowledged, each
        recorded as holding it as soon as it acknowledges (not one of them before)."""

        def tell(address: str) -> str | None:
            try:
                self._tell_version(handle, version, address, create)
            except errors.GfsError as err:
                log.warning(
                    "chunkserver %s missed version %d of chunk %d: %s",
                    address,
                    version,
                    handle,
                    err,
                )
                return None
            return address

        acks = [a for a in self._pool.map(tell, servers) if a is not None]
        with self._core:
            self.servers.reset_versions(handle, set(acks))
        return acks

    def _tell_version(self, handle: int, version: int, address: str, create: bool) -> None:
        """One server learns the chunk's version; once it acknowledges it is listed as holding
        it. Raises the RPC's error."""
        rpc.call(
            self.channels.chunkserver(address).SetVersion,
            chunkserver_pb2.SetVersionRequest(handle=handle, version=version, create=create),
            target=address,
            timeout=self.config.rpc_timeout,
        )
        with self._core:
            self.servers.confirm(handle, address, self.clock())

    def _ensure_lease(self, handle: int) -> None:
        """Makes sure the chunk has a primary with a valid lease (GFS section 3.1): bump the
        version and log it, tell the live replicas, then name a primary."""
        now = self.clock()
        with self._core:
            chunk = self.state.chunks[handle]
            replicas = self.servers.replicas(handle, now)
            lost = self.servers.lost(handle, now)
        if not replicas and chunk.never_written:
            replicas = self._create_again(handle)
        decision = leases.decide(chunk, replicas, now, lost)
        if isinstance(decision, leases.Revoke):
            chunk = self._revoke(chunk, f"replica(s) {', '.join(lost)} died")
            decision = leases.decide(chunk, replicas, self.clock())
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
                bumped, holders = self._bump_version(chunk, replicas)
        version = bumped.version
        # Spread primaries (and with them the ordering work) over the replicas by handle.
        primary = holders[handle % len(holders)]
        secondaries = [a for a in holders if a != primary]
        granted_at = self.clock()
        leased = dataclasses.replace(
            bumped,
            lease_holder=primary,
            lease_expiry=granted_at + self.config.lease_seconds + self.config.rpc_timeout,
        )
        self._commit(
            Mutation("grant_lease", {"handle": handle, "primary": primary}, (PutChunk(leased),))
        )
        rpc.call(
            self.channels.chunkserver(primary).GrantLease,
            chunkserver_pb2.GrantLeaseRequest(
                handle=handle,
                version=version,
                seconds=self.config.lease_seconds,
                secondaries=secondaries,
                chunk_size=self.config.chunk_size,
            ),
            target=primary,
            timeout=self.config.rpc_timeout,
        )
        log.info("lease on chunk %d v%d granted to %s", handle, version, primary)

    def _revoke(self, chunk: Chunk, reason: str) -> Chunk:
        """Takes the lease back from a live primary (GFS section 3.1: the master may revoke a
        lease); once it acknowledges, no write is being ordered under it."""
        holder = chunk.lease_holder
        rpc.call(
            self.channels.chunkserver(holder).RevokeLease,
            chunkserver_pb2.RevokeLeaseRequest(handle=chunk.handle, version=chunk.version),
            target=holder,
            timeout=self.config.rpc_timeout,
        )
        # Expired now, never 0.0: the chunk was leased, so the next grant must bump the version.
        revoked = dataclasses.replace(chunk, lease_holder="", lease_expiry=self.clock())
        self._commit(
            Mutation(
                "revoke_lease", {"handle": chunk.handle, "holder": holder}, (PutChunk(revoked),)
            )
        )
        log.info("lease on chunk %d revoked from %s: %s", chunk.handle, holder, reason)
        return revoked

    def _stop_primary(self, chunk: Chunk, reason: str) -> tuple[Chunk, list[str] | None]:
        """Makes sure no primary orders mutations of the chunk (the caller holds its lock): a
        live primary gives its lease up; one that cannot be reached (it may only be cut off) is
        fenced out by a version bump among the live replicas, which refuse the old version, and
        its lease record stays, so no new primary is named before it ends. Returns the chunk as
        it now stands and, after a fence, the replicas at its new version."""
        now = self.clock()
        if not chunk.lease_valid(now):
            return chunk, None
        with self._core:
            holder_alive = self.servers.alive(chunk.lease_holder, now)
            live = self.servers.replicas(chunk.handle, now)
        if holder_alive:
            return self._revoke(chunk, reason), None
        fenced, holders = self._bump_version(chunk, live, keep_lease=True)
        log.info(
            "chunk %d fenced at v%d (%s): its primary %s is unreachable",
            chunk.handle,
            fenced.version,
            reason,
            chunk.lease_holder,
        )
        return fenced, holders

    def _bump_version(
        self, chunk: Chunk, replicas: list[str], keep_lease: bool = False
    ) -> tuple[Chunk, list[str]]:
        """Logs version+1, then tells the live replicas; those that miss it become stale.
        With `keep_lease` the lease record stays (no new primary before it ends) while the bump
        fences its holder out: replicas refuse mutations that name the old version."""
        handle, version = chunk.handle, chunk.version + 1
        with self._core:
            self._versions_in_flight.add(handle)
        try:
            if keep_lease:
                bumped = dataclasses.replace(chunk, version=version)
            else:
                bumped = dataclasses.replace(
                    chunk, version=version, lease_holder="", lease_expiry=0.0
                )
            # Logged, not yet heard of: a replica is listed again once it acknowledges.
            self._commit(
                Mutation(
                    "bump_version", {"handle": handle, "version": version}, (PutChunk(bumped),)
                ),
                along=lambda: self.servers.reset_versions(handle, set()),
            )
            holders = self._set_version(handle, version, replicas, create=False)
        finally:
            with self._core:
                self._versions_in_flight.discard(handle)
        if not holders:
            # Nothing can be written under a version no replica took: the replicas at the
            # versions before it stay current, and are told this one when they report.
            floor = chunk.floor or chunk.version
            self._commit(
                Mutation(
                    "version_untaken",
                    {"handle": handle, "version": version, "floor": floor},
                    (PutChunk(dataclasses.replace(bumped, floor=floor)),),
                )
            )
            log.warning(
                "no replica of chunk %d took version %d; those from v%d stay current",
                handle,
                version,
                floor,
            )
            raise errors.Unavailable(f"no replica of chunk {handle} accepted version {version}")
        if bumped.floor:  # taken at last: replicas below it are stale from now on
            bumped = dataclasses.replace(bumped, floor=0)
            self._commit(
                Mutation(
                    "version_taken", {"handle": handle, "version": version}, (PutChunk(bumped),)
                )
            )
        return bumped, holders

    # --- chunkservers -------------------------------------------------------------------------

    def heartbeat(self, beat: Heartbeat) -> tuple[list[Removal], list[int]]:
        """Takes a chunkserver's report; returns the replicas it must remove and the leases
        (handles) extended for it."""
        now = self.clock()
        with self._core:
            known = self.servers.servers.get(beat.address)
            before_corrupt = set(known.corrupt) if known else set()
            before_stale = set(known.stale) if known else set()
            before_garbage = {r.handle for r in beat.reports if known and r.handle in known.garbage}
            new = beat.address not in self.servers.servers or beat.address in self._known_dead
            outcome = self.servers.heartbeat(self.state, beat, now, self._versions_in_flight)
            self._known_dead.discard(beat.address)
        if new:
            log.info(
                "chunkserver %s (rack %s) joined with %d replicas",
                beat.address,
                beat.rack,
                len(beat.reports),
            )
        for removal in outcome.removals:  # once per replica: a report repeats until it is gone
            if removal.handle not in before_stale | before_garbage:
                log.info(
                    "replica of chunk %d on %s is stale or of a deleted chunk: it goes",
                    removal.handle,
                    beat.address,
                )
        for handle in set(beat.corrupt) - before_corrupt:
            log.warning("replica of chunk %d on %s is corrupt", handle, beat.address)
        with self._core:
            behind = {(h, beat.address) for h in outcome.behind} - self._catching_up
            self._catching_up |= behind
        for handle, address in behind:
            self._pool.submit(self._catch_up, handle, address)
        if outcome.adoption is not None:
            self._commit(outcome.adoption)
            log.warning(
                "adopted higher versions reported by %s: %s", beat.address, outcome.adoption.args
            )
        removals = outcome.removals
        if self.safe_mode.active:
            if removals:
                log.info(
                    "safe mode: not removing %d replicas on %s yet", len(removals), beat.address
                )
            removals = []
        else:
            with self._core:
                ordered = self._removals.pop(beat.address, [])
                for removal in ordered:  # sent only now: hidden from now on, reports and all
                    self.servers.remove(removal.handle, beat.address, now)
                removals += ordered
        return removals, self._extend_leases(beat.address, beat.extend)

    def _catch_up(self, handle: int, address: str) -> None:
        """Tells a replica left behind by version bumps no replica took the chunk's version
        (it missed no mutation); it counts once it acknowledges."""
        try:
            with self._chunk_lock(handle):
                with self._core:
                    chunk = self.state.chunks.get(handle)
                    if chunk is None or not chunk.floor:
                        return
                self._tell_version(handle, chunk.version, address, create=False)
            log.info("replica of chunk %d on %s caught up to v%d", handle, address, chunk.version)
        except errors.GfsError as err:
            log.warning("replica of chunk %d on %s did not catch up: %s", handle, address, err)
        except Exception:
            log.exception("catching up chunk %d on %s failed", handle, address)
        finally:
            with self._core:
                self._catching_up.discard((handle, address))

    def _extend_leases(self, holder: str, requests: list[tuple[int, int]]) -> list[int]:
        """Extends (and logs) the leases `holder` asked for, under the chunks' locks so that no
        grant or version bump of the same chunk interleaves."""
        if not requests:
            return []
        with self._holding_chunks({h for h, _ in requests}):
            now = self.clock()
            until = now + self.config.lease_seconds + self.config.rpc_timeout
            with self._core:
                extended = leases.extensions(self.state.chunks, holder, requests, now, until)
            if extended:
                self._commit(
                    Mutation(
                        "extend_leases",
                        {"holder": holder, "handles": [c.handle for c in extended]},
                        tuple(PutChunk(c) for c in extended),
                    )
                )
        return [c.handle for c in extended]

    def check_liveness(self) -> list[str]:
        """Declares servers dead that stopped reporting; returns those newly dead."""
        now = self.clock()
        with self._core:
            dead = [
                a
                for a in self.servers.servers
                if not self.servers.alive(a, now) and a not in self._known_dead
            ]
            self._known_dead.update(dead)
        for address in dead:
            log.warning(
                "chunkserver %s is dead (silent for %.1fs)", address, self.config.dead_after
            )
        self.update_safe_mode()
        return dead

    def chunk_counts(self) -> tuple[int, int]:
        """(chunks known, chunks with at least one live replica of the current version)."""
        now = self.clock()
        with self._core:
            known = len(self.state.chunks)
            reported = sum(
                1
                for h, c in self.state.chunks.items()
                if c.never_written or self.servers.replicas(h, now)
            )
        return known, reported

    def update_safe_mode(self) -> None:
        known, reported = self.chunk_counts()
        if self.safe_mode.update(known, reported):
            log.info("leaving safe mode: %d of %d chunks reported", reported, known)

    def set_safe_mode(self, action: str) -> None:
        if action == "enter":
            self.safe_mode.enter()
            log.info("safe mode entered by an operator")
        elif action == "leave":
            self.safe_mode.leave()
            log.info("safe mode left by an operator")
        elif action != "get":
            raise errors.InvalidArgument(
                f"safe mode action must be get, enter or leave: {action!r}"
            )

    def chunk(self, handle: int) -> Chunk | None:
        with self._core:
            return self.state.chunks.get(handle)

    def report(self) -> list[tuple[str, str, str, int, int, int, float]]:
        """(address, rack, state, chunks, used, free, seconds since last heartbeat) per server."""
        now = self.clock()
        with self._core:
            return [
                (
                    s.address,
                    s.rack,
                    self.server_state(s.address, now),
                    len(s.handles),
                    s.used_bytes,
                    s.free_bytes,
                    now - s.last_heartbeat,
                )
                for s in sorted(self.servers.servers.values(), key=lambda s: s.address)
            ]

    def _candidates(self, now: float) -> list[placement.Candidate]:
        """Live servers that may take new replicas: not those being decommissioned."""
        return [c for c in self.servers.candidates(now) if c.address not in self._retiring]

    def decommission(self, address: str) -> None:
        """Drains a server: its replicas stop counting, are copied elsewhere, then removed; it
        is reported `decommissioned` (safe to remove) once it holds none."""
        with self._core:
            if address not in self.servers.servers:
                raise errors.NotFound(f"no chunkserver {address} is known")
            self._retiring.add(address)
        log.info("decommissioning %s: draining its replicas", address)

    def server_state(self, address: str, now: float) -> str:
        """alive, dead, decommissioning (being drained) or decommissioned (empty, removable)."""
        if address in self._retiring:
            info = self.servers.servers[address]
            empty = not info.handles and not info.reported and not self._removals.get(address)
            return "decommissioned" if empty else "decommissioning"
        return "alive" if self.servers.alive(address, now) else "dead"

    # --- replica health -----------------------------------------------------------------------

    def _steady_chunks(self) -> dict[int, Chunk]:
        """Chunks repair and balancing may judge by their listed replicas: not those being
        created nor those whose version is changing (listed again replica by replica as each
        acknowledges, so they look under-replicated meanwhile). The caller holds `_core`."""
        busy = self._creating | self._versions_in_flight
        return {h: c for h, c in self.state.chunks.items() if h not in busy}

    def repair(self) -> None:
        """One round of replica management (GFS section 4.3): copies for under-replicated
        chunks, most urgent first and throttled per server; removals of surplus replicas and of
        corrupt ones whose chunk is whole again. Nothing while in safe mode."""
        self._prune_chunk_locks()
        if self.safe_mode.active:
            return
        now = self.clock()
        target = self.config.replication
        with self._core:
            chunks = self._steady_chunks()
            live = {h: self.servers.replicas(h, now) for h in chunks}
            racks = {a: s.rack for a, s in self.servers.servers.items()}
            free = {a: s.free_bytes for a, s in self.servers.servers.items()}
            busy: dict[str, int] = {}
            for c in self._cloning.values():
                busy[c.source] = busy.get(c.source, 0) + 1
                busy[c.target] = busy.get(c.target, 0) + 1
            self._wanted = {h for h in self._wanted if 0 < len(live.get(h, ())) < target}
            clones = replication.plan_clones(
                chunks,
                live,
                self._candidates(now),
                racks,
                target,
                self.config.chunk_size,
                busy,
                self.config.clone_limit,
                self._wanted,
                self._cloning,
                self._retiring,
            )
            for clone in clones:
                self._cloning[clone.handle] = clone
                log.info(
                    "copying chunk %d (%d live) from %s to %s",
                    clone.handle,
                    len(live[clone.handle]),
                    clone.source,
                    clone.target,
                )
            empty = [h for h, c in chunks.items() if c.never_written and not live[h]]
            self._creating.update(empty)
            settled = {h: c for h, c in chunks.items() if h not in self._cloning}
            trims = replication.plan_trims(settled, live, free, racks, target, now, self._retiring)
            queued = {(a, r.handle) for a, rs in self._removals.items() for r in rs}
            for address, removals in trims.items():
                for removal in removals:
                    self.servers.remove(removal.handle, address, now)
                    log.info(
                        "chunk %d has more than %d replicas: removing the one on %s",
                        removal.handle,
                        target,
                        address,
                    )
                self._removals.setdefault(address, []).extend(removals)
            for info in self.servers.servers.values():
                for handle in info.corrupt:
                    chunk = self.state.chunks.get(handle)
                    whole = chunk is not None and len(live.get(handle, ())) >= target
                    if whole and (info.address, handle) not in queued:
                        assert chunk is not None
                        self._removals.setdefault(info.address, []).append(
                            Removal(handle, chunk.version)
                        )
                        log.info(
                            "corrupt replica of chunk %d on %s replaced; removing it",
                            handle,
                            info.address,
                        )
        for clone in clones:
            self._pool.submit(self._clone, clone)
        for handle in empty:
            self._pool.submit(self._recreate, handle)

    def _recreate(self, handle: int) -> None:
        """Repair's part in re-creating a never-written chunk that has no replica."""
        try:
            with self._chunk_lock(handle):
                with self._core:
                    chunk = self.state.chunks.get(handle)
                    replicas = self.servers.replicas(handle, self.clock())
                if chunk is not None and chunk.never_written and not replicas:
                    self._create_again(handle)
        except Exception:
            log.exception("creating chunk %d again failed", handle)
        finally:
            with self._core:
                self._creating.discard(handle)

    def balance(self) -> int:
        """Starts moves from the servers holding the most replicas to those holding the fewest
        (throttled like repair); returns how many started. Nothing in safe mode."""
        if self.safe_mode.active:
            return 0
        now = self.clock()
        with self._core:
            chunks = self._steady_chunks()
            live = {h: self.servers.replicas(h, now) for h in chunks}
            counts = {c.address: c.chunks for c in self._candidates(now)}
            racks = {a: s.rack for a, s in self.servers.servers.items()}
            busy: dict[str, int] = {}
            for c in self._cloning.values():
                busy[c.source] = busy.get(c.source, 0) + 1
                busy[c.target] = busy.get(c.target, 0) + 1
            moves = replication.plan_moves(
                self.state.chunks,
                live,
                counts,
                racks,
                busy,
                self.config.clone_limit,
                self._cloning,
            )
            for move in moves:
                self._cloning[move.handle] = move
        for move in moves:
            log.info(
                "balancing: moving chunk %d from %s to %s", move.handle, move.source, move.target
            )
            self._pool.submit(self._clone, move)
        return len(moves)

    def _clone(self, clone: replication.Clone) -> None:
        """Carries out one copy under the chunk's lock: a lease in force is revoked first (the
        new replica would miss its writes), and the copy counts only if the version did not
        move meanwhile."""
        handle = clone.handle
        try:
            with self._chunk_lock(handle):
                with self._core:
                    chunk = self.state.chunks.get(handle)
                if chunk is None or chunk.version != clone.version:
                    return
                chunk, holders = self._stop_primary(chunk, f"copying it to {clone.target}")
                if holders is not None and clone.source not in holders:
                    return
                rpc.call(
                    self.channels.chunkserver(clone.target).CloneFrom,
                    chunkserver_pb2.CloneFromRequest(
                        handle=handle, version=chunk.version, source=clone.source
                    ),
                    target=clone.target,
                    timeout=self.config.rpc_timeout * 12,
                )
                with self._core:
                    current = self.state.chunks.get(handle)
                    if current is None or current.version != chunk.version:
                        return
                    self.servers.confirm(handle, clone.target, self.clock())
                    if clone.move:  # the source's replica goes: no longer handed out
                        self.servers.remove(handle, clone.source, self.clock())
                        self._removals.setdefault(clone.source, []).append(
                            Removal(handle, current.version)
                        )
                    count = len(self.servers.replicas(handle, self.clock()))
            log.info(
                "re-replicated chunk %d v%d from %s to %s (%d live replicas)",
                handle,
                chunk.version,
                clone.source,
                clone.target,
                count,
            )
        except errors.GfsError as err:
            log.warning(
                "copying chunk %d from %s to %s failed: %s", handle, clone.source, clone.target, err
            )
        except Exception:
            log.exception("copying chunk %d failed", handle)
        finally:
            with self._core:
                self._cloning.pop(handle, None)

    def fsck(self, path: str) -> dict[str, int]:
        """Health of every chunk of the files at or under `path` (DESIGN.md section 5)."""
        with self.paths.hold(read=[path]), self._core:
            namespace.lookup(self.state, path)
            files = [n for n in self.state.subtree(path) if not n.is_dir]
            handles = {h for f in files for h in f.chunks}
            now = self.clock()
            corrupt = {h for s in self.servers.servers.values() for h in s.corrupt}
            counts = {
                "files": len(files),
                "chunks": len(handles),
                "healthy": 0,
                "under_replicated": 0,
                "over_replicated": 0,
                "missing": 0,
                "corrupt": len(handles & corrupt),
                "stale_replicas": sum(
                    len(s.stale & handles) for s in self.servers.servers.values()
                ),
            }
            for handle in handles:
                live = len(self.servers.replicas(handle, now))
                if live == 0:
                    counts["missing"] += 1
                elif live < self.config.replication:
                    counts["under_replicated"] += 1
                elif live > self.config.replication:
                    counts["over_replicated"] += 1
                elif handle not in corrupt:
                    counts["healthy"] += 1
            return counts

    # --- the op log ---------------------------------------------------------------------------

    role = "master"

    def lag_seconds(self) -> float:
        """How far behind the master this server's state may be (0: it is the master)."""
        return 0.0

    def stream_log(
        self,
        since: int,
        follow: bool,
        limit: int,
        active: Callable[[], bool],
        follower: str = "",
    ) -> Iterator[LogEntry | None]:
        """Entries after `since`, oldest first; with `follow`, waits for new ones while
        `active()` holds, yielding None as a keepalive each second it has nothing. Fails if
        entries the reader needs were compacted away. A named `follower`'s position is kept,
        so compaction leaves it what it still needs."""
        if follower:
            self._followers[follower] = (since, time.monotonic())
        oldest, _ = self.store.log_bounds()
        if oldest > since + 1:
            raise errors.FailedPrecondition(
                f"log entries {since + 1}..{oldest - 1} were compacted; start from a checkpoint"
            )
        sent = 0
        while active() and (limit <= 0 or sent < limit):
            page = min(1000, limit - sent) if limit > 0 else 1000
            entries = self.store.read_log(since, page)
            yield from entries
            sent += len(entries)
            if entries:
                since = entries[-1].seq
                if follower:
                    self._followers[follower] = (since, time.monotonic())
            elif follow:
                self.store.wait_for_entries(since, timeout=1.0)
                if self.store.last_seq <= since:
                    yield None
            else:
                return

    def compact_log(self) -> None:
        """Drops old log entries, keeping `oplog_retain` and whatever a follower heard from
        within `follower_ttl` has not received yet."""
        oldest, newest = self.store.log_bounds()
        now = time.monotonic()
        needed = [
            seq for seq, seen in self._followers.values() if now - seen < self.config.follower_ttl
        ]
        keep = max([self.config.oplog_retain, *(newest - seq for seq in needed)])
        if newest - oldest + 1 > keep * 1.1:
            dropped = self.store.compact(keep)
            log.info("op log compacted: %d entries dropped, %d kept", dropped, keep)
