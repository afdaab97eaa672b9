"""The control flow (GFS section 3.3): carries out what the primary's protocol
(chunkserver.primary) decides, and the mutations a primary sends this server as a secondary.

A client's write or append holds the chunk's lock from its ordering until every replica
applied it, so all replicas see one order; the secondaries apply it at the same time as this
replica. It succeeds only when all of them did. Record appends to a chunk that arrive while
one is being applied wait and are ordered together, one after another; the new records among
them travel to each secondary in one request and cost each replica one sync (common.grouping).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from google.protobuf.message import Message

from chunkserver.config import ChunkserverConfig
from chunkserver.extension import extend_file
from chunkserver.metrics import APPEND_RUN, INLINE_BYTES
from chunkserver.primary import Appended, Apply, Landing, Primary
from chunkserver.spool import Pushed, Spool
from chunkserver.storage import ChunkStore
from common import errors, limits, transport
from common.grouping import Groups
from common.logformat import fields
from protos import chunkserver_pb2

log = logging.getLogger(__name__)

# The most bytes of records sent inline with a batch of appends to each secondary (gRPC's
# default limit on a message it receives is 4 MiB).
RUN_BYTES = 2 * 1024 * 1024


@dataclass
class _Append:
    """A client's record append, waiting for the next batch of its chunk."""

    version: int
    data_id: str
    record_id: str
    inline: bytes
    pushed: Pushed | None
    path: str = ""  # the chunk's file, as the client names it: extended for the record here
    # The master extending `path` over the record, asked while the replicas apply it.
    extending: Future[bool] | None = None

    @property
    def size(self) -> int:
        return self.pushed.size if self.pushed is not None else len(self.inline)


