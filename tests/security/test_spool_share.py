"""A user's pushes that are never written hold at most their share of a chunkserver's spool:
before, they filled it for everyone until they expired two minutes later."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import grpc
import pytest

from client.client import Client
from client.localcluster import HOME, LocalCluster
from common import transport
from protos import chunkserver_pb2 as cpb
from protos import master_pb2 as mpb
from tests.conftest import FAST_TIMING, SMALL_CHUNK

pytestmark = pytest.mark.cluster

SHARE = 3 * SMALL_CHUNK


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    local = LocalCluster(
        tmp_path_factory.mktemp("spool"),
        master_args=[f"--chunk-size={SMALL_CHUNK}", *FAST_TIMING],
        chunkserver_args=[f"--spool-per-user={SHARE}"],
        secure=True,
    )
    try:
        local.start()
        yield local
    finally:
        local.stop()


def test_pushes_never_written_fill_only_their_users_share(cluster: LocalCluster) -> None:
    client_tls, mallory_tls = cluster.tls_for("client"), cluster.tls_for("mallory")
    with Client(cluster.master_address, timeout=10, tls=client_tls) as gfs:
        gfs.create(f"{HOME}/hoarded")
    channels = transport.Channels(client_tls)
    try:
        where = channels.master(cluster.master_address).GetChunk(
            mpb.GetChunkRequest(path=f"{HOME}/hoarded", index=0, for_write=True), timeout=10
        )
        target = channels.chunkserver(where.replicas[0])

        def push(n: int) -> grpc.StatusCode:
            piece = cpb.DataPiece(
                data_id=f"hoard-{n}", data=b"h" * SMALL_CHUNK, handle=where.handle, offset=0,
                token=where.token,
            )  # fmt: skip
            try:
                target.PushData(iter([piece]), timeout=10)
                return grpc.StatusCode.OK
            except grpc.RpcError as err:
                assert "'client' holds" in err.details(), err.details()  # type: ignore[attr-defined]
                return err.code()  # type: ignore[no-any-return, attr-defined]

        codes = [push(n) for n in range(5)]
        assert codes == [grpc.StatusCode.OK] * 3 + [grpc.StatusCode.RESOURCE_EXHAUSTED] * 2
    finally:
        channels.close()
    data = os.urandom(3 * SMALL_CHUNK + 17)  # through the same chunkservers
    with Client(cluster.master_address, timeout=10, tls=mallory_tls) as other:
        other.put(io.BytesIO(data), "/tmp/not-kept-out")
        assert other.read("/tmp/not-kept-out", 0, len(data)) == data
