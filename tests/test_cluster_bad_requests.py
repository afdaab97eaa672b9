"""Malformed, oversized and lying requests sent straight to the servers (past the client
library's own checks): each gets a clear status, nothing is stored, and the server keeps serving."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import grpc
import pytest

from client.client import Client
from client.localcluster import LocalCluster
from common import transport
from common.limits import MAX_BATCH, MAX_INLINE
from protos import chunkserver_pb2 as cpb
from protos import master_pb2 as mpb
from tests.conftest import SMALL_CHUNK

pytestmark = pytest.mark.cluster


def status_of(call: object) -> grpc.StatusCode:
    try:
        if isinstance(call, Iterator):
            list(call)
        return grpc.StatusCode.OK
    except grpc.RpcError as err:
        return err.code()  # type: ignore[no-any-return, attr-defined]


@pytest.fixture
def stubs(shared_cluster: LocalCluster) -> Iterator[tuple[object, object, str]]:
    channels = transport.Channels()
    address = shared_cluster.servers[0].address
    yield channels.master(shared_cluster.master_address), channels.chunkserver(address), address
    channels.close()


def call(method: object, request: object) -> grpc.StatusCode:
    try:
        result = method(request, timeout=10)  # type: ignore[operator]
        return status_of(result)
    except grpc.RpcError as err:
        return err.code()  # type: ignore[no-any-return, attr-defined]


def test_the_master_refuses_malformed_requests_and_keeps_serving(
    stubs, shared_cluster: LocalCluster
) -> None:  # type: ignore[no-untyped-def]
    master, _, _ = stubs
    bad = grpc.StatusCode.INVALID_ARGUMENT
    assert call(master.Create, mpb.CreateRequest(path="no-slash")) == bad
    assert call(master.Mkdir, mpb.MkdirRequest(path="/a/../b")) == bad
    assert call(master.GetChunk, mpb.GetChunkRequest(path="/x\x00y", index=0)) == bad
    assert call(master.Create, mpb.CreateRequest(path="/" + "x" * 5000)) == bad
    assert call(master.Create, mpb.CreateRequest(path="/negative-index")) == grpc.StatusCode.OK
    assert (
        call(master.GetChunk, mpb.GetChunkRequest(path="/negative-index", index=-1, for_write=True))
        == bad
    )
    assert call(master.Delete, mpb.DeleteRequest(path="/")) == bad
    assert call(master.Stat, mpb.StatRequest(path="/missing")) == grpc.StatusCode.NOT_FOUND
    assert call(master.StatMany, mpb.StatManyRequest(paths=["/"] * (MAX_BATCH + 1))) == bad
    results = master.StatMany(mpb.StatManyRequest(paths=["/", "x\x00", "/missing"]), timeout=10)
    assert [r.kinds.split(",")[0] for r in results.results] == ["", "InvalidPath", "NotFound"]
    too_many = [mpb.CreateRequest(path=f"/many-{i}") for i in range(MAX_BATCH + 1)]
    assert call(master.CreateMany, mpb.CreateManyRequest(files=too_many)) == bad
    files = [mpb.CreateRequest(path=p) for p in ("/made-in-a-batch", "x\x00", "/")]
    made = master.CreateMany(mpb.CreateManyRequest(files=files), timeout=10)
    assert [o.kinds.split(",")[0] for o in made.outcomes] == ["", "InvalidPath", "AlreadyExists"]
    with Client(shared_cluster.master_address) as gfs:
        gfs.put(io.BytesIO(b"still serving"), "/after-bad-master-requests")


def test_a_chunkserver_refuses_bad_pushes_reads_and_writes_and_keeps_serving(
    stubs, shared_cluster: LocalCluster
) -> None:  # type: ignore[no-untyped-def]
    _, cs, address = stubs
    spool = shared_cluster.data_dir / "cs0" / "spool"

    def pieces(data_id: str, count: int, size: int) -> Iterator[cpb.DataPiece]:
        yield cpb.DataPiece(data_id=data_id, data=b"x" * size)
        for _ in range(count - 1):
            yield cpb.DataPiece(data=b"x" * size)

    oversized = 64 * 1024 * 1024 // (1024 * 1024) + 1  # one piece more than any chunk holds
    assert (
        call(cs.PushData, pieces("too-big", oversized, 1024 * 1024))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert (
        call(cs.PushData, iter([cpb.DataPiece(data=b"no id")])) == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert call(cs.PushData, pieces("../escape", 1, 10)) == grpc.StatusCode.INVALID_ARGUMENT
    assert call(cs.PushData, iter([])) == grpc.StatusCode.INVALID_ARGUMENT
    assert [p for p in spool.iterdir() if "too-big" in p.name] == [], (
        "nothing of the refused push is kept"
    )

    assert (
        call(cs.Read, cpb.ReadRequest(handle=10**9, version=1, offset=0, length=10))
        == grpc.StatusCode.NOT_FOUND
    )
    assert (
        call(cs.Read, cpb.ReadRequest(handle=1, version=1, offset=-5, length=10))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert (
        call(cs.Write, cpb.WriteRequest(handle=1, version=1, offset=0, data_id="never-pushed"))
        == grpc.StatusCode.ABORTED
    )

    with Client(shared_cluster.master_address) as gfs:
        data = os.urandom(SMALL_CHUNK + 1)
        gfs.put(io.BytesIO(data), "/after-bad-chunkserver-requests")
        chunk = gfs.stat("/after-bad-chunkserver-requests").chunks[0]
        # A client that names the wrong version is refused by every replica (never served).
        for replica in chunk.replicas:
            other = transport.Channels()
            wrong = cpb.ReadRequest(
                handle=chunk.handle, version=chunk.version + 1, offset=0, length=10
            )
            assert call(other.chunkserver(replica).Read, wrong) == grpc.StatusCode.ABORTED
            other.close()
        # Data inline past the limit is refused by the primary and by a secondary, unapplied.
        too_much = b"x" * (MAX_INLINE + 1)
        inline = cpb.WriteRequest(
            handle=chunk.handle, version=chunk.version, offset=0, data_id="big", data=too_much
        )
        order = cpb.ApplyWriteRequest(
            handle=chunk.handle, version=chunk.version, offset=0, data_id="big", data=too_much
        )
        for method, request in (("Write", inline), ("ApplyWrite", order)):
            other = transport.Channels()
            try:
                stub = other.chunkserver(chunk.primary or "")
                assert call(getattr(stub, method), request) == grpc.StatusCode.INVALID_ARGUMENT
            finally:
                other.close()
        # A batch of appends that names none, leaves gaps between its records or pads is
        # refused by a secondary, unapplied.
        secondary_address = next(r for r in chunk.replicas if r != chunk.primary)
        batches = [
            [],
            [
                cpb.ApplyWriteRequest(offset=0, data=b"a"),
                cpb.ApplyWriteRequest(offset=5, data=b"b"),
            ],
            [cpb.ApplyWriteRequest(offset=0, data=b"a"), cpb.ApplyWriteRequest(offset=1, pad_to=9)],
        ]
        other = transport.Channels()
        try:
            stub = other.chunkserver(secondary_address)
            for appends in batches:
                batch = cpb.ApplyAppendsRequest(
                    handle=chunk.handle, version=chunk.version, appends=appends
                )
                assert call(stub.ApplyAppends, batch) == grpc.StatusCode.INVALID_ARGUMENT
        finally:
            other.close()
        assert gfs.read("/after-bad-chunkserver-requests", 0, len(data)) == data
        # A replica that is not the primary refuses to order a write, even with the data there.
        not_primary = next(r for r in chunk.replicas if r != chunk.primary)
        other = transport.Channels()
        try:
            secondary = other.chunkserver(not_primary)
            assert call(secondary.PushData, pieces("pushed-here", 1, 10)) == grpc.StatusCode.OK
            with pytest.raises(grpc.RpcError) as refused:
                secondary.Write(
                    cpb.WriteRequest(
                        handle=chunk.handle, version=chunk.version, offset=0, data_id="pushed-here"
                    ),
                    timeout=10,
                )
            assert refused.value.code() == grpc.StatusCode.ABORTED  # type: ignore[attr-defined]
            assert "not the primary" in refused.value.details()  # type: ignore[attr-defined]
        finally:
            other.close()
        out = io.BytesIO()
        gfs.get("/after-bad-chunkserver-requests", out)
        assert out.getvalue() == data
    assert address in shared_cluster.alive_chunkservers()


def test_a_flood_of_undecodable_requests_leaves_a_few_log_lines(
    shared_cluster: LocalCluster,
) -> None:
    """gRPC logged each request it could not decode with a full traceback: a client sending
    garbage in a loop filled the server's log. Now a few lines a minute, one line each."""
    assert shared_cluster.master is not None
    log_path = shared_cluster.master.log_path

    def complaints() -> list[str]:
        return [x for x in log_path.read_text().splitlines() if "deserializing" in x]

    before = len(complaints())
    lines_before = len(log_path.read_text().splitlines())
    channel = grpc.insecure_channel(shared_cluster.master_address)
    try:
        garbage = channel.unary_unary("/pygfs.master.Master/Mkdir")  # bytes as they are
        codes = {status_of_unary(garbage, b"\xff\xff\xff\xff") for _ in range(50)}
        assert codes == {grpc.StatusCode.INTERNAL}, codes
    finally:
        channel.close()
    with Client(shared_cluster.master_address) as gfs:
        gfs.mkdir("/after-the-flood", parents=True)  # still serving
    added = complaints()[before:]
    assert 0 < len(added) <= 5, added
    assert all("Error parsing message" in x for x in added), added
    new_lines = log_path.read_text().splitlines()[lines_before:]
    assert not any(x.startswith("Traceback") for x in new_lines), new_lines


def status_of_unary(method: grpc.UnaryUnaryMultiCallable, request: bytes) -> grpc.StatusCode:
    try:
        method(request, timeout=10)
        return grpc.StatusCode.OK
    except grpc.RpcError as err:
        return err.code()  # type: ignore[no-any-return, attr-defined]
