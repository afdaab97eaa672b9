"""gRPC servicer of a chunkserver. Data flow (PushData, Read) is separate from control flow
(Write, ApplyWrite): data travels the chain once, pipelined; the primary then orders the write."""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc

from chunkserver.config import ChunkserverConfig
from chunkserver.leases import Lease, LeaseTable, Survey
from chunkserver.spool import Pushed, Spool, SpoolWriter
from chunkserver.staging import Staging
from chunkserver.storage import ChunkStore, CorruptReplica
from client import errors, rpc
from client.servicing import aborting
from protos import chunkserver_pb2, chunkserver_pb2_grpc

log = logging.getLogger(__name__)


class ChunkServicer(chunkserver_pb2_grpc.ChunkServerServicer):
    def __init__(
        self, config: ChunkserverConfig, store: ChunkStore, channels: rpc.Channels
    ) -> None:
        self.config = config
        self.store = store
        self.channels = channels
        self.spool = Spool(config.data_dir / "spool", config.spool_ttl, config.spool_limit)
        self.leases = LeaseTable()
        self._lease_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="cs-forward")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def lease_extension_requests(self) -> list[tuple[int, int]]:
        with self._lease_lock:
            return self.leases.extension_requests(time.monotonic())

    def leases_extended(
        self, handles: list[int], requests: list[tuple[int, int]], until: float
    ) -> None:
        granted = set(handles)
        with self._lease_lock:
            for handle, version in requests:
                if handle in granted:
                    self.leases.extend(handle, version, until)

    # --- data flow ----------------------------------------------------------------------------

    @aborting(log)
    def PushData(
        self, request_iterator: Iterator[chunkserver_pb2.DataPiece], context: grpc.ServicerContext
    ) -> chunkserver_pb2.PushDataResponse:
        first = next(request_iterator, None)
        if first is None or not first.data_id:
            raise errors.InvalidArgument("a push must start with a piece naming its data id")
        data_id, chain = first.data_id, list(first.chain)
        handle, offset = first.handle, first.offset
        writer = self.spool.open(data_id, time.monotonic(), self.config.max_chunk_size)
        staging = self.store.stage(handle, data_id, offset, time.monotonic())

        def keep(data: bytes) -> None:
            writer.write(data)
            if staging is not None:
                staging.write(data)

        # Reading a bytes field copies it out of the message: read each piece once.
        head = first.data
        forward: queue.SimpleQueue[bytes | None] | None = None
        downstream = None
        if chain:
            forward = queue.SimpleQueue()
            relayed = forward

            def relay() -> Iterator[chunkserver_pb2.DataPiece]:
                yield chunkserver_pb2.DataPiece(
                    data_id=data_id, chain=chain[1:], data=head, handle=handle, offset=offset
                )
                while (item := relayed.get()) is not None:
                    yield chunkserver_pb2.DataPiece(data=item)

            downstream = self.channels.chunkserver(chain[0]).PushData.future(
                relay(), timeout=self.config.rpc_timeout + 60
            )
        try:
            keep(head)
            for piece in request_iterator:
                data = piece.data
                if writer.size + len(data) > self.config.max_chunk_size:
                    raise errors.InvalidArgument(
                        f"pushed data exceeds the chunk size of {self.config.max_chunk_size} bytes"
                    )
                if forward is not None:
                    forward.put(data)
                keep(data)
        except OSError as err:
            self._abandon(writer, staging)
            raise errors.ResourceExhausted(
                f"chunkserver cannot take pushed data: {err.strerror or err}"
            ) from None
        except BaseException:
            self._abandon(writer, staging)
            raise
        finally:
            if forward is not None:
                forward.put(None)
        pushed = writer.finish()
        if staging is not None:
            staging.finish(pushed.size)  # its sync runs while the rest of the chain receives
        if downstream is not None:
            try:
                downstream.result()
            except grpc.RpcError as err:
                self._abandon(writer, staging)
                cause = errors.translate(err, chain[0])  # keeps its kind: a full disk stays one
                raise type(cause)(f"forwarding to {chain[0]} failed: {cause}") from None
        size = pushed.size
        self.spool.add(data_id, pushed, time.monotonic())
        return chunkserver_pb2.PushDataResponse(length=size)

    def _abandon(self, writer: SpoolWriter, staging: Staging | None) -> None:
        writer.abort()
        if staging is not None:
            self.store.unstage(staging)

    @aborting(log)
    def Read(
        self, request: chunkserver_pb2.ReadRequest, context: grpc.ServicerContext
    ) -> Iterator[chunkserver_pb2.ReadPiece]:
        if request.offset < 0 or request.length < 0:
            raise errors.InvalidArgument("offset and length must be >= 0")
        try:
            for data in self.store.read(
                request.handle,
                request.version,
                request.offset,
                request.length,
                self.config.read_piece,
            ):
                yield chunkserver_pb2.ReadPiece(data=data)
        except CorruptReplica as err:
            log.warning("%s; refusing the read", err)
            raise

    # --- control flow -------------------------------------------------------------------------

    @aborting(log)
    def Write(
        self, request: chunkserver_pb2.WriteRequest, context: grpc.ServicerContext
    ) -> chunkserver_pb2.WriteResponse:
        handle, version = request.handle, request.version
        pushed = self.spool.get(request.data_id)
        with self.store.lock(handle):  # held until every replica applied: one order for all
            _, serial = self._lease(handle, version)
            applied = chunkserver_pb2.ApplyWriteRequest(
                handle=handle,
                version=version,
                offset=request.offset,
                data_id=request.data_id,
                serial=serial,
            )
            length = self._everywhere(applied, pushed)
        return chunkserver_pb2.WriteResponse(chunk_length=length)

    @aborting(log)
    def Append(
        self, request: chunkserver_pb2.AppendRequest, context: grpc.ServicerContext
    ) -> chunkserver_pb2.AppendResponse:
        """Record append: this primary picks the offset (the chunk's end) and every replica
        applies the record there; a record that does not fit pads the chunk instead."""
        handle, version, record_id = request.handle, request.version, request.record_id
        pushed = self.spool.get(request.data_id)
        with self.store.lock(handle):
            lease, serial = self._lease(handle, version)
            size = lease.chunk_size or self.config.max_chunk_size
            if pushed.size > size // 4:
                raise errors.InvalidArgument(
                    f"a record is at most a quarter of the chunk size ({size // 4} bytes), "
                    f"not {pushed.size}"
                )

            def record_at(offset: int) -> chunkserver_pb2.ApplyWriteRequest:
                return chunkserver_pb2.ApplyWriteRequest(
                    handle=handle,
                    version=version,
                    offset=offset,
                    data_id=request.data_id,
                    serial=serial,
                    record_id=record_id,
                )

            if lease.survey is None:
                lease.survey = self._survey(handle, version, lease)
            landed = self._landed(handle, version, record_id, pushed, lease.survey)
            if landed is not None:
                # The earlier try may have reached only some of today's replicas (one that was
                # down then, or a new lease's, this one too): each gets it at the same offset.
                first, here = landed
                self._everywhere(record_at(first), pushed if here else None, here=here)
                if not here:
                    self.spool.drop(request.data_id)
                return chunkserver_pb2.AppendResponse(offset=first, duplicate=True)
            offset = max(self.store.metas[handle].length, lease.survey.end)
            if offset + pushed.size > size:
                padding = chunkserver_pb2.ApplyWriteRequest(
                    handle=handle, version=version, offset=offset, serial=serial, pad_to=size
                )
                self._everywhere(padding, None)
                self.spool.drop(request.data_id)
                return chunkserver_pb2.AppendResponse(offset=offset, padded=True)
            self._everywhere(record_at(offset), pushed)
        return chunkserver_pb2.AppendResponse(offset=offset)

    def _lease(self, handle: int, version: int) -> tuple[Lease, int]:
        """The lease to order a mutation under, and the mutation's serial number."""
        with self._lease_lock:
            lease = self.leases.check(handle, version, time.monotonic())
            return lease, self.leases.next_serial(handle)

    def _survey(self, handle: int, version: int, lease: Lease) -> Survey:
        """The ends and append ids of the chunk's replicas, this one and the lease's
        secondaries."""

        def info(address: str) -> chunkserver_pb2.ReplicaInfoResponse:
            reply: chunkserver_pb2.ReplicaInfoResponse = rpc.call(
                self.channels.chunkserver(address).ReplicaInfo,
                chunkserver_pb2.ReplicaInfoRequest(
                    handle=handle, version=version, without_crcs=True
                ),
                target=address,
                timeout=self.config.rpc_timeout,
            )
            return reply

        replies = list(self._pool.map(info, lease.secondaries))
        records: dict[str, int] = {}
        for reply in replies:
            for record_id, offset in reply.record_ids.items():
                records[record_id] = min(offset, records.get(record_id, offset))
        ends = [self.store.metas[handle].length, *(int(r.length) for r in replies)]
        return Survey(max(ends), records)

    def _landed(
        self, handle: int, version: int, record_id: str, pushed: Pushed, survey: Survey
    ) -> tuple[int, bool] | None:
        """Where an earlier try of the append `record_id` landed, here or (as of the survey) on
        a secondary, and whether this replica still lacks it there; None if it landed nowhere,
        or where this replica holds other bytes."""
        if not record_id:
            return None
        own = self.store.recorded(handle, record_id)
        first = own if own is not None else survey.records.get(record_id)
        if first is None:
            return None
        data = pushed.path.read_bytes()
        there = self.store.peek(handle, version, first, len(data))
        if there == data:
            return first, False
        # Zeros there are a gap (past the end, or left by re-applying a later record first).
        if own is None and there == bytes(len(data)):
            return first, True
        return None

    def _everywhere(
        self,
        applied: chunkserver_pb2.ApplyWriteRequest,
        pushed: Pushed | None,
        here: bool = True,
    ) -> int:
        """Applies a mutation here (unless this replica holds it already) while the lease's
        secondaries apply it too (the caller holds the chunk's lock, so every replica sees one
        order); fails unless all did."""
        lease = self.leases.leases[applied.handle]
        remote = [self._pool.submit(self._apply_on, a, applied) for a in lease.secondaries]
        try:
            if here:
                length = self._apply_here(applied, pushed)
            else:
                length = self.store.metas[applied.handle].length
        finally:
            failures = [f for f in (r.result() for r in remote) if f is not None]
        if failures:
            # A full disk is not worth retrying; anything else (a dead secondary) is.
            full = any(isinstance(f, errors.ResourceExhausted) for f in failures)
            kind = errors.ResourceExhausted if full else errors.Unavailable
            raise kind("; ".join(str(f) for f in failures))
        return length

    def _apply_here(self, applied: chunkserver_pb2.ApplyWriteRequest, pushed: Pushed | None) -> int:
        """One mutation on this replica (the caller holds its lock): padding, or pushed data
        (renamed into place when it covers the whole replica, synced where it was staged, else
        merged block-wise), followed by the append's record id."""
        handle, version, offset = applied.handle, applied.version, applied.offset
        if applied.pad_to:
            return self.store.write(handle, version, offset, bytes(max(0, applied.pad_to - offset)))
        assert pushed is not None
        meta = self.store.metas.get(handle)
        if offset == 0 and meta is not None and pushed.size >= meta.length:
            length = self.store.install(handle, version, pushed.path, pushed.size, pushed.crcs)
            self.spool.forget(applied.data_id)
        else:
            staged = self.store.commit_staged(handle, version, offset, applied.data_id, pushed.size)
            if staged is None:
                length = self.store.write(handle, version, offset, pushed.path.read_bytes())
            else:
                length = staged
            self.spool.drop(applied.data_id)
        if applied.record_id and self.store.recorded(handle, applied.record_id) != offset:
            self.store.record(handle, applied.record_id, offset)
        return length

    def _apply_on(
        self, address: str, request: chunkserver_pb2.ApplyWriteRequest
    ) -> errors.GfsError | None:
        try:
            rpc.call(
                self.channels.chunkserver(address).ApplyWrite,
                request,
                target=address,
                timeout=self.config.rpc_timeout,
            )
            return None
        except errors.GfsError as err:
            return type(err)(f"secondary {address} did not apply the write: {err}")

    @aborting(log)
    def ApplyWrite(
        self, request: chunkserver_pb2.ApplyWriteRequest, context: grpc.ServicerContext
    ) -> chunkserver_pb2.WriteResponse:
        pushed = None if request.pad_to else self.spool.get(request.data_id)
        with self.store.lock(request.handle):
            length = self._apply_here(request, pushed)
        return chunkserver_pb2.WriteResponse(chunk_length=length)

    @aborting(log)
    def SetVersion(
        self, request: chunkserver_pb2.SetVersionRequest, context: grpc.ServicerContext
    ) -> chunkserver_pb2.Ack:
        self.store.set_version(request.handle, request.version, request.create)
        with self._lease_lock:
            lease = self.leases.leases.get(request.handle)
            if lease is not None and lease.version != request.version:
                self.leases.drop(request.handle)
        return chunkserver_pb2.Ack()

    @aborting(log)
    def Describe(
        self, request: chunkserver_pb2.Ack, context: grpc.ServicerContext
    ) -> chunkserver_pb2.Description:
        used, free = self.store.usage()
        return chunkserver_pb2.Description(
            rack=self.config.rack,
            used_bytes=used,
            free_bytes=free,
            replicas=[
                chunkserver_pb2.Replica(handle=h, version=v, length=n)
                for h, v, n in self.store.reports()
            ],
            corrupt=sorted(self.store.corrupt),
        )

    @aborting(log)
    def ReplicaInfo(
        self, request: chunkserver_pb2.ReplicaInfoRequest, context: grpc.ServicerContext
    ) -> chunkserver_pb2.ReplicaInfoResponse:
        meta = self.store.info(request.handle, request.version)
        return chunkserver_pb2.ReplicaInfoResponse(
            length=meta.length,
            crcs=[] if request.without_crcs else meta.crcs,
            record_ids=self.store.record_ids.get(request.handle, {}),
        )

    @aborting(log)
    def CloneFrom(
        self, request: chunkserver_pb2.CloneFromRequest, context: grpc.ServicerContext
    ) -> chunkserver_pb2.Ack:
        handle, version, source = request.handle, request.version, request.source
        stub = self.channels.chunkserver(source)
        info = rpc.call(
            stub.ReplicaInfo,
            chunkserver_pb2.ReplicaInfoRequest(handle=handle, version=version),
            target=source,
            timeout=self.config.rpc_timeout,
        )
        writer = self.spool.open(
            f"clone-{handle}-{uuid.uuid4().hex}", time.monotonic(), info.length
        )
        try:
            read = chunkserver_pb2.ReadRequest(handle=handle, version=version, length=info.length)
            with rpc.translating(source):
                for piece in stub.Read(read, timeout=self.config.rpc_timeout * 6):
                    writer.write(piece.data)
        except BaseException:
            writer.abort()
            raise
        copy = writer.finish()
        if copy.size != info.length or list(copy.crcs) != list(info.crcs):
            copy.path.unlink(missing_ok=True)
            raise errors.DataLoss(f"the copy of chunk {handle} from {source} fails its checksums")
        self.store.adopt(handle, version, copy.path, copy.size, copy.crcs, dict(info.record_ids))
        log.info(
            "copied chunk %d v%d from %s (%d bytes, verified)", handle, version, source, copy.size
        )
        return chunkserver_pb2.Ack()

    @aborting(log)
    def CopyLocal(
        self, request: chunkserver_pb2.CopyLocalRequest, context: grpc.ServicerContext
    ) -> chunkserver_pb2.Ack:
        handle, version, new = request.handle, request.version, request.new_handle
        meta = self.store.info(handle, version)
        writer = self.spool.open(f"copy-{new}-{uuid.uuid4().hex}", time.monotonic(), meta.length)
        try:  # a verified read of the local replica: a copy never spreads corruption
            for piece in self.store.read(handle, version, 0, meta.length, self.config.read_piece):
                writer.write(piece)
        except BaseException:
            writer.abort()
            raise
        copy = writer.finish()
        ids = dict(self.store.record_ids.get(handle, {}))
        self.store.adopt(new, request.new_version, copy.path, copy.size, copy.crcs, ids)
        log.info("copied chunk %d locally to chunk %d (%d bytes)", handle, new, copy.size)
        return chunkserver_pb2.Ack()

    @aborting(log)
    def RevokeLease(
        self, request: chunkserver_pb2.RevokeLeaseRequest, context: grpc.ServicerContext
    ) -> chunkserver_pb2.Ack:
        # The chunk's lock first: a write being ordered under the lease finishes before it goes.
        with self.store.lock(request.handle), self._lease_lock:
            lease = self.leases.leases.get(request.handle)
            if lease is not None and lease.version == request.version:
                self.leases.drop(request.handle)
        log.info("lease on chunk %d v%d given up", request.handle, request.version)
        return chunkserver_pb2.Ack()

    @aborting(log)
    def GrantLease(
        self, request: chunkserver_pb2.GrantLeaseRequest, context: grpc.ServicerContext
    ) -> chunkserver_pb2.Ack:
        meta = self.store.metas.get(request.handle)
        if meta is None or meta.version != request.version:
            raise errors.StaleReplica(
                f"cannot lead chunk {request.handle} v{request.version}: not held"
            )
        with self._lease_lock:
            self.leases.grant(
                request.handle,
                request.version,
                request.seconds,
                list(request.secondaries),
                time.monotonic(),
                request.chunk_size,
            )
        log.info(
            "primary of chunk %d v%d for %.0fs", request.handle, request.version, request.seconds
        )
        return chunkserver_pb2.Ack()
