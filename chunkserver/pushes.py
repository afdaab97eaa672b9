"""The data flow (GFS section 3.2): a push arrives as a stream of pieces, is spooled under its
data id (and, when it is meant for a replica's end, placed in the chunk file past the end as it
arrives: chunkserver.staging), and is forwarded to the next server of the chain piece by
piece as it arrives (pipelined, not store-and-forward)."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc

from chunkserver.config import ChunkserverConfig
from chunkserver.metrics import PUSHED_BYTES
from chunkserver.spool import Spool, SpoolWriter
from chunkserver.staging import Staging
from chunkserver.storage import ChunkStore
from common import errors, transport
from protos import chunkserver_pb2

# Servers a push may be forwarded through: the replicas after the first (replication - 1).
MAX_CHAIN = 15


@dataclass
class Pushes:
    config: ChunkserverConfig
    store: ChunkStore
    spool: Spool
    channels: transport.Channels
    address: str = ""  # this server's: a chain naming it loops

    def receive(
        self,
        pieces: Iterator[chunkserver_pb2.DataPiece],
        allowed: Callable[[chunkserver_pb2.DataPiece], str] = lambda first: "",
    ) -> int:
        """Takes one push (its first piece names the data id, the chain after this server, and
        the chunk and offset it is for, and carries its token, which `allowed` checks and
        names the pushing user by, "" if none); returns its length once every server of the
        chain holds it."""
        first = next(pieces, None)
        if first is None or not first.data_id:
            raise errors.InvalidArgument("a push must start with a piece naming its data id")
        owner = allowed(first)
        data_id, chain = first.data_id, self._checked(list(first.chain))
        handle, offset = first.handle, first.offset
        writer = self.spool.open(data_id, time.monotonic(), self.config.max_chunk_size, owner)
        staging = self.store.stage(handle, data_id, offset, time.monotonic())

        def keep(data: bytes) -> None:
            PUSHED_BYTES.inc(len(data))
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
                    data_id=data_id,
                    chain=chain[1:],
                    data=head,
                    handle=handle,
                    offset=offset,
                    token=first.token,
                )
                while (item := relayed.get()) is not None:
                    yield chunkserver_pb2.DataPiece(data=item)

            downstream = self.channels.chunkserver(chain[0]).PushData.future(
                relay(), timeout=self.config.rpc_timeout + 60
            )
        try:
            keep(head)
            for piece in pieces:
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
                cause = transport.translate(err, chain[0])  # keeps its kind: a full disk stays one
                raise type(cause)(f"forwarding to {chain[0]} failed: {cause}") from None
        self.spool.add(data_id, pushed, time.monotonic(), owner)
        return pushed.size

    def _checked(self, chain: list[str]) -> list[str]:
        """The servers to forward to, refused if they could loop (this server, or one named
        twice: two servers forwarding to each other froze both), are more than any chain is,
        or are not HOST:PORT."""
        if len(chain) > MAX_CHAIN:
            raise errors.InvalidArgument(f"a push's chain names at most {MAX_CHAIN} servers")
        if len(set(chain)) < len(chain) or (self.address and self.address in chain):
            raise errors.InvalidArgument("a push's chain may name no server twice, nor this one")
        for address in chain:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise errors.InvalidArgument(f"not a HOST:PORT in a push's chain: {address[:80]!r}")
        return chain

    def _abandon(self, writer: SpoolWriter, staging: Staging | None) -> None:
        writer.abort()
        if staging is not None:
            self.store.unstage(staging)