@dataclass
class Mutations:
    config: ChunkserverConfig
    store: ChunkStore
    spool: Spool
    channels: transport.Channels
    address: str = ""  # this server's, as the master knows it

    def __post_init__(self) -> None:
        self.primary = Primary(self.config.max_chunk_size)
        self.lease_lock = threading.Lock()  # guards `primary` (RPC threads and the heartbeat)
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="cs-forward")
        self._appends: Groups[int, _Append, Appended] = Groups(
            self._append_batch, self.store.lock, self._extended
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- as the primary -----------------------------------------------------------------------

    def write(
        self, handle: int, version: int, offset: int, data_id: str, inline: bytes, path: str = ""
    ) -> tuple[int, bool]:
        """A client's write of pushed data (or of `inline` data, which the secondaries are
        handed with the order); returns the chunk's length after it, and whether the master's
        length of the file covers it. Given the chunk's `path`, this server has the master
        extend the file while the replicas apply the write, not after (a write that then fails
        leaves its region inconsistent, as any failed write may)."""
        pushed = self._pushed(data_id, inline)
        size = pushed.size if pushed is not None else len(inline)
        extending = None
        with self.store.lock(handle):
            with self.lease_lock:
                apply = self.primary.order_write(handle, version, offset, data_id, time.monotonic())
            if path and size:
                extending = self._extend(path, handle, offset + size)
            length = self._everywhere(apply, pushed, inline)
        return length, extending is not None and extending.result()

    def append(
        self,
        handle: int,
        version: int,
        data_id: str,
        record_id: str,
        inline: bytes,
        path: str = "",
    ) -> Appended:
        """A client's record append (pushed, or `inline`): the primary picks the offset (the
        chunk's end) and every replica applies the record there; a record that does not fit
        pads the chunk instead. Appends to a chunk that arrive while one is being applied are
        applied together next (`_append_batch`). Given the chunk's `path`, the answer says
        whether this server had the master extend the file to cover the record."""
        limits.check_record_id(record_id)
        pushed = self._pushed(data_id, inline)
        item = _Append(version, data_id, record_id, inline, pushed, path)
        return self._appends.submit(handle, item)

    def _append_batch(self, handle: int, batch: list[_Append]) -> list[Appended | BaseException]:
        """The appends to one chunk that queued behind the last batch (and while its leader
        waited for the chunk's lock, which it holds), ordered one after another as if they had
        come one at a time. New records that fit are applied in runs, back to back, with one
        sync per replica for a run; anything else (a retried record id, padding) alone, in its
        place in the order. A run also ends before the lease's first append surveys the
        secondaries, and once its inline bytes pass RUN_BYTES."""
        results: list[Appended | BaseException] = [errors.Aborted("not ordered")] * len(batch)
        # Ordered, not applied yet: (place in the batch, the order, the answer once applied).
        run: list[tuple[int, Apply, Appended]] = []

        def apply_run() -> None:
            taken = list(run)
            run.clear()
            if not taken:
                return
            self._extending(handle, [(batch[i], answer) for i, _, answer in taken])
            try:
                self._apply_run([a for _, a, _ in taken], [batch[i] for i, _, _ in taken])
            except Exception as err:  # the run fails as one: none of it is acknowledged
                for i, _, _ in taken:
                    results[i] = err
                return
            for i, _, answer in taken:
                results[i] = answer

        for i, item in enumerate(batch):
            try:
                with self.lease_lock:
                    asked = self.primary.survey_needed(
                        handle, item.version, item.size, time.monotonic()
                    )
                if asked is not None:
                    apply_run()
                    replies = self._survey(handle, item.version, asked)
                    with self.lease_lock:
                        self.primary.surveyed(handle, self.store.length(handle), replies)
                if item.record_id and any(batch[j].record_id == item.record_id for j, _, _ in run):
                    apply_run()  # a retry of a record in the run: find where it landed
                landed = self._landed(handle, item)
                if landed is not None or sum(len(batch[j].inline) for j, _, _ in run) > RUN_BYTES:
                    apply_run()
                if run:
                    last, order, _ = run[-1]
                    end = order.offset + batch[last].size
                else:
                    end = self.store.length(handle)
                with self.lease_lock:
                    apply, answer = self.primary.order_append(
                        handle,
                        item.version,
                        item.data_id,
                        item.size,
                        item.record_id,
                        end,
                        landed,
                        time.monotonic(),
                    )
            except Exception as err:
                results[i] = err
                continue
            fresh = apply.here and not apply.pad_to  # new data for this replica
            if fresh and not answer.duplicate:
                run.append((i, apply, answer))
                continue
            apply_run()
            self._extending(handle, [(item, answer)])
            try:
                self._everywhere(apply, item.pushed if fresh else None, item.inline)
            except Exception as err:
                results[i] = err
                continue
            if item.pushed is not None and not fresh:
                self.spool.drop(item.data_id)  # padded, or held here already
            results[i] = answer
        apply_run()
        return results

    def _extending(self, handle: int, landing: list[tuple[_Append, Appended]]) -> None:
        """Has the master extend each file named to cover the records about to be applied (one
        call a file), while the replicas apply them: not after, when every append of the
        batch would wait for it. A record whose apply then fails may leave the file covering
        its region, as a failed write may (and as a later record's extension would anyway)."""
        ends: dict[str, int] = {}
        for item, answer in landing:
            if item.path and not answer.padded:
                ends[item.path] = max(ends.get(item.path, 0), answer.offset + item.size)
        calls = {p: self._extend(p, handle, end) for p, end in ends.items()}
        for item, answer in landing:
            if not answer.padded:
                item.extending = calls.get(item.path)

    def _extended(
        self, handle: int, batch: list[_Append], results: list[Appended | BaseException]
    ) -> list[Appended | BaseException]:
        """After a batch (the chunk's lock given up, so the next batch goes on meanwhile): each
        answer says whether the master extended its file; one it could not reach leaves that
        to the clients."""
        return [
            dataclasses.replace(result, extended=True)
            if isinstance(result, Appended) and item.extending and item.extending.result()
            else result
            for item, result in zip(batch, results, strict=True)
        ]

    def _extend(self, path: str, handle: int, chunk_end: int) -> Future[bool]:
        """Has the master extend `path` over chunk `handle` up to `chunk_end`, meanwhile: its
        answer, once given, says whether it did (chunkserver.extension)."""
        return self._pool.submit(
            extend_file, self.config, self.channels, self.address, path, handle, chunk_end
        )

    def _pushed(self, data_id: str, inline: bytes) -> Pushed | None:
        """The data pushed for a mutation; None if it came `inline`, with the request."""
        if not inline:
            return self.spool.get(data_id)
        limits.check_inline(inline)
        INLINE_BYTES.inc(len(inline))
        return None

    def _survey(
        self, handle: int, version: int, secondaries: tuple[str, ...]
    ) -> list[tuple[int, dict[str, int]]]:
        """(end, append ids) of each secondary's replica."""

        def info(address: str) -> tuple[int, dict[str, int]]:
            reply: chunkserver_pb2.ReplicaInfoResponse = transport.call(
                self.channels.chunkserver(address).ReplicaInfo,
                chunkserver_pb2.ReplicaInfoRequest(
                    handle=handle, version=version, without_crcs=True
                ),
                target=address,
                timeout=self.config.rpc_timeout,
            )
            return int(reply.length), dict(reply.record_ids)

        return list(self._pool.map(info, secondaries))

    def _landed(self, handle: int, item: _Append) -> tuple[int, Landing, bool] | None:
        """Where an earlier try of the append's record id landed (as `Primary.landing_of`
        says), what this replica holds there, and whether it recorded the id itself."""
        record_id = item.record_id
        own = self.store.recorded(handle, record_id) if record_id else None
        with self.lease_lock:
            first = self.primary.landing_of(handle, record_id, own)
        if first is None:
            return None
        data = item.pushed.path.read_bytes() if item.pushed is not None else item.inline
        there = self.store.peek(handle, item.version, first, len(data))
        if there == data:
            found = Landing.SAME
        elif there == bytes(len(data)):
            found = Landing.GAP
        else:
            found = Landing.OTHER
        return first, found, own is not None

    def _everywhere(self, apply: Apply, pushed: Pushed | None, inline: bytes = b"") -> int:
        """Applies a mutation here (if `apply.here`) while the secondaries apply it too (handed
        `inline` data with the order: it was not pushed to them); fails unless all did.
        Returns this replica's length after it."""
        request = chunkserver_pb2.ApplyWriteRequest(
            handle=apply.handle,
            version=apply.version,
            offset=apply.offset,
            data_id=apply.data_id,
            serial=apply.serial,
            record_id=apply.record_id,
            pad_to=apply.pad_to,
            token=apply.token,
            data=b"" if apply.pad_to else inline,
        )

        def here() -> int:
            if apply.here:
                return self.apply_here(request, pushed)
            return self.store.length(apply.handle)

        return self._with_secondaries(apply.secondaries, "ApplyWrite", request, here)

    def _apply_run(self, applies: list[Apply], items: list[_Append]) -> None:
        """New records ordered back to back, applied on every replica together."""
        APPEND_RUN.observe(len(applies))
        if len(applies) == 1:
            self._everywhere(applies[0], items[0].pushed, items[0].inline)
            return
        first = applies[0]
        request = chunkserver_pb2.ApplyAppendsRequest(
            handle=first.handle,
            version=first.version,
            token=first.token,
            appends=[
                chunkserver_pb2.ApplyWriteRequest(
                    offset=a.offset,
                    data_id=a.data_id,
                    serial=a.serial,
                    record_id=a.record_id,
                    data=item.inline,
                )
                for a, item in zip(applies, items, strict=True)
            ],
        )
        pushed = [item.pushed for item in items]
        self._with_secondaries(
            first.secondaries,
            "ApplyAppends",
            request,
            lambda: self.apply_appends_here(request, pushed),
        )

    def _with_secondaries(
        self, secondaries: tuple[str, ...], method: str, request: Message, here: Callable[[], int]
    ) -> int:
        """Calls `method` with `request` on every secondary while `here` applies it on this
        replica; fails unless all did. Returns what `here` returned."""
        payload = request.SerializeToString()  # once, not once a secondary
        remote = [self._pool.submit(self._apply_on, a, method, payload) for a in secondaries]
        try:
            length = here()
        finally:
            failures = [f for f in (r.result() for r in remote) if f is not None]
        if failures:
            # A full disk is not worth retrying; anything else (a dead secondary) is.
            full = any(isinstance(f, errors.ResourceExhausted) for f in failures)
            kind = errors.ResourceExhausted if full else errors.Unavailable
            raise kind("; ".join(str(f) for f in failures))
        return length

    def _apply_on(self, address: str, method: str, payload: bytes) -> errors.GfsError | None:
        call = self.channels.get(address).unary_unary(
            f"/pygfs.chunkserver.ChunkServer/{method}",
            request_serializer=None,  # serialized already
            response_deserializer=chunkserver_pb2.WriteResponse.FromString,
        )
        try:
            transport.call(call, payload, target=address, timeout=self.config.rpc_timeout)
            return None
        except errors.GfsError as err:
            return type(err)(f"secondary {address} did not apply the write: {err}")

    # --- on every replica ---------------------------------------------------------------------

    def apply_from_primary(self, request: chunkserver_pb2.ApplyWriteRequest) -> int:
        """A mutation the primary ordered, applied on this replica as a secondary."""
        limits.check_record_id(request.record_id)
        pushed = None if request.pad_to else self._pushed(request.data_id, request.data)
        with self.store.lock(request.handle):
            return self.apply_here(request, pushed)

    def apply_here(self, request: chunkserver_pb2.ApplyWriteRequest, pushed: Pushed | None) -> int:
        """One mutation on this replica (the caller holds its lock): padding, data inline
        (written in place), or pushed data (renamed into place when it covers the whole
        replica, synced where it was staged, else merged block-wise), followed by the append's
        record id."""
        handle, version, offset = request.handle, request.version, request.offset
        if request.pad_to:
            return self.store.write(handle, version, offset, bytes(max(0, request.pad_to - offset)))
        meta = self.store.metas.get(handle)
        if pushed is None:
            length = self.store.write(handle, version, offset, request.data)
        elif offset == 0 and meta is not None and pushed.size >= meta.length:
            length = self.store.install(handle, version, pushed.path, pushed.size, pushed.crcs)
            self.spool.forget(request.data_id)
        else:
            staged = self.store.commit_staged(handle, version, offset, request.data_id, pushed.size)
            if staged is None:
                length = self.store.write(handle, version, offset, pushed.path.read_bytes())
            else:
                length = staged
            self.spool.drop(request.data_id)
        if request.record_id and self.store.recorded(handle, request.record_id) != offset:
            self.store.record(handle, request.record_id, offset)
        return length

    def apply_appends_from_primary(self, request: chunkserver_pb2.ApplyAppendsRequest) -> int:
        """Record appends the primary ordered back to back, applied on this replica as a
        secondary."""
        if not request.appends or any(entry.pad_to for entry in request.appends):
            raise errors.InvalidArgument("a batch of appends holds records, and at least one")
        for entry in request.appends:
            limits.check_record_id(entry.record_id)
        pushed = [self._pushed(entry.data_id, entry.data) for entry in request.appends]
        with self.store.lock(request.handle):
            return self.apply_appends_here(request, pushed)

    def apply_appends_here(
        self, request: chunkserver_pb2.ApplyAppendsRequest, pushed: Sequence[Pushed | None]
    ) -> int:
        """Records that follow one another from the first's offset (the caller holds the
        replica's lock): written as one with one sync, then their ids noted with another.
        Returns the replica's length after them."""
        handle, version, entries = request.handle, request.version, request.appends
        records = [
            p.path.read_bytes() if p is not None else e.data
            for e, p in zip(entries, pushed, strict=True)
        ]
        offset = entries[0].offset
        for entry, record in zip(entries, records, strict=True):
            if entry.offset != offset or not record:
                raise errors.InvalidArgument(
                    "the records of a batch of appends each start where the one before ends"
                )
            offset += len(record)
        length = self.store.write(handle, version, entries[0].offset, b"".join(records))
        for entry, p in zip(entries, pushed, strict=True):
            if p is not None:
                self.spool.drop(entry.data_id)
        landed = [
            (e.record_id, e.offset)
            for e in entries
            if e.record_id and self.store.recorded(handle, e.record_id) != e.offset
        ]
        if landed:
            self.store.record_many(handle, landed)
        return length

    # --- leases -------------------------------------------------------------------------------

    def grant(self, request: chunkserver_pb2.GrantLeaseRequest) -> None:
        meta = self.store.metas.get(request.handle)
        if meta is None or meta.version != request.version:
            raise errors.StaleReplica(
                f"cannot lead chunk {request.handle} v{request.version}: not held"
            )
        with self.lease_lock:
            self.primary.leases.grant(
                request.handle,
                request.version,
                request.seconds,
                list(request.secondaries),
                time.monotonic(),
                request.chunk_size,
                request.token,
            )
        log.info(
            "primary of chunk %d v%d for %.0fs",
            request.handle,
            request.version,
            request.seconds,
            extra=fields("lease_taken", handle=request.handle, version=request.version),
        )

    def revoke(self, handle: int, version: int) -> None:
        # The chunk's lock first: a write being ordered under the lease finishes before it goes.
        with self.store.lock(handle), self.lease_lock:
            lease = self.primary.leases.leases.get(handle)
            if lease is not None and lease.version == version:
                self.primary.leases.drop(handle)
        log.info(
            "lease on chunk %d v%d given up",
            handle,
            version,
            extra=fields("lease_given_up", handle=handle, version=version),
        )

    def version_changed(self, handle: int, version: int) -> None:
        """The master told this replica a new version: a lease on another one is over."""
        with self.lease_lock:
            lease = self.primary.leases.leases.get(handle)
            if lease is not None and lease.version != version:
                self.primary.leases.drop(handle)

    def extension_requests(self) -> list[tuple[int, int]]:
        with self.lease_lock:
            return self.primary.leases.extension_requests(time.monotonic())

    def extended(
        self, granted: dict[int, bytes], requests: list[tuple[int, int]], until: float
    ) -> None:
        """The master extended the leases of `granted` (with their new tokens, secure)."""
        with self.lease_lock:
            for handle, version in requests:
                if handle in granted:
                    self.primary.leases.extend(handle, version, until, granted[handle])
