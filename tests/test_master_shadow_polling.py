"""A shadow master polls each chunkserver's every replica only now and then (a million take
seconds to list and judge), and keeps it alive in between with a handshake without them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from common import errors
from master import namespace, shadow
from master.config import MasterConfig
from master.shadow import ShadowService
from master.store import Store
from protos import chunkserver_pb2, master_pb2


class FakeChunkserver:
    def __init__(self, handles: list[int]) -> None:
        self.handles = handles
        self.asked: list[bool] = []  # each Describe answered: with the replicas or not
        self.down = False

    def Describe(self, request: Any, timeout: float) -> chunkserver_pb2.Description:
        if self.down:
            raise errors.Unavailable("down")
        self.asked.append(not request.without_replicas)
        replicas = [] if request.without_replicas else self.handles
        return chunkserver_pb2.Description(
            rack="r1",
            free_bytes=10**12,
            replicas=[chunkserver_pb2.Replica(handle=h, version=2, length=10) for h in replicas],
            replica_count=len(self.handles),
        )


class FakeMaster:
    def Report(self, request: Any, timeout: float) -> master_pb2.ClusterReport:
        return master_pb2.ClusterReport(chunkservers=[master_pb2.ServerReport(address="cs:1")])


class FakeChannels:
    def __init__(self, server: FakeChunkserver) -> None:
        self.server = server

    def master(self, address: str) -> FakeMaster:
        return FakeMaster()

    def chunkserver(self, address: str) -> FakeChunkserver:
        return self.server

    def close(self) -> None:
        pass


def test_every_replica_now_and_then_a_handshake_in_between(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "m.db")
    state = store.load()
    mutation = namespace.create(state, "/f", now=0.0)
    store.commit(mutation)
    state.apply(mutation)
    mutation = namespace.add_chunks(state, "/f", 1, now=0.0)
    store.commit(mutation)
    handles = sorted(c.chunk.handle for c in mutation.changes if hasattr(c, "chunk"))
    server = FakeChunkserver(handles)
    now = [0.0]
    config = MasterConfig(data_dir=tmp_path, dead_after=3.0)
    svc = ShadowService(config, store, "master:1", lambda: now[0], FakeChannels(server))  # type: ignore[arg-type]
    located = lambda: [svc.metadata.servers.locations.get(h) for h in handles]  # noqa: E731

    monkeypatch.setattr(shadow, "POLL_SHARE", 10**9)  # a listing costs "forever" after
    svc.poll_chunkservers()
    assert server.asked == [True] and located() == [("cs:1",), ("cs:1",)]
    now[0] = 2.0
    svc.poll_chunkservers()
    assert server.asked == [True, False], "a handshake, not the list"
    now[0] = 4.5  # past dead_after since the list, not since the handshake
    assert located() == [("cs:1",), ("cs:1",)]
    assert svc.metadata.servers.replicas(handles[0], now[0]) == ["cs:1"], "kept alive"

    server.down = True
    now[0] = 10.0  # silent past dead_after: the shadow's timer counts it dead
    svc.tick()
    assert svc.metadata.servers.replicas(handles[0], now[0]) == []
    server.down = False
    monkeypatch.setattr(shadow, "POLL_SHARE", 0)  # listing is free from now on: every round
    svc.poll_chunkservers()
    assert server.asked == [True, False, False, True], "back: a handshake is not enough"
    assert svc.metadata.servers.replicas(handles[0], now[0]) == ["cs:1"]

    svc.poll_chunkservers()
    svc.poll_chunkservers()
    assert server.asked[-2:] == [True, True]
    svc.close()
