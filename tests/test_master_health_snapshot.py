"""The status pages' and /metrics' replica health, taken a few thousand chunks per hold of the
core lock, counts what `gfs fsck /` counts (one pass under one hold), whatever the mix of
healthy, short, missing, surplus, corrupt and stale replicas."""

from __future__ import annotations

from pathlib import Path

import pytest

from master import healthsnapshot
from master.chunkservers import Heartbeat, Report
from master.healthsnapshot import HealthSnapshot
from master.service import MasterService
from master.store import Store
from tests.master_fakes import DEAD_AFTER, FakeCluster, config

SERVERS = ("a:1", "b:1", "c:1", "d:1")


def test_the_batched_pass_counts_what_fsck_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(healthsnapshot, "BATCH", 2)  # several holds of the lock, even here
    clock = [1000.0]
    store = Store(tmp_path / "m.db")
    fake = FakeCluster(store)
    service = MasterService(config(tmp_path), store, clock=lambda: clock[0], channels=fake)  # type: ignore[arg-type]
    for address in SERVERS:
        service.heartbeat(Heartbeat(address, "r", 0, 10**12))
    for i in range(7):
        service.create(f"/f{i}")
        service.get_chunk(f"/f{i}", 0, for_write=True)  # a chunk on three servers
    service.create("/empty")
    service.snapshot("/f0", "/copy")  # a chunk two files share
    held = {a: dict(fake.held.get(a, {})) for a in SERVERS}
    # Chunk 3: reported by every server (one too many); 4: one replica corrupt; 5: one replica
    # a version behind (stale); the rest as created.
    held_by = {h: [a for a in SERVERS if h in held[a]] for h in range(1, 8)}
    for a in SERVERS:
        held[a][3] = held[held_by[3][0]][3]
    stale_server = held_by[5][0]
    held[stale_server][5] -= 1
    for address in SERVERS:
        reports = [Report(h, v, 0) for h, v in held[address].items()]
        corrupt = [4] if address == held_by[4][0] else []
        service.heartbeat(Heartbeat(address, "r", 0, 10**12, reports, corrupt))

    fsck = service.metadata.fsck("/")
    assert compare(service) == fsck
    assert fsck["healthy"] and fsck["under_replicated"] and fsck["over_replicated"]
    assert fsck["corrupt"] == 1 and fsck["stale_replicas"] == 1
    assert (fsck["files"], fsck["chunks"]) == (9, 7)

    # Three servers fall silent: chunks down to one live replica, or none.
    clock[0] += DEAD_AFTER + 1
    service.heartbeat(
        Heartbeat("a:1", "r", 0, 10**12, [Report(h, v, 0) for h, v in held["a:1"].items()])
    )
    service.replicas.check_liveness()
    fsck = service.metadata.fsck("/")
    assert compare(service) == fsck
    assert fsck["missing"] and fsck["under_replicated"] and not fsck["healthy"]


def compare(service: MasterService) -> dict[str, int]:
    """The snapshot's counts, checked against its own short and reported figures."""
    snapshot = HealthSnapshot(service.metadata).latest()
    counts = snapshot.counts
    assert sum(snapshot.short.values()) == counts["under_replicated"] + counts["missing"]
    assert snapshot.short.get(0, 0) == counts["missing"]
    assert snapshot.reported == counts["chunks"] - counts["missing"]
    return counts
