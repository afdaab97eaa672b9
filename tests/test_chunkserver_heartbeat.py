"""The chunkserver's heartbeats against a fake master: a full report first, then only what
changed; nothing lost when a beat fails; a full report at once when the master asks."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from chunkserver.config import ChunkserverConfig
from chunkserver.heartbeat import Heartbeater
from chunkserver.removals import Removals
from chunkserver.storage import ChunkStore
from common import errors
from common.term import Term
from protos import master_pb2

CHUNK = 1024 * 1024


class FakeMaster:
    """Takes heartbeats; answers each with the next of `replies` (default: an empty one), or
    refuses while `down`."""

    def __init__(self) -> None:
        self.taken: list[master_pb2.HeartbeatRequest] = []
        self.replies: list[master_pb2.HeartbeatResponse] = []
        self.down = False

    def Heartbeat(self, request: Any, timeout: float) -> master_pb2.HeartbeatResponse:
        if self.down:
            raise errors.Unavailable("the master is down")
        self.taken.append(request)
        return self.replies.pop(0) if self.replies else master_pb2.HeartbeatResponse()


class FakeChannels:
    def __init__(self, master: FakeMaster) -> None:
        self._master = master

    def master(self, address: str) -> FakeMaster:
        return self._master


class NoLeases:
    def extension_requests(self) -> list[tuple[int, int]]:
        return []

    def extended(self, *args: object) -> None:
        raise AssertionError("no lease was asked for")


def listed(request: master_pb2.HeartbeatRequest) -> tuple[bool, list[int], list[int]]:
    """(incremental, handles listed, handles gone)."""
    return request.incremental, [r.handle for r in request.replicas], list(request.gone)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Heartbeater, ChunkStore, FakeMaster]:
    store = ChunkStore(tmp_path / "data", CHUNK)
    for handle in (1, 2, 3):
        store.set_version(handle, 1, create=True)
    master = FakeMaster()
    config = ChunkserverConfig(data_dir=tmp_path, full_report_interval=3600.0)
    beater = Heartbeater(
        config,
        "cs:1",
        store,
        NoLeases(),  # type: ignore[arg-type]
        FakeChannels(master),  # type: ignore[arg-type]
        Removals(store, 1.0),
        Term(tmp_path / "master-epoch"),
    )
    return beater, store, master


def test_a_full_report_first_then_only_what_changed(setup) -> None:  # type: ignore[no-untyped-def]
    beater, store, master = setup
    beater.beat()
    assert listed(master.taken[-1]) == (False, [1, 2, 3], [])
    assert master.taken[-1].replica_count == 3
    beater.beat()
    assert listed(master.taken[-1]) == (True, [], []), "nothing changed: nothing listed"
    store.write(2, 1, 0, b"data")
    store.delete(3, max_version=1)
    beater.beat()
    assert listed(master.taken[-1]) == (True, [2], [3])
    assert master.taken[-1].replicas[0].length == 4 and master.taken[-1].replica_count == 2


def test_what_a_failed_beat_carried_is_listed_by_the_next(setup) -> None:  # type: ignore[no-untyped-def]
    beater, store, master = setup
    beater.beat()
    store.write(1, 1, 0, b"x")
    master.down = True
    with pytest.raises(errors.Unavailable):
        beater.beat()
    master.down = False
    beater.beat()
    assert listed(master.taken[-1]) == (True, [1], [])


def test_a_full_report_the_moment_the_master_asks_and_what_it_asks_again(setup) -> None:  # type: ignore[no-untyped-def]
    """A master that restarted takes nothing from an incremental report: the full one goes in
    the same round, not a heartbeat later (or an hour later)."""
    beater, _, master = setup
    beater.beat()
    master.replies = [master_pb2.HeartbeatResponse(full_report=True)]
    beater.beat()
    assert [listed(r) for r in master.taken[-2:]] == [(True, [], []), (False, [1, 2, 3], [])]
    master.replies = [master_pb2.HeartbeatResponse(recheck=[2, 7])]
    beater.beat()
    beater.beat()
    assert listed(master.taken[-1]) == (True, [2], [7]), "asked again: listed, changed or not"


def test_a_full_report_too_large_for_a_beat_goes_in_parts(setup) -> None:  # type: ignore[no-untyped-def]
    """Each part is an incremental report too (the changes since the last beat); a part the
    master did not take is sent again; asked for a full report, the parts start over."""
    beater, store, master = setup
    beater.config = dataclasses.replace(beater.config, full_report_part=2)
    for handle in (4, 5):
        store.set_version(handle, 1, create=True)
    store.changes.take()  # all five were made before the first report, which lists them all

    def part(request: master_pb2.HeartbeatRequest) -> tuple[int, int]:
        return request.report_part, request.report_parts

    beater.beat()
    assert listed(master.taken[-1]) == (True, [1, 2], []) and part(master.taken[-1]) == (1, 3)
    store.write(5, 1, 0, b"x")  # changed: listed with the next part, before its own
    master.down = True
    with pytest.raises(errors.Unavailable):
        beater.beat()
    master.down = False
    beater.beat()
    assert listed(master.taken[-1]) == (True, [3, 4, 5], []) and part(master.taken[-1]) == (2, 3)
    master.replies = [master_pb2.HeartbeatResponse(full_report=True)]  # it restarted
    beater.beat()
    assert [part(r) for r in master.taken[-2:]] == [(3, 3), (1, 3)], "over again, at once"
    beater.beat()
    beater.beat()
    assert [part(r) for r in master.taken[-2:]] == [(2, 3), (3, 3)]
    assert listed(master.taken[-1]) == (True, [5], [])
    beater.beat()
    assert listed(master.taken[-1]) == (True, [], []) and part(master.taken[-1]) == (0, 0)


def test_a_deposed_masters_reply_is_not_acted_on(setup) -> None:  # type: ignore[no-untyped-def]
    """Once a reply of term 2 was heard, one of term 1 (a deposed active that still runs) is
    refused: its deletions are not taken, and the next beat goes to the next replica."""
    beater, _, master = setup
    master.replies.append(master_pb2.HeartbeatResponse(epoch=2))
    beater.beat()
    removal = master_pb2.Removal(handle=1, max_version=5)
    master.replies.append(master_pb2.HeartbeatResponse(epoch=1, delete=[removal]))
    with pytest.raises(errors.FailedPrecondition, match="from a master of term 1, and term 2"):
        beater.beat()
    assert beater.removals.queued() == []
    assert Term(beater.term.path).promised == 2  # kept across a restart
    master.replies.append(master_pb2.HeartbeatResponse(epoch=2, delete=[removal]))
    beater.beat()
    assert beater.removals.queued() == [(1, 5)]
