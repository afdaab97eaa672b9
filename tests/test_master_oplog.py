"""Log compaction never takes what a follower still needs; a reader that missed compacted
entries is told so rather than handed a gap. Streamed in batches or one entry a record, a
reader gets the same entries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from common import errors, transport
from master import messages, oplog
from master.config import MasterConfig
from master.oplog import OpLog
from master.quorum import Quorum
from master.rows import LogEntry
from master.server import MasterServer
from master.service import MasterService
from master.shadow import entries_of
from master.store import Store
from protos import master_pb2


def service(tmp_path: Path, ttl: float = 3600.0) -> MasterService:
    config = MasterConfig(data_dir=tmp_path, oplog_retain=5, follower_ttl=ttl)
    return MasterService(config, Store(tmp_path / "m.db"))


def read(svc: MasterService, since: int, limit: int, follower: str = "") -> list[int]:
    entries = svc.stream_log(
        since, follow=False, limit=limit, active=lambda: True, follower=follower
    )
    return [e.seq for page in entries for e in page]


def test_compaction_keeps_what_a_follower_has_not_received(tmp_path: Path) -> None:
    svc = service(tmp_path)
    for i in range(30):
        svc.create(f"/f{i}")
    assert read(svc, 0, 5, follower="shadow-1") == [1, 2, 3, 4, 5]  # the follower stopped at 5
    svc.compact_log()
    # Entry 5 too: a follower's newest entry is compared with the log's when it comes back.
    assert svc.store.log_bounds() == (5, 30), "entries 5.. are still needed by shadow-1"
    assert read(svc, 5, 0, follower="shadow-1")[-1] == 30  # it catches up
    svc.compact_log()
    assert svc.store.log_bounds() == (26, 30), "then only oplog_retain entries stay"
    with pytest.raises(errors.FailedPrecondition, match="compacted"):
        read(svc, 10, 0)
    assert len(svc.store.load().nodes) == 31, "the state is whole after compaction"


def test_a_follower_not_heard_from_within_the_ttl_no_longer_holds_the_log(tmp_path: Path) -> None:
    svc = service(tmp_path, ttl=0.0)
    for i in range(30):
        svc.create(f"/f{i}")
    read(svc, 0, 3, follower="gone")
    svc.compact_log()
    assert svc.store.log_bounds() == (26, 30)


def test_a_caught_up_follower_hears_at_once_before_any_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its first record (a keepalive, with a shadow's token keys) does not wait a keepalive's
    second for entries: a restarted shadow signs read tokens as soon as its stream begins."""
    svc = service(tmp_path)
    svc.create("/f")

    def waited(*args: object) -> bool:
        raise AssertionError("waited for entries before the first record")

    monkeypatch.setattr(svc.store, "wait_for_entries", waited)
    pages = svc.stream_log(1, follow=True, limit=0, active=lambda: True, follower="shadow-1")
    assert next(pages) == []
    with pytest.raises(AssertionError, match="waited"):
        next(pages)  # nothing new: now it waits


def test_a_caught_up_follower_no_majority_waits_for_gets_its_entries_paced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paced only once it has caught up (a full page: catching up goes at full speed), and
    only while enough others hold more than it does."""
    svc = service(tmp_path)
    for i in range(3):
        svc.create(f"/f{i}")
    quorum = Quorum(replicas=3)
    quorum.held("eager", 3)
    log = OpLog(svc.config, svc.store, quorum)
    paced: list[float] = []
    monkeypatch.setattr(oplog.time, "sleep", paced.append)
    monkeypatch.setattr(oplog, "PAGE", 2)
    monkeypatch.setattr(svc.store, "wait_for_entries", lambda *args: None)

    def stream(follower: str) -> Iterator[list[LogEntry]]:
        return log.stream(0, follow=True, limit=0, active=lambda: True, follower=follower)

    spare = stream("spare")
    assert [e.seq for e in next(spare)] == [1, 2]
    assert [e.seq for e in next(spare)] == [3] and paced == [], "a full page: not paced"
    assert next(spare) == [] and paced == [oplog.SPARE_PACE], "caught up: paced"
    paced.clear()
    needed = stream("eager")
    assert [[e.seq for e in next(needed)] for _ in range(3)] == [[1, 2], [3], []]
    assert paced == [], "the follower a majority waits for gets every entry at once"


def test_a_batched_stream_carries_the_same_entries_as_one_a_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = MasterServer(MasterConfig(data_dir=tmp_path, listen="127.0.0.1:0"))
    server.start()
    channels = transport.Channels()
    try:
        assert isinstance(server.service, MasterService)
        for i in range(7):
            server.service.create(f"/f{i}")
        stub = channels.master(server.address)

        def records(batch: int) -> list[master_pb2.LogRecord]:
            request = master_pb2.StreamLogRequest(since=1, batch=batch)
            return list(stub.StreamLog(request, timeout=10))

        singles, batched = records(0), records(3)
        assert [len(r.entries) for r in singles] == [0] * 6  # one entry each, in its fields
        assert [len(r.entries) for r in batched] == [3, 3]
        flat = [e for r in singles for e in entries_of(r)]
        assert [e for r in batched for e in entries_of(r)] == flat
        assert [e.seq for e in flat] == [2, 3, 4, 5, 6, 7]
        assert [e.args["path"] for e in flat] == [f"/f{i}" for i in range(1, 7)]
        assert entries_of(master_pb2.LogRecord(head_seq=7)) == [], "a keepalive carries none"
        monkeypatch.setattr(messages, "RECORD_BYTES", 10)  # smaller than any entry
        assert [len(r.entries) for r in records(3)] == [1] * 6, "a large entry travels alone"
    finally:
        server.stop()
        channels.close()
