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

from common import errors, transport
from common.clocks import SteadyClock
from common.newest import Newest
from common.silence import Silence
from common.term import Term
from common.tokens import Key
from master.chunkservers import Heartbeat, HeartbeatOutcome, Report
from master.config import MasterConfig
from master.image import ImageWriter
from master.issuer import TokenIssuer
from master.metadata import Metadata
from master.oplog import OpLog
from master.rows import LogEntry
from master.safemode import SafeMode
from master.store import Store
from protos import chunkserver_pb2, master_pb2

log = logging.getLogger(__name__)

# Entries a record carries at most, and a follower far behind replays at a time.
REPLAY_BATCH = 2000
# A followed stream carries a keepalive each second: this long without a record, its sender is
# gone without closing the connection, and the stream is taken for broken.
STREAM_SILENCE = 10.0
# A chunkserver's every replica is polled at most every POLL_SHARE times as long as its last
# such poll took (listing and judging them): a shadow spends at most ~2% of its time on it.
POLL_SHARE = 50


def entries_of(record: master_pb2.LogRecord) -> list[LogEntry]:
    """The entries a StreamLog record carries: batched in `entries`, or one in its own fields
    (from a master that predates batching, or asked for none); none in a keepalive."""
    if record.entries:
        return [LogEntry(e.seq, e.ts, e.op, e.args_json, e.changes_json) for e in record.entries]
    if record.seq:
        return [LogEntry(record.seq, record.ts, record.op, record.args_json, record.changes_json)]
    return []


