"""Garbage removal never costs a chunkserver its life: the replicas of a deleted tree are removed
on a thread of their own, so a slow disk removing them (each I/O 100 ms here) does not hold up
the heartbeats that keep the server alive in the master's eyes; and they are all removed."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from client.client import Client
from tests.conftest import SMALL_CHUNK, start_cluster, unavailable, wait_until
from tests.faults.host import Unsupported
from tests.faults.sickdisk import SickDisks

pytestmark = pytest.mark.cluster

FILES = 40  # one chunk each, a replica on every server: 40 removals per server


def test_removals_on_a_slow_disk_leave_heartbeats_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disks = SickDisks(tmp_path / "faults")
    try:
        for key, value in disks.environment("node").items():  # every process reads one file
            monkeypatch.setenv(key, value)
    except Unsupported as err:
        unavailable(str(err))
    cluster = start_cluster(tmp_path / "cluster")  # dead after 2 s without a heartbeat
    try:
        with Client(cluster.master_address, timeout=60) as gfs:
            gfs.mkdir("/garbage")
            for i in range(FILES):
                gfs.put(io.BytesIO(bytes([i]) * SMALL_CHUNK), f"/garbage/f{i}")
            held = {s.address: s.chunks for s in gfs.report().chunkservers}
            assert all(n >= FILES for n in held.values()), held
            servers = [cluster.data_dir / f"cs{i}" for i in range(len(cluster.servers))]
            for directory in servers:
                disks.strike("node", directory, "slow 100")
            time.sleep(0.2)  # the library reads its faults again every 20 ms
            gfs.rm("/garbage", recursive=True, skip_trash=True)
            # One at a time on the heartbeat loop, a removal (open and sync of the directory)
            # took 200 ms: 40 of them, 8 s without a heartbeat, four times the dead-after.
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline:
                states = {s.address: s.state for s in gfs.report().chunkservers}
                assert set(states.values()) == {"alive"}, states
                time.sleep(0.2)
            for directory in servers:
                disks.mend("node", directory)
            wait_until(
                lambda: all(s.chunks == 0 for s in gfs.report().chunkservers),
                60,
                "every replica of the deleted tree is removed",
            )
    finally:
        cluster.stop()
