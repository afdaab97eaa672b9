"""What the master asks of chunkservers, as typed calls: the one place that builds their
protobuf requests. The rest of the master (and its tests' fakes) sees `ChunkserverCalls`."""

from __future__ import annotations

from typing import Protocol

from common import transport
from protos import chunkserver_pb2


class ChunkserverCalls(Protocol):
    """Each call raises the `common.errors` error of a failed RPC."""

    def set_version(self, address: str, handle: int, version: int, create: bool) -> None: ...

    def create_replicas(self, address: str, handles: list[int], version: int) -> None: ...

    def grant_lease(
        self,
        address: str,
        handle: int,
        version: int,
        seconds: float,
        secondaries: list[str],
        chunk_size: int,
        token: bytes = b"",
    ) -> None: ...

    def revoke_lease(self, address: str, handle: int, version: int) -> None: ...

    def copy_local(
        self, address: str, handle: int, version: int, new_handle: int, new_version: int
    ) -> None: ...

    def clone_from(self, address: str, handle: int, version: int, source: str) -> None: ...


class GrpcChunkserverCalls:
    """`ChunkserverCalls` over gRPC: short calls within `rpc_timeout`, whole-chunk copies
    within `copy_timeout`."""

    def __init__(
        self,
        channels: transport.Channels,
        rpc_timeout: float,
        copy_timeout: float,
        epoch: int = 0,
    ):
        """`epoch`: the master's term, sent with every order that a master of an older term
        must not give (versions, leases)."""
        self.channels = channels
        self.rpc_timeout = rpc_timeout
        self.copy_timeout = copy_timeout
        self.epoch = epoch

    def set_version(self, address: str, handle: int, version: int, create: bool) -> None:
        transport.call(
            self.channels.chunkserver(address).SetVersion,
            chunkserver_pb2.SetVersionRequest(
                handle=handle, version=version, create=create, epoch=self.epoch
            ),
            target=address,
            timeout=self.rpc_timeout,
        )

    def create_replicas(self, address: str, handles: list[int], version: int) -> None:
        transport.call(
            self.channels.chunkserver(address).CreateReplicas,
            chunkserver_pb2.CreateReplicasRequest(
                handles=handles, version=version, epoch=self.epoch
            ),
            target=address,
            timeout=self.rpc_timeout,
        )

    def grant_lease(
        self,
        address: str,
        handle: int,
        version: int,
        seconds: float,
        secondaries: list[str],
        chunk_size: int,
        token: bytes = b"",
    ) -> None:
        transport.call(
            self.channels.chunkserver(address).GrantLease,
            chunkserver_pb2.GrantLeaseRequest(
                handle=handle,
                version=version,
                seconds=seconds,
                secondaries=secondaries,
                chunk_size=chunk_size,
                token=token,
                epoch=self.epoch,
            ),
            target=address,
            timeout=self.rpc_timeout,
        )

    def revoke_lease(self, address: str, handle: int, version: int) -> None:
        transport.call(
            self.channels.chunkserver(address).RevokeLease,
            chunkserver_pb2.RevokeLeaseRequest(handle=handle, version=version, epoch=self.epoch),
            target=address,
            timeout=self.rpc_timeout,
        )

    def copy_local(
        self, address: str, handle: int, version: int, new_handle: int, new_version: int
    ) -> None:
        transport.call(
            self.channels.chunkserver(address).CopyLocal,
            chunkserver_pb2.CopyLocalRequest(
                handle=handle, version=version, new_handle=new_handle, new_version=new_version
            ),
            target=address,
            timeout=self.copy_timeout,
        )

    def clone_from(self, address: str, handle: int, version: int, source: str) -> None:
        transport.call(
            self.channels.chunkserver(address).CloneFrom,
            chunkserver_pb2.CloneFromRequest(handle=handle, version=version, source=source),
            target=address,
            timeout=self.copy_timeout,
        )