class ShadowService:
    """Invariant: the state holds exactly the master's log up to `store.last_seq`.

    Composes what a shadow shares with the master (`Metadata`: state and read queries;
    `OpLog`: it serves its log too) with what only it does: following the master's log and
    polling chunkservers. It has no writers: the servicer refuses changes with `refusal()`."""

    role = "shadow"

    def __init__(
        self,
        config: MasterConfig,
        store: Store,
        master_address: str,
        clock: Callable[[], float] | None = None,
        channels: transport.Channels | None = None,
    ) -> None:
        self.config = config
        self.store = store
        clock = clock or SteadyClock()
        self.channels = channels or transport.Channels()
        self.metadata = Metadata(config, store, clock)
        self.oplog = OpLog(config, store)
        self.images = ImageWriter(store, self.metadata.cut, config.image_every)
        # The master it follows: fixed for a shadow; a standby replica follows the active one
        # (the server sets it from the coordinator; a candidate's Promise sets it too).
        self.master_address = master_address
        self.standby = False  # a standby replica under a coordinator: refuses client reads too
        self.term = Term(config.data_dir / "epoch")
        # How it names itself to the master (StreamLog, LogHeld): its address, once bound.
        self.name = config.address
        self.safe_mode = SafeMode(config.safemode_threshold, active=False)  # orders no deletions
        # A secure shadow signs read tokens with the keys its master streams to it.
        self.tokens = (
            TokenIssuer(config, clock, makes_keys=False) if config.tls is not None else None
        )
        self.head_seq = store.last_seq
        self.caught_up_at = time.monotonic()  # when it last held all the master had
        self.known_servers: set[str] = set()
        # One stream of entries at a time (following, or a new active's catch-up); a promise
        # to a new active cancels the one under way.
        self._streaming = threading.Lock()
        self._stream: grpc.Future[master_pb2.LogRecord] | None = None
        self._full_due: dict[str, float] = {}  # address -> when to list its replicas again

    def close(self) -> None:
        self.channels.close()

    @property
    def epoch(self) -> int:
        return self.term.promised

    def refusal(self) -> errors.NotActive:
        if self.standby:
            return errors.NotActive(
                f"this is a standby master replica (the active one: {self.master_address or '?'})"
            )
        return errors.NotActive(
            f"this is a read-only shadow of master {self.master_address}: send changes there"
        )

    def promise(self, epoch: int, candidate: str) -> tuple[int, str, int]:
        """Promises term `epoch` to `candidate`, newly elected active (FailedPrecondition if
        a newer term was promised): from now on this replica takes no entry of an older term
        and follows `candidate`. Returns (newest entry, its digest, the term it was written
        in): where this log stands, so the candidate can take what it lacks."""
        with self.term.lock:
            if epoch < self.term.promised:
                raise errors.FailedPrecondition(
                    f"term {epoch} is older than term {self.term.promised}, promised already"
                )
            if self.term.promise(epoch) and self._stream is not None:
                self._stream.cancel()
            if candidate and candidate != self.name:
                self.master_address = candidate
            return self.store.position()

    def lag_seconds(self) -> float:
        return max(0.0, time.monotonic() - self.caught_up_at)

    def pooled(self) -> list[int]:
        """A shadow makes no new chunks."""
        return []

    def tick(self) -> None:
        """One round of the shadow's timer: where chunks live, compaction of its own log, images."""
        self.poll_chunkservers()
        with self.metadata.core:
            dead = self.metadata.servers.newly_dead(self.metadata.clock())
        for address in dead:
            log.warning(
                "chunkserver %s is dead (silent for %.1fs)", address, self.config.dead_after
            )
        self.oplog.compact()
        self.images.tick()

    # --- following the log --------------------------------------------------------------------

    def follow(self, stop: threading.Event) -> None:
        """Replays the master's log as it grows, until `stop` is set or the stream breaks. A
        shadow that needs entries the master has compacted away starts from a checkpoint."""
        try:
            self._follow(stop, follow=True)
        except (errors.Compacted, errors.Diverged) as err:
            log.warning("starting again from master %s's checkpoint: %s", self.master_address, err)
            self._bootstrap()

    def catch_up(self, address: str) -> None:
        """Takes every entry the replica at `address` holds beyond this log (a new active's
        catch-up from the replica that promised with the newest log): from its checkpoint if
        this log differs from it. Unavailable if this standby's own stream (cancelled by its
        promise) does not end within the RPC timeout."""
        wait = 2 * self.config.rpc_timeout
        self.master_address = address
        try:
            self._follow(threading.Event(), follow=False, wait=wait)
        except (errors.Compacted, errors.Diverged) as err:
            log.warning("taking replica %s's checkpoint: %s", address, err)
            self._bootstrap()
            self._follow(threading.Event(), follow=False, wait=wait)

    def _bootstrap(self) -> None:
        """Installs the master's whole state as of one entry, then follows from there."""
        target = f"master {self.master_address}"
        rows: list[dict[str, object]] = []
        seq, digest, epoch = 0, "", 0
        with transport.translating(target):
            stream = self.channels.master(self.master_address).Checkpoint(
                master_pb2.Empty(), timeout=self.config.rpc_timeout * 12
            )
            for piece in stream:
                if not seq:
                    seq, digest, epoch = piece.seq, piece.digest, piece.epoch
                rows.extend(json.loads(piece.changes_json))
        with self.term.lock, self.metadata.changing():
            self.store.install_checkpoint(seq, rows, digest, epoch)
            self.metadata.reload()
        log.info("installed the master's checkpoint as of entry %d (%d rows)", seq, len(rows))

    def _follow(self, stop: threading.Event, follow: bool, wait: float = -1) -> None:
        """One stream at a time: waits for the one under way to end (`wait` seconds at most,
        then Unavailable; -1: as long as it takes)."""
        if not self._streaming.acquire(timeout=wait):
            raise errors.Unavailable(f"the log stream from {self.master_address} would not end")
        try:
            self._take(stop, follow)
        finally:
            self._streaming.release()

    def _take(self, stop: threading.Event, follow: bool) -> None:
        stub = self.channels.master(self.master_address)
        since = self.store.last_seq
        request = master_pb2.StreamLogRequest(
            since=since,
            follow=follow,
            follower=self.name if follow else "",
            batch=REPLAY_BATCH,
            epoch=self.term.promised,
            since_digest=(self.store.digest(since) or "") if since else "",
        )
        stream = stub.StreamLog(request)
        with self.term.lock:  # a promise made since the request was built cancels it too
            self._stream = stream
            if self.term.promised != request.epoch:
                stream.cancel()
        silence = Silence(stream, STREAM_SILENCE, f"the log stream from {self.master_address}")
        batch: list[LogEntry] = []
        epoch: int | None = None  # the sender's term, from its first record
        reports = Newest(lambda: self._held(epoch or 0))
        held: grpc.Future[master_pb2.Empty] | None = None  # LogHeld, from the first record
        try:
            for record in stream:
                silence.heard()
                if epoch is None and not follow:  # a catch-up: the log was chosen, any term
                    epoch = self.term.promised
                elif epoch is None:
                    epoch = self._accept_term(record.epoch)
                    held = stub.LogHeld.future(iter(reports))
                    held.add_done_callback(self._held_ended)
                    reports.ask()  # what it held before (a restart)
                elif self.term.promised != epoch:
                    break  # promised a newer active meanwhile: what it sends is not taken
                self.head_seq = max(self.head_seq, record.head_seq)
                if record.keys and self.tokens is not None:
                    keys = [Key(k.id, k.secret, k.until) for k in record.keys]
                    self.tokens.learn(keys, record.keys_time)
                entries = entries_of(record)
                batch += entries
                # Far behind, entries are replayed REPLAY_BATCH at a time; within a batch of
                # the head, as they come (an active answering a change waits for it).
                near = not entries or record.head_seq - batch[-1].seq < REPLAY_BATCH
                if batch and (near or len(batch) >= REPLAY_BATCH):
                    self._replay(batch, epoch)
                    batch = []
                    if follow:
                        reports.ask()
                if self.store.last_seq >= self.head_seq:
                    self.caught_up_at = time.monotonic()
                if stop.is_set():
                    break
                silence.heard()  # the time spent here was this side's, not a silence
        except grpc.RpcError as err:
            if self.term.promised != request.epoch:
                return  # cancelled by a promise to a newer active: follow that one
            raise transport.translate(err, f"master {self.master_address}") from None
        finally:
            silence.stop()
            reports.close()
            if held is not None:
                held.cancel()
            stream.cancel()
            self._stream = None
            if batch and epoch is not None:
                self._replay(batch, epoch)

    def _accept_term(self, epoch: int) -> int:
        """The term of the master whose stream began: promised if newer; Deposed if older."""
        with self.term.lock:
            if epoch < self.term.promised:
                raise errors.Deposed(
                    f"master {self.master_address} is of term {epoch}, older than term "
                    f"{self.term.promised}, promised already"
                )
            self.term.promise(epoch)
        return epoch

    def _held(self, epoch: int) -> master_pb2.LogHeldRequest | None:
        """How far this store holds the log, durably, for the active of term `epoch` (with
        --master-replicas above 1 it answers a change only once a majority hold it); None
        once a newer term was promised: nothing goes to an older one."""
        with self.term.lock:
            if self.term.promised != epoch:
                return None
            return master_pb2.LogHeldRequest(
                follower=self.name, seq=self.store.last_seq, epoch=epoch
            )

    def _held_ended(self, call: grpc.Future[master_pb2.Empty]) -> None:
        if not call.cancelled() and call.exception() is not None:  # its log stream breaks too
            log.debug("the LogHeld stream to %s ended: %s", self.master_address, call.exception())

    def _replay(self, entries: list[LogEntry], epoch: int) -> None:
        """Writes and applies an active's entries, unless a newer term was promised since its
        stream began (then they are dropped: the new active decides what follows)."""
        meta = self.metadata
        with self.term.lock, meta.changing():
            if self.term.promised != epoch:
                return
            mutations = self.store.replay(entries)
            with meta.core:
                for mutation in mutations:
                    meta.state.apply(mutation)

    # --- where chunks live --------------------------------------------------------------------

    def poll_chunkservers(self) -> None:
        """Learns the chunkservers from the master while it answers, then asks each for its
        replicas, as the master learns them from heartbeats: every replica at most a
        1/POLL_SHARE of the time (a million take seconds to list and judge; GFS's shadows poll
        "infrequently"), and in between a handshake without them that keeps it alive."""
        try:
            if not self.master_address:  # a standby that knows no active one yet
                raise errors.Unavailable("no active master known")
            report = transport.call(
                self.channels.master(self.master_address).Report,
                master_pb2.Empty(),
                target=f"master {self.master_address}",
                timeout=self.config.rpc_timeout,
            )
            self.known_servers.update(s.address for s in report.chunkservers)
        except errors.GfsError:
            pass  # the master is down: keep polling the servers already known
        for address in sorted(self.known_servers):
            began = time.monotonic()
            full = began >= self._full_due.get(address, 0.0)
            try:
                # Judged like a heartbeat, but a shadow neither removes nor adopts anything. A
                # handshake it cannot take (the server was counted dead): the list at once.
                if self._poll(address, full).full_wanted:
                    full = True
                    self._poll(address, full)
            except errors.GfsError:
                continue  # silent long enough, it counts as dead
            if full:
                self._full_due[address] = began + POLL_SHARE * (time.monotonic() - began)

    def _poll(self, address: str, full: bool) -> HeartbeatOutcome:
        d = transport.call(
            self.channels.chunkserver(address).Describe,
            chunkserver_pb2.DescribeRequest(without_replicas=not full),
            target=address,
            timeout=self.config.rpc_timeout,
        )
        beat = Heartbeat(
            address,
            d.rack,
            d.used_bytes,
            d.free_bytes,
            [Report(r.handle, r.version, r.length) for r in d.replicas],
            list(d.corrupt),
            http=d.http,
            plain_reads=d.plain_reads,
            failed_dirs=tuple(d.failed_dirs),
            slow_dirs=tuple(d.slow_dirs),
            incremental=not full,
            replica_count=d.replica_count,
        )
        meta = self.metadata
        with meta.core:
            return meta.servers.heartbeat(meta.state, beat, meta.clock())
