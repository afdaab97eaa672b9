"""gRPC servicer of a chunkserver: proto <-> domain, nothing else. Data flow (PushData, Read)
is `pushes`; control flow (Write, Append, ApplyWrite, leases) is `mutations`, which carries
out the primary's protocol (`primary`); copies the master orders are `copies`."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import grpc

from chunkserver.config import ChunkserverConfig
from chunkserver.copies import Copies
from chunkserver.metrics import READ_BYTES
from chunkserver.mutations import Mutations
from chunkserver.pushes import Pushes
from chunkserver.spool import Spool
from chunkserver.storage import ChunkStore, CorruptReplica
from chunkserver.tokencheck import TokenCheck
from common import access, errors, tls, transport
from common.admission import Admission, Deadlines
from common.logformat import fields
from common.serving import HEALTH_METHODS, aborting
from common.term import Term
from common.tokens import READ, WRITE
from protos import chunkserver_pb2, chunkserver_pb2_grpc

log = logging.getLogger(__name__)


_MASTER = frozenset({"master"})
_PEERS = frozenset({"chunkserver"})
# Who may call each RPC of a secure chunkserver (common.access enforces it before the
# servicer): clients move data, other chunkservers forward and copy it, only the master changes
# versions, leases and replicas.
POLICY: access.Policy = {
    f"/pygfs.chunkserver.ChunkServer/{method}": roles
    for roles, methods in [
        (access.USERS | _PEERS, "PushData Read"),
        (access.USERS, "Write Append"),
        (_PEERS, "ApplyWrite ApplyAppends"),
        (_PEERS | {"admin"}, "ReplicaInfo"),
        (_MASTER, "SetVersion CreateReplicas GrantLease RevokeLease CloneFrom CopyLocal"),
        (_MASTER | {"shadow", "admin"}, "Describe"),
    ]
    for method in methods.split()
}
# Never refused for want of a worker: the master's orders, and a primary's mutations.
VITAL = HEALTH_METHODS | frozenset(
    method for method, roles in POLICY.items() if roles <= _MASTER or roles == _PEERS
)


class ChunkServicer(chunkserver_pb2_grpc.ChunkServerServicer):
    def __init__(
        self,
        config: ChunkserverConfig,
        store: ChunkStore,
        channels: transport.Channels,
        address: str = "",
    ) -> None:
        """`address`: this server's, as the master and other servers know it."""
        self.config = config
        self.store = store
        self.spool = Spool(
            config.data_dir / "spool", config.spool_ttl, config.spool_limit, config.spool_per_user
        )
        self.pushes = Pushes(config, store, self.spool, channels, address)
        self.mutations = Mutations(config, store, self.spool, channels, address)
        self.copies = Copies(config, store, self.spool, channels)
        self.tokens = TokenCheck()
        # The newest master term heard of: orders from a deposed master are refused.
        self.term = Term(config.data_dir / "master-epoch")
        self._pushes = Admission("pushes", config.max_pushes)
        self._reads = Admission("reads", config.max_reads)
        self._deadlines = Deadlines()

    def close(self) -> None:
        self.mutations.close()

    # --- data flow ----------------------------------------------------------------------------

    @aborting(log)
    def PushData(
        self, request_iterator: Iterator[chunkserver_pb2.DataPiece], context: grpc.ServicerContext
    ) -> chunkserver_pb2.PushDataResponse:
        with (
            self._pushes.admit(),
            self._deadlines.bounded(context, self.config.stream_timeout),
        ):
            who = tls.peer(context)

            def allowed(first: chunkserver_pb2.DataPiece) -> str:
                return self.tokens.push(who, first.token, first.handle, list(first.chain))

            length = self.pushes.receive(request_iterator, allowed)
            return chunkserver_pb2.PushDataResponse(length=length)

    @aborting(log)
    def Read(
        self, request: chunkserver_pb2.ReadRequest, context: grpc.ServicerContext
    ) -> Iterator[chunkserver_pb2.ReadPiece]:
        _check_range(request)
        self.tokens.data(tls.peer(context), request.token, READ, request.handle, request.version)
        return self.read(request, context)

    def read(
        self, request: chunkserver_pb2.ReadRequest, context: grpc.ServicerContext
    ) -> Iterator[chunkserver_pb2.ReadPiece]:
        """The bytes of a read its caller was found allowed to make."""
        with (
            self._reads.admit(),
            self._deadlines.bounded(context, self.config.stream_timeout),
        ):
            try:
                for data in self.store.read(
                    request.handle,
                    request.version,
                    request.offset,
                    request.length,
                    self.config.read_piece,
                ):
                    READ_BYTES.inc(len(data))
                    yield chunkserver_pb2.ReadPiece(data=data)
            except CorruptReplica as err:
                log.warning(
                    "%s; refusing the read",
                    err,
                    extra=fields("replica_corrupt", handle=err.handle, found_by="read"),
                )
                raise

    # --- control flow -------------------------------------------------------------------------

    @aborting(log)
    def Write(
        self, request: chunkserver_pb2.WriteRequest, context: grpc.ServicerContext
    ) -> chunkserver_pb2.WriteResponse:
        self.tokens.data(tls.peer(context), request.token, WRITE, request.handle, request.version)
        length, extended = self.mutations.write(
            request.handle,
            request.version,
            request.offset,
            request.data_id,
            request.data,
            request.path,
        )
        return chunkserver_pb2.WriteResponse(chunk_length=length, extended=extended)

    @aborting(log)
    def Append(
        self, request: chunkserver_pb2.AppendRequest, context: grpc.ServicerContext
    ) -> chunkserver_pb2.AppendResponse:
        self.tokens.data(tls.peer(context), request.token, WRITE, request.handle, request.version)
        answer = self.mutations.append(
            request.handle,
            request.version,
            request.data_id,
            request.record_id,
            request.data,
            request.path,
        )
        return chunkserver_pb2.AppendResponse(
            offset=answer.offset,
            duplicate=answer.duplicate,
            padded=answer.padded,
            extended=answer.extended,
        )

    @aborting(log)
    def ApplyWrite(
        self, request: chunkserver_pb2.ApplyWriteRequest, context: grpc.ServicerContext
    ) -> chunkserver_pb2.WriteResponse:
        self.tokens.lease(tls.peer(context), request.token, request.handle, request.version)
        return chunkserver_pb2.WriteResponse(
            chunk_length=self.mutations.apply_from_primary(request)
        )

    @aborting(log)
    def ApplyAppends(
        self, request: chunkserver_pb2.ApplyAppendsRequest, context: grpc.ServicerContext
    ) -> chunkserver_pb2.WriteResponse:
        self.tokens.lease(tls.peer(context), request.token, request.handle, request.version)
        return chunkserver_pb2.WriteResponse(
            chunk_length=self.mutations.apply_appends_from_primary(request)
        )

    @aborting(log)
    def GrantLease(
        self, request: chunkserver_pb2.GrantLeaseRequest, context: grpc.ServicerContext
    ) -> chunkserver_pb2.Ack:
        self.term.check(request.epoch, f"a lease on chunk {request.handle}")
        self.mutations.grant(request)
        return chunkserver_pb2.Ack()

    @aborting(log)
    def RevokeLease(
        self, request: chunkserver_pb2.RevokeLeaseRequest, context: grpc.ServicerContext
    ) -> chunkserver_pb2.Ack:
        self.term.check(request.epoch, f"a lease revocation on chunk {request.handle}")
        self.mutations.revoke(request.handle, request.version)
        return chunkserver_pb2.Ack()

    @aborting(log)
    def SetVersion(
        self, request: chunkserver_pb2.SetVersionRequest, context: grpc.ServicerContext
    ) -> chunkserver_pb2.Ack:
        self.term.check(request.epoch, f"version {request.version} of chunk {request.handle}")
        self.store.set_version(request.handle, request.version, request.create)
        self.mutations.version_changed(request.handle, request.version)
        return chunkserver_pb2.Ack()

    @aborting(log)
    def CreateReplicas(
        self, request: chunkserver_pb2.CreateReplicasRequest, context: grpc.ServicerContext
    ) -> chunkserver_pb2.Ack:
        self.term.check(request.epoch, f"{len(request.handles)} new replicas")
        self.store.create(list(request.handles), request.version)
        return chunkserver_pb2.Ack()

    # --- what this server holds, and copies ---------------------------------------------------

    @aborting(log)
    def Describe(
        self, request: chunkserver_pb2.DescribeRequest, context: grpc.ServicerContext
    ) -> chunkserver_pb2.Description:
        used, free = self.store.usage()
        reports = [] if request.without_replicas else self.store.reports()
        return chunkserver_pb2.Description(
            rack=self.config.rack,
            used_bytes=used,
            free_bytes=free,
            replicas=[
                chunkserver_pb2.Replica(handle=h, version=v, length=n) for h, v, n in reports
            ],
            corrupt=sorted(self.store.corrupt),
            http=self.config.http,
            plain_reads=self.config.plain_reads,
            failed_dirs=self.store.volumes.failed_dirs(),
            slow_dirs=self.store.volumes.slow_dirs(),
            replica_count=len(self.store.metas),
        )

    @aborting(log)
    def ReplicaInfo(
        self, request: chunkserver_pb2.ReplicaInfoRequest, context: grpc.ServicerContext
    ) -> chunkserver_pb2.ReplicaInfoResponse:
        meta = self.store.info(request.handle, request.version)
        return chunkserver_pb2.ReplicaInfoResponse(
            length=meta.length,
            crcs=[] if request.without_crcs else meta.crcs,
            record_ids=self.store.ids_of(request.handle),
        )

    @aborting(log)
    def CloneFrom(
        self, request: chunkserver_pb2.CloneFromRequest, context: grpc.ServicerContext
    ) -> chunkserver_pb2.Ack:
        self.copies.clone_from(request.handle, request.version, request.source)
        return chunkserver_pb2.Ack()

    @aborting(log)
    def CopyLocal(
        self, request: chunkserver_pb2.CopyLocalRequest, context: grpc.ServicerContext
    ) -> chunkserver_pb2.Ack:
        self.copies.copy_local(
            request.handle, request.version, request.new_handle, request.new_version
        )
        return chunkserver_pb2.Ack()


class PlainReads(chunkserver_pb2_grpc.ChunkServerServicer):
    """A secure chunkserver's plain read port (--plain-reads): reads only, in clear, each proved
    by the caller's token (TokenCheck.plain_read), as HDFS moves block data authenticated by its
    block token but unencrypted unless asked. Every other RPC is UNIMPLEMENTED here. Bulk reads
    cost no TLS: on two cores, encrypting and decrypting each byte took a fifth of get's speed."""

    def __init__(self, chunks: ChunkServicer) -> None:
        self.chunks = chunks

    @aborting(log)
    def Read(
        self, request: chunkserver_pb2.ReadRequest, context: grpc.ServicerContext
    ) -> Iterator[chunkserver_pb2.ReadPiece]:
        _check_range(request)
        self.chunks.tokens.plain_read(
            request.token,
            request.proof,
            request.handle,
            request.version,
            request.offset,
            request.length,
        )
        return self.chunks.read(request, context)


def _check_range(request: chunkserver_pb2.ReadRequest) -> None:
    if request.offset < 0 or request.length < 0:
        raise errors.InvalidArgument("offset and length must be >= 0")
