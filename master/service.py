"""The master, put together from its parts, each owning its own state:

- `Metadata` (metadata.py): the state, durable commits, read queries: what a shadow has too.
- `NamespaceOperations` (operations.py): mkdir, create, delete, rename, snapshot, the trash.
- `ChunkControl` (chunkcontrol.py): allocation, copy-on-write; chunk locks. Its `Leasing`
  (leasing.py): versions and leases; its `ChunkPool` (chunkpool.py): new chunks made ahead.
- `ReplicaManager` (replicas.py): heartbeats, liveness, safe mode, decommissioning.
- `Repair` (repair.py): repair, balancing and the copies they start.
- `OpLog` (oplog.py): streaming the log to followers, compaction.

Every change is planned against the in-memory state under the locks that keep what was
checked from changing, committed to the store (durable), and only then applied in memory, so
a reader never sees a change that a crash could take back.

Lock hierarchy (a thread takes locks only in this order, so no two wait on each other):
  1. path locks (`Metadata.paths`), all of one operation's at once, in path order;
  2. chunk locks (`ChunkControl.locks`), in handle order;
  3. the handle reservation lock (`ChunkControl._handles`);
  4. `Metadata.core`, innermost: nothing is awaited while it is held.
The store's group commit is awaited under 1 and 2, never under 3 or 4. RPCs to chunkservers
are made under 1 and 2 only, and only by the chunk that needs them (a copy-on-write under its
file's and its chunk's locks; a version bump or lease grant under its chunk's lock); a
whole-chunk copy for re-replication holds no lock while the data moves.

The rule that keeps reference counts, versions and leases whole: a chunk's row is written only
under its chunk lock (every planner reads the row it rewrites under the same lock), except the
rows of handles just reserved, which no one else can know yet.

Two thread pools: RPC fan-outs (`rpc_workers`; nothing on it submits to a pool) and background
jobs (`job_workers`: copies, re-creations, catch-ups, which fan out on the other), so a job
never waits for the pool it occupies.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from common import errors, memory, transport
from common.clocks import SteadyClock
from master.calls import GrpcChunkserverCalls
from master.chunkcontrol import ChunkControl
from master.chunkservers import Heartbeat
from master.config import MasterConfig
from master.image import ImageWriter
from master.issuer import TokenIssuer
from master.metadata import ChunkView, Metadata
from master.operations import NamespaceOperations
from master.oplog import OpLog
from master.permissions import SUPERUSER, Caller
from master.repair import Repair
from master.replicas import BeatAnswer, ReplicaManager
from master.rows import LogEntry
from master.safemode import SafeMode
from master.state import Chunk, MasterState, Node
from master.store import Store

__all__ = ["ChunkView", "MasterService"]

log = logging.getLogger(__name__)

# How long a group commit waits for the standbys to hold the group before it (Store's
# `publish_early`); past it (a standby slow or gone), it goes on without.
GROUP_BEHIND_WAIT = 0.02

# Replicas reported in full after which the timer gives the memory judging them freed back.
GIVE_BACK_AFTER = 100_000


class MasterService:
    role = "master"

    def __init__(
        self,
        config: MasterConfig,
        store: Store,
        clock: Callable[[], float] | None = None,
        channels: transport.Channels | None = None,
        epoch: int = 0,
    ) -> None:
        """`epoch`: the term this master was elected active for (0: no coordinator). Its
        first log entry says so, and it steps down when a replica has promised a newer one."""
        self.config = config
        self.store = store
        self.epoch = epoch
        self.deposed = threading.Event()
        clock = clock or SteadyClock()  # a step of the wall clock moves no lease or liveness
        self.channels = channels or transport.Channels()
        self._fanout = ThreadPoolExecutor(config.rpc_workers, thread_name_prefix="master-rpc")
        self._jobs = ThreadPoolExecutor(config.job_workers, thread_name_prefix="master-job")
        calls = GrpcChunkserverCalls(self.channels, config.rpc_timeout, config.copy_timeout, epoch)
        self.metadata = Metadata(config, store, clock)
        self.tokens = TokenIssuer(config, clock) if config.tls is not None else None
        self.chunks = ChunkControl(self.metadata, calls, self._fanout, self.tokens, self._jobs)
        self.namespace = NamespaceOperations(self.metadata, self.chunks)
        self.replicas = ReplicaManager(self.metadata, self.chunks, self._jobs)
        self.repairs = Repair(self.metadata, self.chunks, self._jobs, self.replicas.safe_mode)
        self.oplog = OpLog(config, store, self.metadata.quorum)
        self.images = ImageWriter(store, self.metadata.cut, config.image_every)
        if epoch:
            seq = store.begin_epoch(epoch, config.address)
            log.info("active for term %d from log entry %d", epoch, seq)
        if config.master_replicas > 1:  # a change waits for a follower: send it at once
            quorum = self.metadata.quorum
            store.publish_early(self._step_down, lambda seq: quorum.reached(seq, GROUP_BEHIND_WAIT))
        # Replicas listed in full reports since the timer last gave freed memory back (the
        # heartbeat threads add without a lock: a lost addition only delays it a round).
        self.fully_reported = 0

    def close(self) -> None:
        self._jobs.shutdown(wait=False, cancel_futures=True)
        self._fanout.shutdown(wait=False, cancel_futures=True)
        self.channels.close()

    @property
    def state(self) -> MasterState:
        return self.metadata.state

    @property
    def safe_mode(self) -> SafeMode:
        return self.replicas.safe_mode

    def lag_seconds(self) -> float:
        """How far behind the master this server's state may be (0: it is the master)."""
        return 0.0

    def pooled(self) -> list[int]:
        """The handles of the new chunks ready in the pool."""
        with self.metadata.core:
            return sorted(self.chunks.pool.handles)

    def depose(self, epoch: int) -> None:
        """Ends this master's term on hearing of term `epoch`, newer than its own: it
        acknowledges nothing more (its server steps down to a standby)."""
        if epoch <= self.epoch:
            return
        self._step_down(f"this master's term {self.epoch} ended: term {epoch} has another active")

    def _step_down(self, reason: str) -> None:
        """Acknowledges nothing more (its server steps down to a standby)."""
        if self.deposed.is_set():
            return
        self.deposed.set()
        self.metadata.quorum.depose(reason)
        log.warning("deposed: %s", reason)

    def promise(self, epoch: int, candidate: str) -> tuple[int, str, int]:
        """A newly elected candidate's Promise reached this (deposed) active: it steps down
        and says where its log stands, as a standby would."""
        if epoch <= self.epoch:
            raise errors.FailedPrecondition(f"term {epoch} is not newer than this active's")
        self.depose(epoch)
        return self.store.position()

    def tick(self, balance: bool) -> None:
        """One round of the master's timer: liveness, repair, the trash, compaction, images."""
        if balance:
            self.repairs.balance()
        self.replicas.check_liveness()
        self.repairs.repair()
        self.namespace.purge_trash()
        self.oplog.compact()  # one min/max query unless there is work to do
        self.images.tick()
        if self.fully_reported >= GIVE_BACK_AFTER:
            self.fully_reported = 0
            memory.give_back()  # what judging those reports freed

    # --- what clients and tests call ----------------------------------------------------------

    def mkdir(self, path: str, parents: bool, caller: Caller = SUPERUSER) -> None:
        self.namespace.mkdir(path, parents, caller)

    def create(
        self,
        path: str,
        caller: Caller = SUPERUSER,
        replication: int = 0,
        first_chunk: bool = False,
    ) -> ChunkView | None:
        """A new empty file; with `first_chunk` also its chunk 0, leased for writing, when it
        can be made (a put that has data saves a lookup): from the pool, all in one commit.
        None when not asked or not made: the client's own lookup then meets the reason."""
        if first_chunk:
            view = self.chunks.create_with_first_chunk(path, caller, replication)
            if view is not None:
                self.repairs.wanted(view)
                return view
        self.namespace.create(path, caller, replication)
        if not first_chunk:
            return None
        try:
            return self.get_chunk(path, 0, True, caller)
        except errors.GfsError as err:
            log.info("%s created without its first chunk: %s", path, err)
            return None

    def create_many(
        self, files: list[tuple[str, int]], caller: Caller = SUPERUSER
    ) -> list[errors.GfsError | None]:
        """New empty files (path, replication) in one commit: each one's error or None."""
        return self.namespace.create_many(files, caller)

    def set_replication(self, path: str, replication: int, caller: Caller = SUPERUSER) -> int:
        return self.namespace.set_replication(path, replication, caller)

    def delete(
        self, path: str, recursive: bool, skip_trash: bool = False, caller: Caller = SUPERUSER
    ) -> None:
        self.namespace.delete(path, recursive, skip_trash, caller)

    def undelete(self, path: str, caller: Caller = SUPERUSER) -> None:
        self.namespace.undelete(path, caller)

    def purge_trash(self) -> None:
        self.namespace.purge_trash()

    def rename(self, src: str, dst: str, caller: Caller = SUPERUSER) -> None:
        self.namespace.rename(src, dst, caller)

    def extend(self, path: str, length: int, caller: Caller = SUPERUSER) -> None:
        self.namespace.extend(path, length, caller)

    def extend_for_primary(self, path: str, handle: int, primary: str, chunk_end: int) -> None:
        self.namespace.extend_for_primary(path, handle, primary, chunk_end)

    def snapshot(self, src: str, dst: str, caller: Caller = SUPERUSER) -> None:
        self.namespace.snapshot(src, dst, caller)

    def chmod(self, path: str, mode: int, caller: Caller = SUPERUSER) -> None:
        self.namespace.chmod(path, mode, caller)

    def chown(self, path: str, owner: str, group: str, caller: Caller = SUPERUSER) -> None:
        self.namespace.chown(path, owner, group, caller)

    def stat(self, path: str) -> tuple[Node, list[ChunkView]]:
        return self.metadata.stat(path)

    def chunk(self, handle: int) -> Chunk | None:
        return self.metadata.chunk(handle)

    def get_chunk(
        self, path: str, index: int, for_write: bool, caller: Caller = SUPERUSER
    ) -> ChunkView:
        view = self.chunks.get_chunk(path, index, for_write, caller)
        self.repairs.wanted(view)
        return view

    def heartbeat(self, beat: Heartbeat) -> BeatAnswer:
        if not beat.incremental or beat.part:
            self.fully_reported += len(beat.reports)
        return self.replicas.heartbeat(beat)

    def update_safe_mode(self) -> None:
        self.replicas.update_safe_mode()

    def set_safe_mode(self, action: str) -> None:
        self.replicas.set_safe_mode(action)

    def decommission(self, address: str, cancel: bool = False) -> None:
        self.replicas.decommission(address, cancel)

    def repair(self) -> None:
        self.repairs.repair()

    def balance(self) -> int:
        return self.repairs.balance()

    def stream_log(
        self,
        since: int,
        follow: bool,
        limit: int,
        active: Callable[[], bool],
        follower: str = "",
    ) -> Iterator[list[LogEntry]]:
        return self.oplog.stream(since, follow, limit, active, follower)

    def compact_log(self) -> None:
        self.oplog.compact()
