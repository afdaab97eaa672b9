"""Terms (epochs) of the master replicas, without a coordinator: what a replica promises, how
a deposed active is fenced, how a replica whose log took a different turn starts again, and
which log a newly elected active takes (common/term.py, master/takeover.py)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from common import errors, transport
from master.config import MasterConfig
from master.server import MasterServer
from master.takeover import take_over
from protos import master_pb2
from tests.conftest import wait_until
from tests.test_master_quorum import config
from tests.test_master_store import HeldCommit, on_a_thread


@pytest.fixture
def servers() -> Iterator[list[MasterServer]]:
    started: list[MasterServer] = []
    try:
        yield started
    finally:
        for server in reversed(started):
            server.stop(grace=0)


def halt(servers: list[MasterServer], server: MasterServer) -> None:
    servers.remove(server)
    server.stop(grace=0)


def start(
    servers: list[MasterServer],
    cfg: MasterConfig,
    shadow_of: str | None = None,
    epoch: int = 0,
) -> MasterServer:
    server = MasterServer(cfg, shadow_of=shadow_of, epoch=epoch)
    server.start()
    servers.append(server)
    return server


def paths(server: MasterServer) -> set[str]:
    return set(server.service.metadata.state.nodes) - {"/"}


def test_a_deposed_active_gets_nothing_acknowledged_once_a_majority_promised_a_newer_term(
    tmp_path: Path, servers: list[MasterServer]
) -> None:
    active = start(servers, config(tmp_path / "a", replicas=3), epoch=1)
    standbys = [
        start(servers, config(tmp_path / f"s{i}"), shadow_of=active.address) for i in range(2)
    ]
    active.service.mkdir("/before", parents=False)
    wait_until(
        lambda: all("/before" in paths(s) for s in standbys), 10, "both standbys hold /before"
    )

    # A candidate of term 2 (elsewhere) has both standbys' promises.
    for s in standbys:
        assert s.shadow is not None
        s.shadow.promise(2, "127.0.0.1:1")
    with pytest.raises(errors.Unavailable, match="not acknowledged"):
        active.service.mkdir("/after", parents=False)
    # Sent back to the old active, a standby takes nothing from its older term.
    standbys[0].shadow.master_address = active.address  # type: ignore[union-attr]
    time.sleep(1.0)  # five rounds of its follow loop (heartbeat 0.2 s)
    assert all("/after" not in paths(s) for s in standbys)
    assert all(s.store.last_seq < active.store.last_seq for s in standbys)

    # The active hears of term 2 (a Promise, as a candidate would ask): deposed, it refuses
    # at once rather than after a timeout.
    reply = transport.call(
        active.service.channels.master(active.address).Promise,
        master_pb2.PromiseRequest(epoch=2, candidate="127.0.0.1:1"),
        target="the active",
        timeout=5,
    )
    assert reply.last_seq == active.store.last_seq and reply.last_epoch == 1
    with pytest.raises(errors.Deposed, match="term 1 ended"):
        active.service.mkdir("/later", parents=False)
    # An older term's promise is refused by a replica that promised a newer one.
    with pytest.raises(errors.FailedPrecondition, match="older than term 2"):
        standbys[1].shadow.promise(1, "127.0.0.1:2")  # type: ignore[union-attr]


def replicated(
    tmp_path: Path, servers: list[MasterServer]
) -> tuple[MasterServer, list[MasterServer]]:
    """An active of term 1 among three replicas, and two standbys that hold its first change."""
    active = start(servers, config(tmp_path / "a", replicas=3), epoch=1)
    standbys = [
        start(servers, config(tmp_path / f"s{i}"), shadow_of=active.address) for i in range(2)
    ]
    active.service.mkdir("/before", parents=False)
    wait_until(lambda: all("/before" in paths(s) for s in standbys), 10, "both standbys follow")
    return active, standbys


def test_the_standbys_take_a_change_while_the_active_still_makes_it_durable(
    tmp_path: Path, servers: list[MasterServer]
) -> None:
    """The two syncs a change waits for, the active's and a standby's, run at once."""
    active, standbys = replicated(tmp_path, servers)
    held = HeldCommit.install(active.store)
    change, outcome = on_a_thread(lambda: active.service.mkdir("/during", parents=False))
    assert held.reached.wait(10)
    wait_until(lambda: all("/during" in paths(s) for s in standbys), 10, "standbys hold it already")
    assert "/during" not in paths(active) and change.is_alive(), "the active's sync goes on"
    held.go.set()
    change.join(10)
    assert outcome == [None], "answered once its sync ended"
    assert "/during" in paths(active) and "/during" in active.store.load().nodes


def test_an_active_that_cannot_make_durable_what_it_sent_ends_its_term(
    tmp_path: Path, servers: list[MasterServer]
) -> None:
    """Its standbys hold an entry its own store lost: it acknowledges nothing more and logs
    nothing more, so no later entry of its takes the lost one's number."""
    active, standbys = replicated(tmp_path, servers)
    held = HeldCommit.install(active.store, sqlite3.OperationalError("disk I/O error"))
    thread, outcome = on_a_thread(lambda: active.service.mkdir("/lost", parents=False))
    wait_until(lambda: all("/lost" in paths(s) for s in standbys), 10, "the standbys have it")
    held.go.set()  # and the active's sync fails
    thread.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], errors.Unavailable)
    assert "not acknowledged (it may still take effect: another replica holds it)" in str(
        outcome[0]
    )
    assert active.service.deposed.is_set(), "its server steps down to a standby"
    assert "/lost" not in active.store.load().nodes

    active.store.db.conn = held.conn  # type: ignore[assignment]  # the disk is well again
    with pytest.raises(errors.Unavailable, match="logs nothing more"):
        active.service.mkdir("/later", parents=False)
    lost = max(s.store.last_seq for s in standbys)
    time.sleep(0.6)  # three rounds of the standbys' follow loop (heartbeat 0.2 s)
    assert all(s.store.last_seq == lost for s in standbys) and active.store.last_seq < lost


