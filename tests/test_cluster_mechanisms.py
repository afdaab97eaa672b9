"""The mechanisms of GFS section 3, shown working under the conditions they exist for."""

from __future__ import annotations

import io
import os
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from client.client import Client
from client.localcluster import LocalCluster
from common import transport
from protos import chunkserver_pb2 as cpb
from tests.conftest import SMALL_CHUNK

pytestmark = pytest.mark.cluster
PIECE = 64 * 1024


def test_push_is_pipelined_the_tail_has_data_before_the_head_has_it_all(
    shared_cluster: LocalCluster,
) -> None:
    """A store-and-forward chain could not pass this: the client holds back the rest of the
    stream until its first pieces reached the third server."""
    chain = [p.address for p in shared_cluster.servers]
    tail_spool = shared_cluster.data_dir / "cs2" / "spool"
    data_id = f"pipelined-{uuid.uuid4().hex}"
    reached_tail = threading.Event()

    early = 4

    def tail_has_early_pieces() -> bool:
        return any(p.stat().st_size >= early * PIECE for p in tail_spool.glob(f"{data_id}.*"))

    def pieces() -> Iterator[cpb.DataPiece]:
        yield cpb.DataPiece(data_id=data_id, chain=chain[1:], data=os.urandom(PIECE))
        for _ in range(early - 1):
            yield cpb.DataPiece(data=os.urandom(PIECE))
        deadline = time.monotonic() + 10
        while not tail_has_early_pieces():
            if time.monotonic() > deadline:
                return  # the push ends short; the assertion below fails
            time.sleep(0.01)
        reached_tail.set()
        for _ in range(8 - early):
            yield cpb.DataPiece(data=os.urandom(PIECE))

    channels = transport.Channels()
    try:
        reply = channels.chunkserver(chain[0]).PushData(pieces(), timeout=30)
    finally:
        channels.close()
    assert reached_tail.is_set(), "the tail got nothing while the head was still receiving"
    assert reply.length == 8 * PIECE


def test_concurrent_writes_to_one_region_leave_every_replica_identical(
    shared_cluster: LocalCluster,
) -> None:
    """The primary's serial order is the order on every replica (docs/design.md section 5:
    concurrent successful writes leave a region consistent)."""
    with Client(shared_cluster.master_address) as gfs:
        gfs.put(io.BytesIO(bytes(SMALL_CHUNK)), "/contended")
    region = (1000, 3 * PIECE)  # straddles blocks, so a torn order would show
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        try:
            with Client(shared_cluster.master_address) as own:
                for round_ in range(10):
                    own.write("/contended", region[0], bytes([seed * 16 + round_]) * region[1])
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with Client(shared_cluster.master_address) as gfs:
        chunk = gfs.stat("/contended").chunks[0]
    assert len(chunk.replicas) == 3
    channels = transport.Channels()
    try:
        copies = []
        for replica in chunk.replicas:
            request = cpb.ReadRequest(
                handle=chunk.handle, version=chunk.version, offset=0, length=SMALL_CHUNK
            )
            copies.append(
                b"".join(p.data for p in channels.chunkserver(replica).Read(request, timeout=10))
            )
    finally:
        channels.close()
    assert copies[0] == copies[1] == copies[2], (
        "replicas differ: the writes were not applied in one order"
    )
    written = copies[0][region[0] : region[0] + region[1]]
    assert len(set(written)) == 1, "the region holds a mix of writes: a write was torn"
