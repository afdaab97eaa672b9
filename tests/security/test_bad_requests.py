"""Requests that used to leave lasting damage, sent straight to an insecure cluster's servers
(secure ones refuse most of them by role first): each is refused with a clear status, nothing
is stored, and the servers keep serving."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from client.client import Client
from client.localcluster import LocalCluster
from common import errors, transport
from protos import chunkserver_pb2 as cpb
from protos import master_pb2 as mpb
from tests.conftest import SMALL_CHUNK, run_gfs

pytestmark = pytest.mark.cluster


def code(method: Any, request: Any) -> grpc.StatusCode:
    try:
        method(request, timeout=10)
        return grpc.StatusCode.OK
    except grpc.RpcError as err:
        return err.code()  # type: ignore[no-any-return, attr-defined]


@pytest.fixture
def chunkserver(shared_cluster: LocalCluster) -> Iterator[tuple[Any, str]]:
    channels = transport.Channels()
    address = shared_cluster.servers[0].address
    yield channels.chunkserver(address), address
    channels.close()


def test_an_impossible_version_or_handle_is_refused_and_heartbeats_go_on(
    shared_cluster: LocalCluster, chunkserver: tuple[Any, str], gfs: Client
) -> None:
    """SetVersion(2**63) was stored, and from then on every heartbeat of that server failed to
    serialise: the master declared it dead for good."""
    stub, address = chunkserver
    gfs.put(io.BytesIO(b"v" * 100), "/versioned")
    held = gfs.stat("/versioned").chunks[0]
    for request in (
        cpb.SetVersionRequest(handle=held.handle, version=2**63),
        cpb.SetVersionRequest(handle=10**9, version=2**63, create=True),
        cpb.SetVersionRequest(handle=10**9, version=0, create=True),
        cpb.SetVersionRequest(handle=2**63, version=1, create=True),
        cpb.SetVersionRequest(handle=0, version=1, create=True),
    ):
        assert code(stub.SetVersion, request) == grpc.StatusCode.INVALID_ARGUMENT, request
    for many in (
        cpb.CreateReplicasRequest(handles=[10**9, 2**63], version=2),
        cpb.CreateReplicasRequest(handles=[10**9], version=0),
        cpb.CreateReplicasRequest(handles=[10**9, 10**9], version=2),
        cpb.CreateReplicasRequest(handles=range(10**9, 10**9 + 1025), version=2),
    ):
        assert code(stub.CreateReplicas, many) == grpc.StatusCode.INVALID_ARGUMENT, many
    assert (
        code(
            stub.CreateReplicas,
            cpb.CreateReplicasRequest(handles=[10**9 + 1, held.handle], version=2),
        )
        == grpc.StatusCode.FAILED_PRECONDITION
    )
    beats_before = {s.address: s.last_heartbeat_age_s for s in gfs.report().chunkservers}
    time.sleep(1.0)  # five heartbeat intervals of the test cluster
    after = {s.address: s for s in gfs.report().chunkservers}
    assert after[address].state == "alive"
    assert after[address].last_heartbeat_age_s < max(1.0, beats_before[address] + 1.0)
    assert gfs.stat("/versioned").chunks[0].version == held.version
    assert gfs.read("/versioned", 0, 100) == b"v" * 100


def test_a_record_id_that_would_break_the_id_file_is_refused(
    chunkserver: tuple[Any, str], gfs: Client
) -> None:
    """An id with a newline poisoned every replica's id file, and a restarted chunkserver
    failed to start on it."""
    gfs.create("/ids")
    with pytest.raises(errors.InvalidArgument, match="record id"):
        gfs.append("/ids", b"payload", record_id="a\nb")
    gfs.append("/ids", b"payload", record_id="fine")
    chunk = gfs.stat("/ids").chunks[0]
    stub, _ = chunkserver
    for bad in ("line\nbreak", "x" * 300, "tab\there", "nul\x00"):
        apply = cpb.ApplyWriteRequest(
            handle=chunk.handle, version=chunk.version, offset=0, pad_to=1, record_id=bad
        )
        assert code(stub.ApplyWrite, apply) == grpc.StatusCode.INVALID_ARGUMENT, bad
    assert gfs.read("/ids", 0, 7) == b"payload"


def test_a_push_chain_that_could_loop_or_is_not_an_address_is_refused(
    chunkserver: tuple[Any, str], shared_cluster: LocalCluster
) -> None:
    """Two servers named so they forward to each other froze both servers' threads."""
    stub, address = chunkserver
    other = shared_cluster.servers[1].address

    def push(chain: list[str]) -> grpc.StatusCode:
        piece = cpb.DataPiece(data_id=os.urandom(8).hex(), chain=chain, data=b"x" * 10)
        try:
            stub.PushData(iter([piece]), timeout=10)
            return grpc.StatusCode.OK
        except grpc.RpcError as err:
            return err.code()  # type: ignore[no-any-return, attr-defined]

    for chain in ([address], [other, address], [other, other], ["nonsense"], [f"{other}0000"]):
        assert push(chain) == grpc.StatusCode.INVALID_ARGUMENT, chain
    assert push([other]) == grpc.StatusCode.OK, "a proper chain still works"


def test_the_trash_is_reserved_for_deleted_files(shared_cluster: LocalCluster) -> None:
    made = run_gfs(shared_cluster.master_address, "mkdir", "-p", "/.trash/junk")
    assert made.returncode == 1
    assert made.stderr.decode() == "gfs: /.trash is reserved for deleted files: /.trash/junk\n"
    with Client(shared_cluster.master_address) as gfs:
        gfs.put(io.BytesIO(b"z" * (SMALL_CHUNK + 1)), "/kept-out")
        with pytest.raises(errors.InvalidArgument, match="reserved"):
            gfs.mv("/kept-out", "/.trash/kept-out")
        assert gfs.read("/kept-out", 0, SMALL_CHUNK + 1) == b"z" * (SMALL_CHUNK + 1)


def test_a_forged_report_of_a_higher_version_deletes_no_real_replica(
    own_cluster: LocalCluster,
) -> None:
    """One fake heartbeat claiming a higher version made the master adopt it and remove every
    real replica of the file as stale."""
    data = os.urandom(SMALL_CHUNK + 11)
    with Client(own_cluster.master_address, timeout=10) as gfs:
        gfs.put(io.BytesIO(data), "/precious")
        chunk = gfs.stat("/precious").chunks[0]
        channels = transport.Channels()
        try:
            forged = mpb.HeartbeatRequest(
                address="127.0.0.1:1",
                rack="default",
                replicas=[mpb.ReplicaReport(handle=chunk.handle, version=chunk.version + 1)],
            )
            reply = channels.master(own_cluster.master_address).Heartbeat(forged, timeout=10)
        finally:
            channels.close()
        assert [r.handle for r in reply.delete] == [chunk.handle], "the claim is the stale one"
        time.sleep(1.0)  # five heartbeat intervals: every real server reported again
        after = gfs.stat("/precious").chunks[0]
        assert (after.version, sorted(after.replicas)) == (chunk.version, sorted(chunk.replicas))
        assert gfs.read("/precious", 0, len(data)) == data