@pytest.mark.parametrize("ghosts, reals", [(1, 2), (2, 1)])
def test_a_replica_whose_log_took_another_turn_starts_again_from_the_checkpoint(
    tmp_path: Path, servers: list[MasterServer], ghosts: int, reals: int
) -> None:
    """A deposed active's store holds entries no majority held; back as a follower, its log
    differs from the active's at its newest entry (or reaches past it): it takes the active's
    checkpoint instead of building on them."""
    active = start(servers, config(tmp_path / "a"))
    replica = start(servers, config(tmp_path / "r"), shadow_of=active.address)
    active.service.mkdir("/shared", parents=False)
    wait_until(lambda: "/shared" in paths(replica), 10, "the replica follows")
    halt(servers, replica)

    alone = start(servers, config(tmp_path / "r"))  # as an active that no one followed
    for i in range(ghosts):
        alone.service.mkdir(f"/ghost{i}", parents=False)
    halt(servers, alone)
    for i in range(reals):
        active.service.mkdir(f"/real{i}", parents=False)

    back = start(servers, config(tmp_path / "r"), shadow_of=active.address)
    wait_until(lambda: back.store.last_seq == active.store.last_seq, 10, "the replica caught up")
    wait_until(lambda: paths(back) == paths(active), 10, "the same namespace")
    assert not any(p.startswith("/ghost") for p in paths(back))
    last = active.store.last_seq
    assert back.store.digest(last) == active.store.digest(last)
    active.service.mkdir("/next", parents=False)  # and it follows on from there
    wait_until(lambda: "/next" in paths(back), 10, "it follows on")


def test_a_new_active_takes_the_log_of_the_newest_term_before_the_longest(
    tmp_path: Path, servers: list[MasterServer]
) -> None:
    """R1 went on in term 1 (three entries past the common ones), R2 in term 2 (two): an
    entry of term 2 was written after any of term 1 could have been acknowledged, so the
    candidate of term 3 takes R2's log, though R1's is longer."""
    base = start(servers, config(tmp_path / "base"))
    followers = {
        name: start(servers, config(tmp_path / name), shadow_of=base.address)
        for name in ("r1", "r2", "c")
    }
    base.service.mkdir("/common", parents=False)
    wait_until(lambda: all("/common" in paths(f) for f in followers.values()), 10, "all follow")
    for f in followers.values():
        halt(servers, f)
    halt(servers, base)
    for name, epoch, dirs in (("r1", 1, ["/r1a", "/r1b"]), ("r2", 2, ["/r2"])):
        alone = start(servers, config(tmp_path / name), epoch=epoch)
        for d in dirs:
            alone.service.mkdir(d, parents=False)
        halt(servers, alone)

    r1, r2, candidate = (
        start(servers, config(tmp_path / name), shadow_of="") for name in ("r1", "r2", "c")
    )
    assert r1.store.last_seq > r2.store.last_seq and r2.store.log_epoch == 2
    assert candidate.shadow is not None
    take_over(candidate.shadow, 3, [r1.address, r2.address], replicas=3, timeout=5)
    assert paths(candidate) == {"/common", "/r2"}
    assert candidate.store.last_seq == r2.store.last_seq
    assert candidate.store.log_epoch == 2 and candidate.shadow.term.promised == 3
    assert r1.shadow is not None and r1.shadow.term.promised == 3

    # Without a majority's promise there is no takeover.
    halt(servers, r1)
    halt(servers, r2)
    with pytest.raises(errors.Unavailable, match="only 1 of 3 master replicas promised term 4"):
        take_over(candidate.shadow, 4, [r1.address, r2.address], replicas=3, timeout=1)
