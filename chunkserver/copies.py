"""Whole-replica copies the master orders: from another chunkserver (re-replication, GFS
section 4.3) and on this one to a new handle (copy-on-write after a snapshot, section 3.4).
Each copy is verified before it counts: a copy never spreads corruption."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

from chunkserver.config import ChunkserverConfig
from chunkserver.metrics import COPIED_BYTES
from chunkserver.spool import Spool
from chunkserver.storage import ChunkStore
from common import errors, transport
from protos import chunkserver_pb2

log = logging.getLogger(__name__)


@dataclass
class Copies:
    config: ChunkserverConfig
    store: ChunkStore
    spool: Spool
    channels: transport.Channels

    def clone_from(self, handle: int, version: int, source: str) -> None:
        """Copies the replica from `source`, checked against the source's block checksums."""
        stub = self.channels.chunkserver(source)
        info = transport.call(
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
            with transport.translating(source):
                for piece in stub.Read(read, timeout=self.config.rpc_timeout * 6):
                    writer.write(piece.data)
        except BaseException:
            writer.abort()
            raise
        copy = writer.finish()
        COPIED_BYTES.inc(copy.size)
        if copy.size != info.length or list(copy.crcs) != list(info.crcs):
            copy.path.unlink(missing_ok=True)
            raise errors.DataLoss(f"the copy of chunk {handle} from {source} fails its checksums")
        self.store.adopt(handle, version, copy.path, copy.size, copy.crcs, dict(info.record_ids))
        log.info(
            "copied chunk %d v%d from %s (%d bytes, verified)", handle, version, source, copy.size
        )

    def copy_local(self, handle: int, version: int, new: int, new_version: int) -> None:
        """Copies this server's replica to handle `new` (a verified read of the local one)."""
        meta = self.store.info(handle, version)
        writer = self.spool.open(f"copy-{new}-{uuid.uuid4().hex}", time.monotonic(), meta.length)
        try:
            for piece in self.store.read(handle, version, 0, meta.length, self.config.read_piece):
                writer.write(piece)
        except BaseException:
            writer.abort()
            raise
        copy = writer.finish()
        self.store.adopt(
            new, new_version, copy.path, copy.size, copy.crcs, self.store.ids_of(handle)
        )
        log.info("copied chunk %d locally to chunk %d (%d bytes)", handle, new, copy.size)
