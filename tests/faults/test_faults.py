"""The fault-injection suite: every scenario of tests/faults/scenarios/ on local processes
and on the compose cluster. Each run prints its seed; `GFS_FAULT_SEED=N pytest tests/faults
-k NAME` replays it. The history of a failed run is kept in pytest's tmp dir and named in the
failure."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.faults.checkers import check_all
from tests.faults.cluster import FaultCluster
from tests.faults.conftest import unavailable
from tests.faults.history import History, load
from tests.faults.host import Unsupported
from tests.faults.scenarios import SCENARIOS, Ctx, Scenario
from tests.faults.workloads import WORKLOADS

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]


def run(cluster: FaultCluster, scenario: Scenario, seed: int, path: Path) -> list[str]:
    history = History(path, seed)
    workload = WORKLOADS[scenario.moment](cluster, history, seed)
    try:
        with cluster.client() as client:
            workload.watch(client)
            workload.setup(client)
            workload.start()
            workload.wait_progress()
            ctx = Ctx(cluster, client, history, random.Random(seed), workload)
            history.note("fault", scenario=scenario.name)
            try:
                scenario.fault(ctx)
            finally:
                cluster.heal()
                history.note("healed")
            workload.wait_progress(2)  # healed means working again
    finally:
        workload.finish()
        history.close()
    return check_all(cluster, load(history.path))


def _params() -> list[object]:
    """Each scenario on each kind of cluster that can inject it, those of a shape (kind,
    master replicas) together: one cluster serves them in turn. Local clusters take the
    scenario's shape; the compose cluster has three master replicas, and a scenario of a
    master and its shadow strikes the active one and a standby there."""
    params = []
    for kind, masters in (("local", 1), ("local", 3), ("docker", 3)):
        for s in SCENARIOS:
            marks = [pytest.mark.xfail(reason=f"known bug: {s.known_bug}", strict=False)]
            if kind in s.kinds and (s.masters == masters or kind == "docker"):
                params.append(
                    pytest.param(
                        (kind, masters),
                        s,
                        id=f"{kind}-{s.name}",
                        marks=marks if s.known_bug else [],
                    )
                )
    return params


@pytest.mark.parametrize(("fault_cluster", "scenario"), _params(), indirect=["fault_cluster"])
def test_scenario(fault_cluster: FaultCluster, scenario: Scenario, tmp_path: Path) -> None:
    seed = int(os.environ.get("GFS_FAULT_SEED") or random.randrange(1 << 32))
    print(f"{fault_cluster.kind} {scenario.name}: seed {seed}")
    history = tmp_path / "history.jsonl"
    try:
        problems = run(fault_cluster, scenario, seed, history)
    except Unsupported as err:
        unavailable(f"{fault_cluster.kind} cannot inject this fault here: {err}")
    assert not problems, (
        f"{fault_cluster.kind} {scenario.name} (seed {seed}, history {history}, cluster "
        f"{fault_cluster.workdir}, which served {fault_cluster.served[:-1] or 'no test'} "
        f"before):\n" + "\n".join(problems[:20])
    )
