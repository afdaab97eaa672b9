"""A chunkserver whose disk is slow says so in its heartbeats: the master shows it in its
report and lists its replicas as slow in every lookup, so that readers take them last."""

from __future__ import annotations

from pathlib import Path

from master.chunkservers import Heartbeat, Report
from master.service import MasterService
from master.store import Store
from tests.master_fakes import FakeCluster, config

SERVERS = ("a:1", "b:1", "c:1")
SLOW = ("/disk1/chunks: a probe took 900 ms",)


def test_a_server_with_a_slow_disk_is_reported_and_its_replicas_read_last(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.db")
    fake = FakeCluster(store)
    service = MasterService(config(tmp_path), store, clock=lambda: 1000.0, channels=fake)  # type: ignore[arg-type]
    for address in SERVERS:
        service.heartbeat(Heartbeat(address, "r", 0, 10**12))
    service.create("/f")
    service.get_chunk("/f", 0, for_write=True)

    def beat(address: str, slow_dirs: tuple[str, ...]) -> None:
        reports = [Report(h, v, 0) for h, v in fake.held.get(address, {}).items()]
        service.heartbeat(Heartbeat(address, "r", 0, 10**12, reports, slow_dirs=slow_dirs))

    beat("b:1", SLOW)
    view = service.get_chunk("/f", 0, for_write=False)
    assert sorted(view.replicas) == list(SERVERS) and view.slow == ["b:1"]
    report = {s.address: s.slow_dirs for s in service.metadata.report()}
    assert report == {"a:1": (), "b:1": SLOW, "c:1": ()}
    beat("b:1", ())
    assert service.get_chunk("/f", 0, for_write=False).slow == [], "its disk is fast again"
