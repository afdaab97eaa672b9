"""gRPC servicer of the master and of a shadow master: proto <-> domain, nothing else. A
shadow answers reads; every change is refused with its `refusal()`."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from collections.abc import Iterator

import grpc

from common import access, errors, limits, paths, tls, transport
from common.admission import Admission
from common.serving import HEALTH_METHODS, aborting
from common.tokens import READ, WRITE
from master import messages
from master.chunkservers import Heartbeat, Report
from master.metadata import ChunkView, Metadata
from master.metrics import HEARTBEATS
from master.permissions import SUPERGROUP, SUPERUSER, Caller
from master.service import MasterService
from master.shadow import ShadowService
from protos import master_pb2, master_pb2_grpc

log = logging.getLogger(__name__)


STATS_BYTES = 4 * 1024 * 1024  # the answers of one StatMany, likewise


def _caller(context: grpc.ServicerContext) -> Caller:
    """Who the permission checks see: the certificate's user, in the group of their own name
    (an admin is a superuser, in the supergroup too); on an insecure master, a superuser."""
    who = tls.peer(context)
    if who is None:
        return SUPERUSER
    admin = who.role in _ADMIN
    groups = {who.name, SUPERGROUP} if admin else {who.name}
    return Caller(who.name, frozenset(groups), superuser=admin)


_USERS = access.USERS
_ADMIN = frozenset({"admin"})
# Who may call each RPC of a secure master (common.access enforces it before the servicer).
POLICY: access.Policy = {
    f"/pygfs.master.Master/{method}": roles
    for roles, methods in [
        (
            _USERS,
            "Mkdir Create CreateMany Delete Undelete Rename Snapshot List Stat StatMany GetChunk "
            "Fsck Summary SafeMode Chmod Chown SetReplication",
        ),
        (_USERS | {"shadow"}, "Report"),
        (frozenset({"chunkserver"}), "Heartbeat"),
        (_USERS | {"chunkserver"}, "ExtendFile"),
        (_ADMIN | {"shadow", "master"}, "StreamLog Checkpoint"),
        (frozenset({"shadow", "master"}), "LogHeld Promise"),
        (_ADMIN, "Decommission Balance"),
    ]
    for method in methods.split()
}
# Never refused for want of a worker: a starved heartbeat gets a live chunkserver declared dead.
VITAL = frozenset({"/pygfs.master.Master/Heartbeat"}) | HEALTH_METHODS


class MasterServicer(master_pb2_grpc.MasterServicer):
    def __init__(self, service: MasterService | ShadowService) -> None:
        self.service = service
        self.metadata = service.metadata
        self._followers = Admission("followed log streams", service.config.max_followers)

    def _master(self, context: grpc.ServicerContext) -> MasterService:
        """The master's operations; a shadow refuses. An active master replica names its term
        in the answer (`transport.TERM`), so a client can tell which term acknowledged what."""
        if isinstance(self.service, ShadowService):
            raise self.service.refusal()
        if self.service.epoch:
            context.set_trailing_metadata(((transport.TERM, str(self.service.epoch)),))
        return self.service

    def _reads(self, context: grpc.ServicerContext) -> Metadata:
        """What answers reads. A standby master replica answers only a client that found no
        active one and takes a standby's view (`transport.STANDBY_READS`), as a shadow's: it
        may lag the active one, which a client of the replicas reads from."""
        asked = (transport.STANDBY_READS, "1") in (context.invocation_metadata() or ())
        if isinstance(self.service, ShadowService) and self.service.standby and not asked:
            raise self.service.refusal()
        return self.metadata

    @aborting(log)
    def Mkdir(
        self, request: master_pb2.MkdirRequest, context: grpc.ServicerContext
    ) -> master_pb2.Empty:
        self._master(context).mkdir(
            paths.normalize(request.path), request.parents, _caller(context)
        )
        return master_pb2.Empty()

    @aborting(log)
    def Create(
        self, request: master_pb2.CreateRequest, context: grpc.ServicerContext
    ) -> master_pb2.CreateReply:
        path = paths.normalize(request.path)
        first = self._master(context).create(
            path, _caller(context), request.replication, request.first_chunk
        )
        reply = master_pb2.CreateReply(chunk_size=self.service.config.chunk_size)
        if first is not None:
            reply.first_chunk.CopyFrom(self._located(first, READ + WRITE, context))
        return reply

    @aborting(log)
    def CreateMany(
        self, request: master_pb2.CreateManyRequest, context: grpc.ServicerContext
    ) -> master_pb2.CreateManyReply:
        limits.check_batch(len(request.files), "creates")
        master = self._master(context)
        outcomes: list[errors.GfsError | None] = [None] * len(request.files)
        wanted: list[tuple[int, tuple[str, int]]] = []
        for i, file in enumerate(request.files):
            try:
                wanted.append((i, (paths.normalize(file.path), file.replication)))
            except errors.GfsError as err:
                outcomes[i] = err
        made = master.create_many([file for _, file in wanted], _caller(context))
        for (i, _), outcome in zip(wanted, made, strict=True):
            outcomes[i] = outcome
        reply = master_pb2.CreateManyReply(chunk_size=self.service.config.chunk_size)
        for outcome in outcomes:
            done = reply.outcomes.add()
            if outcome is not None:
                done.error, done.kinds = str(outcome), transport.status_of(outcome)[1]
        return reply

    @aborting(log)
    def SetReplication(
        self, request: master_pb2.SetReplicationRequest, context: grpc.ServicerContext
    ) -> master_pb2.SetReplicationReply:
        path = paths.normalize(request.path)
        files = self._master(context).set_replication(path, request.replication, _caller(context))
        return master_pb2.SetReplicationReply(files=files)

    @aborting(log)
    def Delete(
        self, request: master_pb2.DeleteRequest, context: grpc.ServicerContext
    ) -> master_pb2.Empty:
        path = paths.normalize(request.path)
        self._master(context).delete(path, request.recursive, request.skip_trash, _caller(context))
        return master_pb2.Empty()

    @aborting(log)
    def Undelete(
        self, request: master_pb2.UndeleteRequest, context: grpc.ServicerContext
    ) -> master_pb2.Empty:
        self._master(context).undelete(paths.normalize(request.path), _caller(context))
        return master_pb2.Empty()

    @aborting(log)
    def Rename(
        self, request: master_pb2.RenameRequest, context: grpc.ServicerContext
    ) -> master_pb2.Empty:
        src, dst = paths.normalize(request.src), paths.normalize(request.dst)
        self._master(context).rename(src, dst, _caller(context))
        return master_pb2.Empty()

    @aborting(log)
    def Snapshot(
        self, request: master_pb2.RenameRequest, context: grpc.ServicerContext
    ) -> master_pb2.Empty:
        src, dst = paths.normalize(request.src), paths.normalize(request.dst)
        self._master(context).snapshot(src, dst, _caller(context))
        return master_pb2.Empty()

    @aborting(log)
    def List(
        self, request: master_pb2.ListRequest, context: grpc.ServicerContext
    ) -> master_pb2.ListResponse:
        nodes = self._reads(context).list_dir(paths.normalize(request.path), _caller(context))
        replication = self.service.config.replication
        return master_pb2.ListResponse(entries=[messages.entry(n, replication) for n in nodes])

    @aborting(log)
    def Stat(
        self, request: master_pb2.StatRequest, context: grpc.ServicerContext
    ) -> master_pb2.FileInfo:
        return self._info(self._reads(context), request.path, _caller(context), context)

    @aborting(log)
    def StatMany(
        self, request: master_pb2.StatManyRequest, context: grpc.ServicerContext
    ) -> master_pb2.StatManyReply:
        limits.check_batch(len(request.paths), "stats")
        reads, caller = self._reads(context), _caller(context)
        reply = master_pb2.StatManyReply()
        size = 0
        for path in request.paths:
            if size > STATS_BYTES:
                break  # the client asks again for the rest
            result = reply.results.add()
            try:
                result.info.CopyFrom(self._info(reads, path, caller, context))
            except errors.GfsError as err:
                result.error = str(err)
                result.kinds = transport.status_of(err)[1]
            size += result.ByteSize()
        return reply

    def _info(
        self, reads: Metadata, path: str, caller: Caller, context: grpc.ServicerContext
    ) -> master_pb2.FileInfo:
        node, views = reads.stat(paths.normalize(path), caller)
        return master_pb2.FileInfo(
            entry=messages.entry(node, self.service.config.replication),
            chunk_size=self.service.config.chunk_size,
            chunks=[self._located(v, READ, context) for v in views],
        )

    @aborting(log)
    def GetChunk(
        self, request: master_pb2.GetChunkRequest, context: grpc.ServicerContext
    ) -> master_pb2.ChunkLocation:
        path = paths.normalize(request.path)
        caller = _caller(context)
        if request.for_write:
            view = self._master(context).get_chunk(path, request.index, True, caller)
            return self._located(view, READ + WRITE, context)
        if isinstance(self.service, ShadowService):
            view = self._reads(context).chunk_view(path, request.index, caller)
        else:
            view = self.service.get_chunk(path, request.index, False, caller)
        return self._located(view, READ, context)

    def _located(
        self, view: ChunkView, ops: str, context: grpc.ServicerContext
    ) -> master_pb2.ChunkLocation:
        """Where the chunk lives and, from a secure master, the caller's token for it."""
        location = messages.location(view)
        tokens = self.service.tokens
        who = tls.peer(context)
        if tokens is not None and who is not None:
            location.token = tokens.issue(who.name, view.handle, view.version, ops, view.replicas)
        return location

    @aborting(log)
    def ExtendFile(
        self, request: master_pb2.ExtendFileRequest, context: grpc.ServicerContext
    ) -> master_pb2.Empty:
        path = paths.normalize(request.path)
        who = tls.peer(context)
        if request.handle or (who is not None and who.role == "chunkserver"):
            # A primary, for the records it appended: it may claim the address it names.
            if who is not None and (
                who.role != "chunkserver" or not who.may_claim(request.primary)
            ):
                raise errors.PermissionDenied(
                    f"only the primary of chunk {request.handle} may extend {path} for it"
                )
            self._master(context).extend_for_primary(
                path, request.handle, request.primary, request.chunk_end
            )
        else:
            self._master(context).extend(path, request.length, _caller(context))
        return master_pb2.Empty()

    @aborting(log)
    def Chmod(
        self, request: master_pb2.ChmodRequest, context: grpc.ServicerContext
    ) -> master_pb2.Empty:
        self._master(context).chmod(paths.normalize(request.path), request.mode, _caller(context))
        return master_pb2.Empty()

    @aborting(log)
    def Chown(
        self, request: master_pb2.ChownRequest, context: grpc.ServicerContext
    ) -> master_pb2.Empty:
        path = paths.normalize(request.path)
        self._master(context).chown(path, request.owner, request.group, _caller(context))
        return master_pb2.Empty()

    @aborting(log)
    def Heartbeat(
        self, request: master_pb2.HeartbeatRequest, context: grpc.ServicerContext
    ) -> master_pb2.HeartbeatResponse:
        who = tls.peer(context)
        for claimed in filter(None, [request.address, request.plain_reads]):
            if who is not None and not who.may_claim(claimed):
                raise errors.PermissionDenied(
                    f"chunkserver {who.name!r} may not report as {claimed}: its certificate "
                    f"names {', '.join(sorted(who.hosts)) or 'no host'}"
                )
        master = self._master(context)
        HEARTBEATS.inc()
        answer = master.heartbeat(
            Heartbeat(
                address=request.address,
                rack=request.rack,
                used_bytes=request.used_bytes,
                free_bytes=request.free_bytes,
                reports=[Report(r.handle, r.version, r.length) for r in request.replicas],
                corrupt=list(request.corrupt),
                extend=[(r.handle, r.version) for r in request.extend],
                http=request.http,
                plain_reads=request.plain_reads,
                failed_dirs=tuple(request.failed_dirs),
                lost=tuple(request.lost),
                slow_dirs=tuple(request.slow_dirs),
                incremental=request.incremental,
                gone=tuple(request.gone),
                replica_count=request.replica_count,
                part=request.report_part,
                parts=request.report_parts,
            )
        )
        return master_pb2.HeartbeatResponse(
            delete=[
                master_pb2.Removal(handle=r.handle, max_version=r.max_version)
                for r in answer.removals
            ],
            interval_seconds=self.service.config.heartbeat_interval,
            extended=[handle for handle, _ in answer.extended],
            extended_tokens=[token for _, token in answer.extended],
            full_report=answer.full_report,
            recheck=answer.recheck,
            lease_seconds=self.service.config.lease_seconds,
            **messages.token_keys(master.tokens),
            epoch=master.epoch,
        )

    @aborting(log)
    def Report(
        self, request: master_pb2.Empty, context: grpc.ServicerContext
    ) -> master_pb2.ClusterReport:
        return master_pb2.ClusterReport(
            chunkservers=[
                master_pb2.ServerReport(**dataclasses.asdict(server))
                for server in self.metadata.report()
            ],
            safe_mode=self.service.safe_mode.active,
            role=self.service.role,
            log_seq=self.service.store.last_seq,
            lag_seconds=self.service.lag_seconds(),
            master_http=self.service.config.http,
            pooled=self.service.pooled(),
        )

    @aborting(log)
    def SafeMode(
        self, request: master_pb2.SafeModeRequest, context: grpc.ServicerContext
    ) -> master_pb2.SafeModeState:
        action = request.action or "get"
        if action != "get":
            access.require(context, _ADMIN, "change safe mode")
            self._master(context).set_safe_mode(action)
        known, reported = self.metadata.chunk_counts()
        return master_pb2.SafeModeState(
            active=self.service.safe_mode.active,
            manual=self.service.safe_mode.manual,
            known_chunks=known,
            reported_chunks=reported,
        )

    @aborting(log)
    def Balance(
        self, request: master_pb2.Empty, context: grpc.ServicerContext
    ) -> master_pb2.BalanceReply:
        return master_pb2.BalanceReply(moves=self._master(context).balance())

    @aborting(log)
    def Decommission(
        self, request: master_pb2.DecommissionRequest, context: grpc.ServicerContext
    ) -> master_pb2.Empty:
        self._master(context).decommission(request.address, request.cancel)
        return master_pb2.Empty()

    @aborting(log)
    def Fsck(
        self, request: master_pb2.FsckRequest, context: grpc.ServicerContext
    ) -> master_pb2.FsckReport:
        path = paths.normalize(request.path or "/")
        return master_pb2.FsckReport(**self._reads(context).fsck(path, _caller(context)))

    @aborting(log)
    def Summary(
        self, request: master_pb2.SummaryRequest, context: grpc.ServicerContext
    ) -> master_pb2.SummaryReport:
        path = paths.normalize(request.path or "/")
        return master_pb2.SummaryReport(**self._reads(context).summary(path, _caller(context)))

    @aborting(log)
    def Checkpoint(
        self, request: master_pb2.Empty, context: grpc.ServicerContext
    ) -> Iterator[master_pb2.CheckpointPiece]:
        seq, pages = self.metadata.checkpoint()
        store = self.service.store
        # Where the follower's log will stand: this entry's digest and term (a checkpoint of
        # a store that itself began from one: the marker's).
        digest, epoch = store.digest(seq) or "", store.log_epoch
        for page in pages:
            yield master_pb2.CheckpointPiece(
                seq=seq, changes_json=json.dumps(page), digest=digest, epoch=epoch
            )
            digest, epoch = "", 0  # said with the first piece

    @aborting(log)
    def LogHeld(
        self, requests: Iterator[master_pb2.LogHeldRequest], context: grpc.ServicerContext
    ) -> master_pb2.Empty:
        service = self.service
        for request in requests:
            if not request.follower:
                raise errors.InvalidArgument("LogHeld names no follower")
            if isinstance(service, MasterService) and request.epoch > service.epoch:
                service.depose(request.epoch)
                raise errors.Deposed(f"{request.follower} follows term {request.epoch}")
            if request.epoch == service.epoch:  # an older term's word counts for nothing here
                self.metadata.quorum.held(request.follower, request.seq)
        return master_pb2.Empty()

    @aborting(log)
    def Promise(
        self, request: master_pb2.PromiseRequest, context: grpc.ServicerContext
    ) -> master_pb2.PromiseReply:
        if request.epoch <= 0 or not request.candidate:
            raise errors.InvalidArgument("a Promise names a term above 0 and its candidate")
        seq, digest, epoch = self.service.promise(request.epoch, request.candidate)
        return master_pb2.PromiseReply(last_seq=seq, last_digest=digest, last_epoch=epoch)

    @aborting(log)
    def StreamLog(
        self, request: master_pb2.StreamLogRequest, context: grpc.ServicerContext
    ) -> Iterator[master_pb2.LogRecord]:
        who = tls.peer(context)
        follower = who is not None and who.role in ("shadow", "master")
        tokens = self.service.tokens if follower else None
        service = self.service
        if isinstance(service, MasterService) and request.epoch > service.epoch:
            service.depose(request.epoch)
            if request.follow:  # a new active taking this log (no follow) still reads it
                raise errors.Deposed(f"the follower promised term {request.epoch}")
        if isinstance(service, ShadowService) and service.standby and request.follow:
            # Followed, a standby could tell a replica its log differs and have it drop
            # entries an active holds (a new active reads it without following).
            raise service.refusal()
        epoch = service.epoch
        first = True
        with self._followers.admit() if request.follow else contextlib.nullcontext():
            for page in self.service.oplog.stream(
                request.since,
                request.follow,
                request.limit,
                context.is_active,
                request.follower,
                request.since_digest,
            ):
                head = self.service.store.last_seq
                # A shadow's token keys: with the first record, then with every keepalive.
                keys = messages.token_keys(tokens) if first or not page else {}
                first = False
                if not page:
                    yield master_pb2.LogRecord(seq=0, head_seq=head, epoch=epoch, **keys)
                elif request.batch > 0:
                    for group in messages.log_groups(page, request.batch):
                        entries = [master_pb2.LogEntry(**messages.log_fields(e)) for e in group]
                        yield master_pb2.LogRecord(
                            head_seq=head, entries=entries, epoch=epoch, **keys
                        )
                        keys = {}
                else:
                    for entry in page:
                        yield master_pb2.LogRecord(
                            **messages.log_fields(entry), head_seq=head, epoch=epoch, **keys
                        )
                        keys = {}
