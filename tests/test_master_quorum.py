"""--master-replicas: the master answers a change only once a majority of its replicas (itself
and its shadows) hold the log entry durably; without a majority the caller is told the change
is not acknowledged, and the master's state still matches its store."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from common import errors
from master.config import MasterConfig
from master.quorum import Quorum
from master.server import MasterServer
from tests.conftest import wait_until


def test_a_majority_counts_distinct_shadows_beside_the_master() -> None:
    quorum = Quorum(replicas=5)  # the master and two of four shadows
    quorum.wait(0, timeout=0)  # nothing logged: nothing to wait for
    quorum.held("s1", 10)
    quorum.held("s1", 12)
    quorum.held("s1", 3)  # a position never moves back
    assert quorum.holding(12) == 2
    with pytest.raises(errors.Unavailable, match="entry 12 is on 2 of 5 master replicas"):
        quorum.wait(12, timeout=0.05)
    later = threading.Timer(0.05, quorum.held, ("s2", 20))
    later.start()
    quorum.wait(12, timeout=10)  # s2 arrives
    assert quorum.holding(12) == 3 and quorum.holding(13) == 2
    Quorum(replicas=1).wait(99, timeout=0)  # alone: never waits
    with pytest.raises(ValueError):
        Quorum(replicas=0)


def test_a_follower_is_spare_while_enough_others_hold_more_of_the_log() -> None:
    quorum = Quorum(replicas=3)  # the master and one of two standbys
    assert not quorum.spare("a"), "nobody heard of: it may be the one a majority needs"
    quorum.held("a", 5)
    quorum.held("b", 5)
    assert not quorum.spare("a") and not quorum.spare("b"), "level: either may be needed"
    quorum.held("a", 9)
    assert quorum.spare("b") and not quorum.spare("a")
    quorum.held("b", 12)  # a stalled, b passed it: b is needed now
    assert quorum.spare("a") and not quorum.spare("b")
    five = Quorum(replicas=5)  # two of four standbys needed
    for name, seq in (("a", 9), ("b", 8), ("c", 7)):
        five.held(name, seq)
    assert five.spare("c") and not five.spare("b") and not five.spare("a")
    lone = Quorum(replicas=1)
    lone.held("shadow", 1)
    lone.held("other", 2)
    assert not lone.spare("shadow"), "a lone master's shadows are never paced"


def test_reached_says_whether_a_majority_came_in_time_and_never_raises() -> None:
    quorum = Quorum(replicas=3)
    assert not quorum.reached(5, timeout=0.01)
    quorum.held("a", 5)
    assert quorum.reached(5, timeout=0)
    quorum.depose("term over")
    assert not quorum.reached(5, timeout=10), "a deposed master waits for nothing"


def config(data: Path, replicas: int = 1) -> MasterConfig:
    return MasterConfig(
        data_dir=data,
        listen="127.0.0.1:0",
        master_replicas=replicas,
        rpc_timeout=1.0,
        heartbeat_interval=0.2,
    )


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[MasterServer]]:
    started: list[MasterServer] = []
    try:
        yield started
    finally:
        for server in reversed(started):
            server.stop(grace=0)


def start(
    servers: list[MasterServer], cfg: MasterConfig, shadow_of: str | None = None
) -> MasterServer:
    server = MasterServer(cfg, shadow_of=shadow_of)
    server.start()
    servers.append(server)
    return server


def test_a_change_is_answered_once_a_majority_of_replicas_hold_it(
    tmp_path: Path, servers: list[MasterServer]
) -> None:
    master = start(servers, config(tmp_path / "m", replicas=3))
    shadows = [
        start(servers, config(tmp_path / f"s{i}"), shadow_of=master.address) for i in range(2)
    ]
    service = master.service
    for i in range(20):
        service.mkdir(f"/d{i}", parents=False)
        logged = master.store.last_seq
        assert max(s.store.last_seq for s in shadows) >= logged, "answered before a shadow held it"

    # One shadow down: the master and the other are a majority.
    shadows[0].stop(grace=0)
    servers.remove(shadows[0])
    service.mkdir("/one-down", parents=False)
    assert shadows[1].store.last_seq >= master.store.last_seq

    # Both down: not acknowledged, but the master's memory still matches its store.
    shadows[1].stop(grace=0)
    servers.remove(shadows[1])
    with pytest.raises(errors.Unavailable, match="not acknowledged"):
        service.mkdir("/no-majority", parents=False)
    assert "/no-majority" in service.state.nodes
    assert "/no-majority" in master.store.load().nodes

    # A shadow back (its own store, from where it was): it catches up, and changes are
    # acknowledged again.
    back = start(servers, config(tmp_path / "s1"), shadow_of=master.address)
    service.mkdir("/again", parents=False)
    assert back.store.last_seq >= master.store.last_seq
    wait_until(lambda: "/no-majority" in back.service.metadata.state.nodes, 5, "the shadow has it")


def test_a_lone_master_and_its_shadows_ask_for_nothing(
    tmp_path: Path, servers: list[MasterServer]
) -> None:
    master = start(servers, config(tmp_path / "m"))  # --master-replicas 1, today's default
    service = master.service
    service.mkdir("/d", parents=False)  # no shadow at all: answered at once
    shadow = start(servers, config(tmp_path / "s"), shadow_of=master.address)
    wait_until(lambda: master.service.metadata.quorum.holding(1) == 2, 5, "the shadow says")
    assert shadow.shadow is not None and shadow.shadow.name == shadow.address
