"""Calls that never end, against live servers: they get a bounded share of the server's
workers and its own deadline, and the server keeps answering everything else."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from client.client import Client
from client.localcluster import LocalCluster
from common import transport
from protos import chunkserver_pb2 as cpb
from protos import master_pb2 as mpb
from tests.conftest import FAST_TIMING, SMALL_CHUNK

pytestmark = pytest.mark.cluster

SLOTS = 3
STREAM_TIMEOUT = 3.0


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    local = LocalCluster(
        tmp_path,
        master_args=[f"--chunk-size={SMALL_CHUNK}", *FAST_TIMING, f"--max-followers={SLOTS}"],
        chunkserver_args=[f"--max-pushes={SLOTS}", f"--stream-timeout={STREAM_TIMEOUT}"],
    )
    try:
        local.start()
        yield local
    finally:
        local.stop()


def code_of(future: Any) -> grpc.StatusCode:
    try:
        future.result(timeout=30)
        return grpc.StatusCode.OK
    except grpc.RpcError as err:
        return err.code()  # type: ignore[no-any-return, attr-defined]


def test_endless_pushes_take_a_bounded_share_and_the_server_cancels_them(
    cluster: LocalCluster,
) -> None:
    """Forty pushes that never ended froze a chunkserver while the master called it alive."""
    target = cluster.servers[0].address
    release = threading.Event()

    def endless() -> Iterator[cpb.DataPiece]:
        yield cpb.DataPiece(data_id=os.urandom(8).hex(), data=b"x")
        release.wait(60)

    channels = transport.Channels()
    try:
        stub = channels.chunkserver(target)
        hanging = [stub.PushData.future(endless(), timeout=60) for _ in range(SLOTS)]
        time.sleep(0.5)  # all of them admitted and waiting for their next piece
        one_more = stub.PushData.future(endless(), timeout=60)
        assert code_of(one_more) == grpc.StatusCode.UNAVAILABLE
        # Meanwhile the server answers its control calls and keeps heartbeating.
        described = stub.Describe(cpb.DescribeRequest(), timeout=5)
        assert described.rack == "default"
        with Client(cluster.master_address, timeout=10) as gfs:
            time.sleep(1.0)  # five heartbeat intervals
            states = {s.address: s.state for s in gfs.report().chunkservers}
            assert states[target] == "alive"
            # The server's own deadline ends them, whatever the client's.
            started = time.monotonic()
            assert [code_of(f) for f in hanging] == [grpc.StatusCode.CANCELLED] * SLOTS
            assert time.monotonic() - started < STREAM_TIMEOUT + 5
            data = os.urandom(SMALL_CHUNK + 9)
            gfs.put(io.BytesIO(data), "/after")
            assert gfs.read("/after", 0, len(data)) == data
    finally:
        release.set()
        channels.close()


def test_followed_log_streams_take_a_bounded_share_of_the_master(cluster: LocalCluster) -> None:
    """Forty followed log streams froze the master until it declared every chunkserver dead."""
    channels = transport.Channels()
    try:
        master = channels.master(cluster.master_address)
        follow = mpb.StreamLogRequest(since=0, follow=True)
        streams = [master.StreamLog(follow, timeout=60) for _ in range(SLOTS)]
        for stream in streams:
            next(stream)  # admitted: its first entry (or keepalive) arrived
        refused = master.StreamLog(follow, timeout=60)
        with pytest.raises(grpc.RpcError) as caught:
            next(refused)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
        with Client(cluster.master_address, timeout=10) as gfs:
            time.sleep(1.0)
            assert all(s.state == "alive" for s in gfs.report().chunkservers)
            gfs.mkdir("/still-answering")
            gfs.mkdir("/and-logging")
            assert len(list(gfs.oplog(limit=2))) == 2, "a bounded read of the log is no follower"
        for stream in streams:
            stream.cancel()
        deadline = time.monotonic() + 10  # a stream notices within its one-second keepalive
        while True:
            again = master.StreamLog(follow, timeout=60)
            try:
                next(again)  # a slot came back
                break
            except grpc.RpcError:
                assert time.monotonic() < deadline, "the cancelled streams kept their slots"
                time.sleep(0.2)
        again.cancel()
    finally:
        channels.close()
