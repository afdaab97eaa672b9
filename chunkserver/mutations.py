"""The control flow (GFS section 3.3): carries out what the primary's protocol
(chunkserver.primary) decides, and the mutations a primary sends this server as a secondary.

A client's write or append holds the chunk's lock from its ordering until every replica
applied it, so all replicas see one order; the secondaries apply it at the same time as this
replica. It succeeds only when all of them did.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from chunkserver.config import ChunkserverConfig
from chunkserver.metrics import INLINE_BYTES
from chunkserver.primary import Appended, Apply, Landing, Primary
from chunkserver.spool import Pushed, Spool
from chunkserver.storage import ChunkStore
from common import errors, limits, transport
from common.logformat import fields
from protos import chunkserver_pb2

log = logging.getLogger(__name__)


@dataclass
class Mutations:
    config: ChunkserverConfig
    store: ChunkStore
    spool: Spool
    channels: transport.Channels

    def __post_init__(self) -> None:
        self.primary = Primary(self.config.max_chunk_size)
        self.lease_lock = threading.Lock()  # guards `primary` (RPC threads and the heartbeat)
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="cs-forward")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- as the primary -----------------------------------------------------------------------

    def write(self, handle: int, version: int, offset: int, data_id: str, inline: bytes) -> int:
        """A client's write of pushed data (or of `inline` data, which the secondaries are
        handed with the order); returns the chunk's length after it."""
        pushed = self._pushed(data_id, inline)
        with self.store.lock(handle):
            with self.lease_lock:
                apply = self.primary.order_write(handle, version, offset, data_id, time.monotonic())
            return self._everywhere(apply, pushed, inline)

    def append(
        self, handle: int, version: int, data_id: str, record_id: str, inline: bytes
    ) -> Appended:
        """A client's record append (pushed, or `inline`): the primary picks the offset (the
        chunk's end) and every replica applies the record there; a record that does not fit
        pads the chunk instead."""
        limits.check_record_id(record_id)
        pushed = self._pushed(data_id, inline)
        size = pushed.size if pushed is not None else len(inline)
        with self.store.lock(handle):
            with self.lease_lock:
                asked = self.primary.survey_needed(handle, version, size, time.monotonic())
            if asked is not None:
                replies = self._survey(handle, version, asked)
                with self.lease_lock:
                    self.primary.surveyed(handle, self.store.length(handle), replies)
            landed = self._landed(handle, version, record_id, pushed, inline)
            with self.lease_lock:
                apply, answer = self.primary.order_append(
                    handle,
                    version,
                    data_id,
                    size,
                    record_id,
                    self.store.length(handle),
                    landed,
                    time.monotonic(),
                )
            self._everywhere(apply, pushed if apply.data_id and apply.here else None, inline)
            if pushed is not None and not (apply.data_id and apply.here):
                self.spool.drop(data_id)  # padded, or held here already
        return answer

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

    def _landed(
        self, handle: int, version: int, record_id: str, pushed: Pushed | None, inline: bytes
    ) -> tuple[int, Landing, bool] | None:
        """Where an earlier try of append `record_id` landed (as `Primary.landing_of` says),
        what this replica holds there, and whether it recorded the id itself."""
        own = self.store.recorded(handle, record_id) if record_id else None
        with self.lease_lock:
            first = self.primary.landing_of(handle, record_id, own)
        if first is None:
            return None
        data = pushed.path.read_bytes() if pushed is not None else inline
        there = self.store.peek(handle, version, first, len(data))
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
        remote = [self._pool.submit(self._apply_on, a, request) for a in apply.secondaries]
        try:
            if apply.here:
                length = self.apply_here(request, pushed)
            else:
                length = self.store.length(apply.handle)
        finally:
            failures = [f for f in (r.result() for r in remote) if f is not None]
        if failures:
            # A full disk is not worth retrying; anything else (a dead secondary) is.
            full = any(isinstance(f, errors.ResourceExhausted) for f in failures)
            kind = errors.ResourceExhausted if full else errors.Unavailable
            raise kind("; ".join(str(f) for f in failures))
        return length

    def _apply_on(
        self, address: str, request: chunkserver_pb2.ApplyWriteRequest
    ) -> errors.GfsError | None:
        try:
            transport.call(
                self.channels.chunkserver(address).ApplyWrite,
                request,
                target=address,
                timeout=self.config.rpc_timeout,
            )
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
