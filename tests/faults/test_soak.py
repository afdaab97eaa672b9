"""A short soak (tests/faults/soak.py) on local processes: mixed workloads and random faults
for GFS_SOAK_MINUTES (3), judged by every checker. Its seed is printed; `python -m
tests.faults.soak --seed N` replays its schedule, longer runs are made the same way."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.faults.cluster import FaultCluster
from tests.faults.soak import report, soak

pytestmark = [pytest.mark.faults, pytest.mark.timeout(900)]


@pytest.mark.parametrize("fault_cluster", ["local"], indirect=True)
def test_a_short_soak_finds_no_anomaly(fault_cluster: FaultCluster, tmp_path: Path) -> None:
    seed = int(os.environ.get("GFS_SOAK_SEED") or random.randrange(1 << 32))
    minutes = float(os.environ.get("GFS_SOAK_MINUTES") or 3)
    print(f"soak: {minutes:g} minutes, seed {seed}")
    result = soak(fault_cluster, minutes, seed, tmp_path / "history.jsonl")
    report(result)
    assert sum(result.faults.values()) >= 3, f"too few faults struck: {result.faults}"
    assert result.operations.get("ok", 0) > 100, result.operations
    assert not result.anomalies, f"seed {seed}: " + "\n".join(result.anomalies[:20])
