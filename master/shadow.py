"""A shadow master (GFS section 5.1.3): a read-only follower of the master's op log.

It replays every log entry's rows into its own store, which has the master's schema and the
master's sequence numbers, so a shadow's data directory is a master's data directory: promoting
a shadow is starting `gfs master` on it. Chunk locations are not in the log; like GFS's shadows
it polls the chunkservers (learned from the master while it answers) for their replicas, so it
can still say where chunks live when the master is down.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

import grpc

from client import errors, rpc
from master.chunkservers import Heartbeat, Removal, Report
from master.config import MasterConfig
from master.service import ChunkView, MasterService
from master.state import Mutation
from master.store import LogEntry, Store, change_from_json
from protos import chunkserver_pb2, master_pb2

log = logging.getLogger(__name__)

REPLAY_BATCH = 500


class ShadowService(MasterService):
    """Invariant: the state holds exactly the master's log up to `store.last_seq`."""

    role = "shadow"

    def __init__(
        self,
        config: MasterConfig,
        store: Store,
        master_address: str,
        clock: Callable[[], float] = time.time,
        channels: rpc.Channels | None = None,
    ) -> None:
        super().__init__(config, store, clock, channels)
        self.master_address = master_address
        self.safe_mode.leave()  # a shadow orders no deletions: there is nothing to hold back
        self.head_seq = store.last_seq
        self.caught_up_at = time.monotonic()  # when it last held all the master had
        self.known_servers: set[str] = set()

    # --- read only ----------------------------------------------------------------------------

    def _refuse(self) -> errors.FailedPrecondition:
        return errors.FailedPrecondition(
            f"this is a read-only shadow of master {self.master_address}: send changes there"
        )

    def mkdir(self, path: str, parents: bool) -> None:
        raise self._refuse()

    def create(self, path: str) -> None:
        raise self._refuse()

    def delete(self, path: str, recursive: bool, skip_trash: bool = False) -> None:
        raise self._refuse()

    def rename(self, src: str, dst: str) -> None:
        raise self._refuse()

    def extend(self, path: str, length: int) -> None:
        raise self._refuse()

    def undelete(self, path: str) -> None:
        raise self._refuse()

    def decommission(self, address: str) -> None:
        raise self._refuse()

    def snapshot(self, src: str, dst: str) -> None:
        raise self._refuse()

    def purge_trash(self) -> None:
        """Purging is the master's."""

    def get_chunk(self, path: str, index: int, for_write: bool) -> ChunkView:
        if for_write:
            raise self._refuse()
        return super().get_chunk(path, index, False)

    def heartbeat(self, beat: Heartbeat) -> tuple[list[Removal], list[int]]:
        raise self._refuse()

    def set_safe_mode(self, action: str) -> None:
        if action != "get":
            raise self._refuse()

    def repair(self) -> None:
        """Replica management is the master's: a shadow copies and removes nothing."""

    def balance(self) -> int:
        raise self._refuse()

    def lag_seconds(self) -> float:
        return max(0.0, time.monotonic() - self.caught_up_at)

    # --- following the log --------------------------------------------------------------------

    def follow(self, stop: threading.Event) -> None:
        """Replays the master's log as it grows, until `stop` is set or the stream breaks. A
        shadow that needs entries the master has compacted away starts from a checkpoint."""
        try:
            self._follow(stop)
        except errors.FailedPrecondition as err:
            if "compacted" not in str(err):
                raise
            self._bootstrap()

    def _bootstrap(self) -> None:
        """Installs the master's whole state as of one entry, then follows from there."""
        target = f"master {self.master_address}"
        rows: list[dict[str, object]] = []
        seq = 0
        with rpc.translating(target):
            stream = self.channels.master(self.master_address).Checkpoint(
                master_pb2.Empty(), timeout=self.config.rpc_timeout * 12
            )
            for piece in stream:
                seq = piece.seq
                rows.extend(json.loads(piece.changes_json))
        self.store.install_checkpoint(seq, rows)
        state = self.store.load()
        with self._core:
            self.state = state
        log.info("installed the master's checkpoint as of entry %d (%d rows)", seq, len(rows))

    def _follow(self, stop: threading.Event) -> None:
        stub = self.channels.master(self.master_address)
        request = master_pb2.StreamLogRequest(
            since=self.store.last_seq, follow=True, follower=self.config.listen
        )
        stream = stub.StreamLog(request)
        batch: list[LogEntry] = []
        try:
            for record in stream:
                self.head_seq = max(self.head_seq, record.head_seq)
                if record.seq:
                    batch.append(
                        LogEntry(
                            record.seq,
                            record.ts,
                            record.op,
                            json.loads(record.args_json),
                            json.loads(record.changes_json),
                        )
                    )
                if batch and (
                    len(batch) >= REPLAY_BATCH or record.seq == 0 or record.seq >= record.head_seq
                ):
                    self._replay(batch)
                    batch = []
                if self.store.last_seq >= self.head_seq:
                    self.caught_up_at = time.monotonic()
                if stop.is_set():
                    break
        except grpc.RpcError as err:
            raise errors.translate(err, f"master {self.master_address}") from None
        finally:
            stream.cancel()
            if batch:
                self._replay(batch)

    def _replay(self, entries: list[LogEntry]) -> None:
        self.store.replay(entries)
        with self._core:
            for entry in entries:
                changes = tuple(change_from_json(c) for c in entry.changes)
                self.state.apply(Mutation(entry.op, entry.args, changes))

    # --- where chunks live --------------------------------------------------------------------

    def poll_chunkservers(self) -> None:
        """Learns the chunkservers from the master while it answers, then asks each for its
        replicas, as the master learns them from heartbeats."""
        try:
            report = rpc.call(
                self.channels.master(self.master_address).Report,
                master_pb2.Empty(),
                target=f"master {self.master_address}",
                timeout=self.config.rpc_timeout,
            )
            self.known_servers.update(s.address for s in report.chunkservers)
        except errors.GfsError:
            pass  # the master is down: keep polling the servers already known
        for address in sorted(self.known_servers):
            try:
                d = rpc.call(
                    self.channels.chunkserver(address).Describe,
                    chunkserver_pb2.Ack(),
                    target=address,
                    timeout=self.config.rpc_timeout,
                )
            except errors.GfsError:
                continue  # silent long enough, it counts as dead
            beat = Heartbeat(
                address,
                d.rack,
                d.used_bytes,
                d.free_bytes,
                [Report(r.handle, r.version, r.length) for r in d.replicas],
                list(d.corrupt),
            )
            with self._core:
                # Judged like a heartbeat, but a shadow neither removes nor adopts anything.
                self.servers.heartbeat(self.state, beat, self.clock())
