"""Repair judges the chunks that may need something, not every chunk each round (with a fake
clock and fake chunkservers, tests/master_fakes.py)."""

from __future__ import annotations

import math
import time
from pathlib import Path

from prometheus_client import REGISTRY

from master.chunkservers import Heartbeat
from master.repair import SWEEP
from master.service import MasterService
from master.store import Store
from tests.master_fakes import DEAD_AFTER, FakeCluster, config

SERVERS = ("a:1", "b:1", "c:1", "d:1")


def judged() -> float:
    return REGISTRY.get_sample_value("gfs_master_repair_judged_chunks_total") or 0.0


def quiet_beats(service: MasterService, servers: tuple[str, ...]) -> None:
    """Heartbeats of servers whose replicas did not change: incremental, listing nothing."""
    for address in servers:
        service.heartbeat(Heartbeat(address, "r", 0, 10**12, incremental=True))


def test_repair_judges_what_changed_and_sweeps_everything_once_in_a_while(tmp_path: Path) -> None:
    clock = [1000.0]
    store = Store(tmp_path / "m.db")
    fake = FakeCluster(store)
    service = MasterService(config(tmp_path), store, clock=lambda: clock[0], channels=fake)  # type: ignore[arg-type]
    try:
        for address in SERVERS:
            service.heartbeat(Heartbeat(address, "r", 0, 10**12))
        for i in range(12):
            service.create(f"/f{i}")
            service.get_chunk(f"/f{i}", 0, for_write=True)
        service.repair()  # the first round judges every chunk

        before = judged()
        service.repair()
        quiet_beats(service, SERVERS)
        service.repair()
        assert judged() == before, "nothing changed: nothing judged"

        clock[0] += DEAD_AFTER + 1
        quiet_beats(service, SERVERS[1:])
        assert service.replicas.check_liveness() == ["a:1"]
        on_dead = set(fake.held["a:1"])
        assert 0 < len(on_dead) < 12
        service.repair()
        swept = math.ceil(service.state.next_handle * (DEAD_AFTER + 1) / SWEEP)
        assert 0 <= judged() - before - len(on_dead) <= swept, "the dead server's chunks"

        def settle() -> None:
            """Until the copies repair started are done (they run on its pool)."""
            deadline = time.monotonic() + 10
            while service.repairs.cloning and time.monotonic() < deadline:
                time.sleep(0.01)

        def whole() -> bool:
            settle()
            servers = service.metadata.servers
            return all(len(servers.replicas(h, clock[0])) == 3 for h in on_dead)

        for _ in range(20):  # copies are throttled per server: a few rounds
            if whole():
                break
            service.repair()
        assert whole()
        service.repair()  # the copied chunks, once more: whole now
        before = judged()
        service.repair()
        assert judged() == before, "settled: nothing judged"

        # The safety net: a replica lost without anything touching its chunk (which should
        # not happen) is found by the sweep, a slice a round, within SWEEP seconds.
        servers = service.metadata.servers
        handle = min(on_dead)
        servers.locations[handle] = servers.locations[handle][1:]
        for _ in range(11):
            clock[0] += SWEEP / 10
            quiet_beats(service, SERVERS[1:])
            service.repair()
            settle()
        assert len(servers.replicas(handle, clock[0])) == 3, "copied again"
        assert judged() - before < 12, "only the odd chunk judged, not every one"
    finally:
        service.close()
