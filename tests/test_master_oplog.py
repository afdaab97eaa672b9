"""Log compaction never takes what a follower still needs; a reader that missed compacted
entries is told so rather than handed a gap."""

from __future__ import annotations

from pathlib import Path

import pytest

from common import errors
from master.config import MasterConfig
from master.service import MasterService
from master.store import Store


def service(tmp_path: Path, ttl: float = 3600.0) -> MasterService:
    config = MasterConfig(data_dir=tmp_path, oplog_retain=5, follower_ttl=ttl)
    return MasterService(config, Store(tmp_path / "m.db"))


def read(svc: MasterService, since: int, limit: int, follower: str = "") -> list[int]:
    entries = svc.stream_log(
        since, follow=False, limit=limit, active=lambda: True, follower=follower
    )
    return [e.seq for e in entries if e is not None]


def test_compaction_keeps_what_a_follower_has_not_received(tmp_path: Path) -> None:
    svc = service(tmp_path)
    for i in range(30):
        svc.create(f"/f{i}")
    assert read(svc, 0, 3, follower="shadow-1") == [1, 2, 3]  # the follower stopped at 3
    svc.compact_log()
    assert svc.store.log_bounds() == (4, 30), "entries 4.. are still needed by shadow-1"
    assert read(svc, 3, 0, follower="shadow-1")[-1] == 30  # it catches up
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
