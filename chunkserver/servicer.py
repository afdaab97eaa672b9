"""gRPC servicer of a chunkserver. Data flow (PushData, Read) is separate from control flow
(Write, ApplyWrite): data travels the chain once, pipelined; the primary then orders the write."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc

from chunkserver.buffers import DataBuffers
from chunkserver.config import ChunkserverConfig
from chunkserver.leases import LeaseTable
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
        self.buffers = DataBuffers(config.buffer_ttl, config.buffer_limit)
        self.leases = LeaseTable()
        self._lease_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="cs-forward")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- data flow ----------------------------------------------------------------------------

    @aborting(log)
    def PushData(
        self, request_iterator: Iterator[chunkserver_pb2.DataPiece], context: grpc.ServicerContext
    ) -> chunkserver_pb2.PushDataResponse:
        first = next(request_iterator, None)
        if first is None or not first.data_id:
            raise errors.InvalidArgument("a push must start with a piece naming its data id")
        data_id, chain = first.data_id, list(first.chain)
        self.buffers.reserve(self.config.max_chunk_size, time.monotonic())
        pieces = [first.data]
        size = len(first.data)
        forward: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        downstream = None
        if chain:

            def relay() -> Iterator[chunkserver_pb2.DataPiece]:
                yield chunkserver_pb2.DataPiece(data_id=data_id, chain=chain[1:], data=first.data)
                while (item := forward.get()) is not None:
                    yield chunkserver_pb2.DataPiece(data=item)

            downstream = self.channels.chunkserver(chain[0]).PushData.future(
                relay(), timeout=self.config.rpc_timeout + 60
            )
        try:
            for piece in request_iterator:
                size += len(piece.data)
                if size > self.config.max_chunk_size:
                    raise errors.InvalidArgument(
                        f"pushed data exceeds the chunk size of {self.config.max_chunk_size} bytes"
                    )
                pieces.append(piece.data)
                forward.put(piece.data)
        finally:
            forward.put(None)
        if downstream is not None:
            try:
                downstream.result()
            except grpc.RpcError as err:
                raise errors.Unavailable(
                    f"forwarding to {chain[0]} failed: {errors.translate(err, chain[0])}"
                ) from None
        self.buffers.put(data_id, b"".join(pieces), time.monotonic())
        return chunkserver_pb2.PushDataResponse(length=size)

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
        data = self.buffers.get(request.data_id)
        with self.store.lock(handle):
            with self._lease_lock:
                lease = self.leases.check(handle, version, time.monotonic())
                serial = self.leases.next_serial(handle)
            length = self.store.write(handle, version, request.offset, data)
            applied = chunkserver_pb2.ApplyWriteRequest(
                handle=handle,
                version=version,
                offset=request.offset,
                data_id=request.data_id,
                serial=serial,
            )
            failures = [
                f
                for f in self._pool.map(lambda a: self._apply_on(a, applied), lease.secondaries)
                if f
            ]
        if failures:
            raise errors.Unavailable("; ".join(failures))
        self.buffers.drop(request.data_id)
        return chunkserver_pb2.WriteResponse(chunk_length=length)

    def _apply_on(self, address: str, request: chunkserver_pb2.ApplyWriteRequest) -> str:
        try:
            rpc.call(
                self.channels.chunkserver(address).ApplyWrite,
                request,
                target=address,
                timeout=self.config.rpc_timeout,
            )
            return ""
        except errors.GfsError as err:
            return f"secondary {address} did not apply the write: {err}"

    @aborting(log)
    def ApplyWrite(
        self, request: chunkserver_pb2.ApplyWriteRequest, context: grpc.ServicerContext
    ) -> chunkserver_pb2.WriteResponse:
        data = self.buffers.get(request.data_id)
        with self.store.lock(request.handle):
            length = self.store.write(request.handle, request.version, request.offset, data)
        self.buffers.drop(request.data_id)
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
            )
        log.info(
            "primary of chunk %d v%d for %.0fs", request.handle, request.version, request.seconds
        )
        return chunkserver_pb2.Ack()
