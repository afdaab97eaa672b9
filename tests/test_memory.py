"""A master gives back to the system what judging full replica reports freed."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from common import memory
from master import service as master_service
from master.chunkservers import Heartbeat, Report
from master.config import MasterConfig
from master.service import MasterService
from master.store import Store


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_freed_heap_memory_goes_back_to_the_system() -> None:
    burst = [bytearray(1000) for _ in range(200_000)]  # ~200 MB of malloc's heap
    pin = bytearray(1000)  # allocated after them: the heap's top cannot shrink under it
    before = rss_mib()
    del burst
    kept = rss_mib()
    assert kept > before - 50, "glibc keeps the freed burst in its heap"
    assert memory.give_back()
    assert rss_mib() < kept - 100
    del pin


def test_the_timer_gives_memory_back_after_large_full_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bool] = []
    monkeypatch.setattr(memory, "give_back", lambda: calls.append(True) or True)
    monkeypatch.setattr(master_service, "GIVE_BACK_AFTER", 5)
    svc = MasterService(MasterConfig(data_dir=tmp_path), Store(tmp_path / "m.db"))
    try:
        reports = [Report(h, 1, 0) for h in range(1, 4)]  # 3 replicas nobody has: garbage
        svc.heartbeat(Heartbeat("cs1", "r", 0, 10**12, reports))
        svc.heartbeat(Heartbeat("cs1", "r", 0, 10**12, [], incremental=True))
        svc.tick(balance=False)
        assert calls == [], "3 replicas in full reports: not yet"
        svc.heartbeat(Heartbeat("cs2", "r", 0, 10**12, reports))
        svc.tick(balance=False)
        assert calls == [True]
        svc.tick(balance=False)
        assert calls == [True], "once for those reports"
    finally:
        svc.close()
