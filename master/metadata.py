"""The master's metadata: the state, how a change becomes durable and visible, and the read
queries. This is exactly what a shadow master has too; the writers compose it.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from common import errors
from master import health, image, leases, namespace
from master.chunkservers import Chunkservers, ServerReport
from master.config import MasterConfig
from master.locks import PathLocks
from master.permissions import EXECUTE, READ, SUPERUSER, Caller, check
from master.quorum import Quorum
from master.rows import change_json
from master.state import (
    Chunk,
    DeleteChunk,
    MasterState,
    Mutation,
    Node,
    PutChunk,
    PutNode,
    RaiseNextHandle,
)
from master.store import Store


@dataclass(frozen=True)
class ChunkView:
    index: int
    handle: int
    version: int
    size: int
    replicas: list[str]
    primary: str  # "" when no valid lease
    plain_reads: list[str]  # each replica's plain read port ("": none)
    slow: list[str] = field(default_factory=list)  # replicas on a server with a slow disk


class Metadata:
    """Invariant: `state` is exactly what the store's tables hold (but for lease ends a clock
    set back made impossible: see leases.no_later_than); a change reaches `state` only after
    the store made it durable. Chunk locations (`servers`) are memory only, rebuilt
    from reports. `core` guards both, and is the innermost lock: nothing is awaited under it."""

    def __init__(
        self, config: MasterConfig, store: Store, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.state: MasterState = image.load_state(store)
        longest = leases.lease_until(clock(), config.lease_seconds, config.rpc_timeout)
        self.state.chunks.update(leases.no_later_than(self.state.chunks, longest))
        self.servers = Chunkservers(dead_after=config.dead_after)
        self.paths = PathLocks()
        self.core = threading.Lock()
        self.quorum = Quorum(config.master_replicas)
        # Changes between durable and applied, and whether a cut holds new ones back.
        self._changing = threading.Condition()
        self._under_way = 0
        self._held = False

    # --- changes ------------------------------------------------------------------------------

    def commit(self, mutation: Mutation, along: Callable[[], None] | None = None) -> None:
        """Makes `mutation` durable here and on a majority of the master's replicas, then
        applies it (and `along`, in the same step under `core`: nobody sees one without the
        other). Unavailable if no majority held it in time: applied all the same, as the
        store has it, but not acknowledged."""
        self.commit_all([mutation], along)

    def commit_all(
        self, mutations: list[Mutation], along: Callable[[], None] | None = None
    ) -> None:
        """Commits the mutations as `commit` does one, all in one transaction, applied in
        order."""
        unacknowledged: errors.Unavailable | None = None
        with self.changing():
            seq = self.store.commit_all(mutations)
            try:
                self.quorum.wait(seq, self.config.rpc_timeout)
            except errors.Unavailable as err:
                unacknowledged = err
            with self.core:
                for mutation in mutations:
                    self.state.apply(mutation)
                    for change in mutation.changes:
                        if isinstance(change, DeleteChunk):
                            self.servers.chunk_deleted(change.handle)
                        elif isinstance(change, PutChunk):  # new, its version or replication
                            self.servers.touched.add(change.chunk.handle)
                if along is not None:
                    along()
        if unacknowledged is not None:
            raise unacknowledged

    @contextlib.contextmanager
    def changing(self) -> Iterator[None]:
        """Around a change from before the store takes it until `state` has it (and every
        other way the store and `state` move): what `cut` waits out."""
        with self._changing:
            self._changing.wait_for(lambda: not self._held)
            self._under_way += 1
        try:
            yield
        finally:
            with self._changing:
                self._under_way -= 1
                self._changing.notify_all()

    def cut(self) -> image.Cut:
        """The state exactly as of the store's last entry, for an image: new changes wait
        while the ones under way finish and the dicts are copied (a million entries: ~0.2 s;
        the entries themselves are immutable and shared)."""
        with self._changing:
            self._held = True
            try:
                self._changing.wait_for(lambda: self._under_way == 0)
                with self.core:
                    state = self.state
                    return image.Cut(
                        self.store.last_seq,
                        dict(state.nodes),
                        dict(state.chunks),
                        state.next_handle,
                    )
            finally:
                self._held = False
                self._changing.notify_all()

    def checkpoint(self, page: int = 1000) -> tuple[int, Iterator[list[dict[str, Any]]]]:
        """The state as of one log entry, as pages of change JSON, for a follower that needs
        entries compacted away. From a cut: commits wait only while its dicts are copied (read
        from the tables under the writer's lock, a million files held every commit ~10 s)."""
        cut = self.cut()
        rows = itertools.chain(
            [change_json(RaiseNextHandle(cut.next_handle))],
            (change_json(PutNode(n)) for n in cut.nodes.values()),
            (change_json(PutChunk(c)) for c in cut.chunks.values()),
        )
        return cut.seq, iter(lambda: list(itertools.islice(rows, page)), [])

    def plan(self, planner: Callable[[], Mutation]) -> Mutation:
        with self.core:
            return planner()

    def reload(self) -> None:
        """Takes the store's state as it is now (after a checkpoint was installed: the caller
        holds `changing`)."""
        state = self.store.load()
        with self.core:
            self.state = state
            self.servers.want_full_reports()
            self.servers.touched.update(state.chunks)

    # --- reads --------------------------------------------------------------------------------

    def chunk(self, handle: int) -> Chunk | None:
        with self.core:
            return self.state.chunks.get(handle)

    def list_dir(self, path: str, caller: Caller = SUPERUSER) -> list[Node]:
        with self.paths.hold(read=[path]), self.core:
            return namespace.list_dir(self.state, path, caller)

    def list_some(self, path: str, limit: int) -> tuple[list[Node], int]:
        """The first `limit` entries of a directory by name, and how many it has."""
        with self.paths.hold(read=[path]), self.core:
            entries = namespace.list_dir(self.state, path, limit=limit)
            return entries, len(self.state.children.get(path, ()))

    def stat(self, path: str, caller: Caller = SUPERUSER) -> tuple[Node, list[ChunkView]]:
        """A path's entry (reaching it is enough) and, for a file, where its chunks are (that
        takes read: the reply carries read tokens)."""
        with self.paths.hold(read=[path]), self.core:
            found = self.state.nodes.get(path)
            file = found is not None and not found.is_dir
            check(self.state, path, caller, access=READ if file else 0)
            node = namespace.lookup(self.state, path)
            now = self.clock()
            return node, [self.view(node, i, now) for i in range(len(node.chunks))]

    def view(self, node: Node, index: int, now: float) -> ChunkView:
        """Where chunk `index` of `node` lives. The caller holds `core`."""
        handle = node.chunks[index]
        chunk = self.state.chunks[handle]
        replicas = self.servers.replicas(handle, now)
        size = max(0, min(self.config.chunk_size, node.size - index * self.config.chunk_size))
        primary = chunk.lease_holder if chunk.lease_valid(now) else ""
        plain = [self.servers.servers[a].plain_reads for a in replicas]
        slow = [a for a in replicas if self.servers.servers[a].slow_dirs]
        return ChunkView(index, handle, chunk.version, size, replicas, primary, plain, slow)

    def chunk_view(self, path: str, index: int, caller: Caller = SUPERUSER) -> ChunkView:
        """Chunk `index` of file `path`, for a read."""
        with self.paths.hold(read=[path]), self.core:
            namespace.check_read(self.state, path, caller)
            node = namespace.lookup_file(self.state, path)
            if index >= len(node.chunks):
                raise namespace.no_chunk(path, index)
            return self.view(node, index, self.clock())

    def report(self) -> list[ServerReport]:
        now = self.clock()
        with self.core:
            return self.servers.report(now)

    def fsck(self, path: str, caller: Caller = SUPERUSER) -> dict[str, int]:
        """Health of every chunk of the files at or under `path`."""
        with self.paths.hold(read=[path]), self.core:
            check(self.state, path, caller)
            namespace.lookup(self.state, path)
            files = [n for n in self.state.subtree(path) if not n.is_dir]
            return health.fsck(
                files, self.state.chunks, self.servers, self.config.replication, self.clock()
            )

    def summary(self, path: str, caller: Caller = SUPERUSER) -> dict[str, int]:
        """{"length", "files", "directories", "consumed"} at or under `path` (read and
        execute on every directory there, as HDFS's content summary)."""
        with self.paths.hold(read=[path]), self.core:
            check(self.state, path, caller, subtree=READ | EXECUTE)
            namespace.lookup(self.state, path)
            nodes = self.state.subtree(path)
        files = [n for n in nodes if not n.is_dir]
        default = self.config.replication
        return {
            "length": sum(n.size for n in files),
            "files": len(files),
            "directories": len(nodes) - len(files),
            "consumed": sum(n.size * (n.replication or default) for n in files),
        }

    def chunk_counts(self) -> tuple[int, int]:
        """(chunks known, chunks with at least one live replica of the current version)."""
        now = self.clock()
        servers = self.servers
        with self.core:  # the walks below take a million chunks ~0.5 s: not under `core`
            chunks = self.state.chunks  # only looked up in (atomic), never walked, outside it
            known, located = list(chunks.values()), dict(servers.locations)
            live = {a for a in servers.servers if servers.alive(a, now)}
        reported = sum(
            1 for h, held in located.items() if not live.isdisjoint(held) and h in chunks
        )  # a walk of the located chunks rather than a call per chunk
        reported += sum(1 for c in known if c.never_written and c.handle not in located)
        return len(known), reported
