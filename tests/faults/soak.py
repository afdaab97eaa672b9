"""A soak: mixed workloads for N minutes while random faults from every scenario strike one
after another, all drawn from one seed, then the checkers judge the whole history.

    python -m tests.faults.soak --minutes 30 --seed 7 [--kind local|docker] [--json FILE]

Puts, overwrites, appends and reads run all the time (each its own files and threads, as in
tests/faults/workloads.py). Meanwhile a fault is drawn from the scenarios of
tests/faults/scenarios/ (any moment: a fault meant for a write strikes the write workload),
injected, held and healed, then the workloads must make progress again before the next one.
A fault this host cannot inject is drawn again. At the end every checker runs over the whole
history, as after one scenario. Prints the operations by outcome, the faults injected and the
anomalies found; exits 1 on any anomaly. The same seed replays the same schedule of faults and
targets (the timing of a loaded machine does not replay).
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.faults.checkers import check_all
from tests.faults.cluster import DISK_BYTES, FaultCluster
from tests.faults.history import History, load
from tests.faults.host import Unsupported
from tests.faults.scenarios import SCENARIOS, Ctx, Scenario
from tests.faults.workloads import WORKLOADS, Workload

# What runs all the time; a scenario meant for another moment strikes the nearest of these.
RUNNING = ("put", "write", "append", "read", "idle")
NEAREST = {"append-no-ids": "append"}
SETTLE_OPS = 3  # operations each workload must complete after a fault heals


@dataclass
class SoakResult:
    seed: int
    minutes: float
    kind: str
    operations: dict[str, int] = field(default_factory=dict)  # outcome -> count
    faults: dict[str, int] = field(default_factory=dict)  # scenario -> times injected
    unsupported: list[str] = field(default_factory=list)
    not_injected: list[str] = field(default_factory=list)  # the host's tools refused, once
    anomalies: list[str] = field(default_factory=list)
    history: str = ""

    def as_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def soak(
    cluster: FaultCluster, minutes: float, seed: int, history_path: Path, only: str = ""
) -> SoakResult:
    """Runs the soak on a started cluster; the result says what happened. `only`: draw from
    the scenarios whose names contain one of these comma-separated words (all if empty)."""
    result = SoakResult(seed, minutes, cluster.kind, history=str(history_path))
    rng = random.Random(seed)
    history = History(history_path, seed)
    deadline = time.monotonic() + minutes * 60
    workloads: dict[str, Workload] = {}
    for moment in RUNNING:
        workload = WORKLOADS[moment](cluster, history, rng.randrange(1 << 32))
        workload.max_seconds = minutes * 60 + 120
        workload.max_ops = 10**9
        workloads[moment] = workload
    words = [w for w in only.split(",") if w]
    candidates = [
        s
        for s in SCENARIOS
        if cluster.kind in s.kinds
        and (cluster.replicated or s.masters == 1)  # replicas: a "master" is the active one
        and (not words or any(w in s.name for w in words))
    ]
    if not candidates:
        raise ValueError(f"no {cluster.kind} scenario matches {only!r}")
    faults: collections.Counter[str] = collections.Counter()
    try:
        with cluster.client() as client:
            for workload in workloads.values():
                workload.watch(client)
                workload.setup(client)
            for workload in workloads.values():
                workload.start()
            while time.monotonic() < deadline:
                scenario = rng.choice(candidates)
                if scenario.name in result.unsupported:
                    continue
                workload = workloads[NEAREST.get(scenario.moment, scenario.moment)]
                problem = _strike(cluster, client, history, rng, workload, scenario, workloads)
                if problem == "unsupported":
                    result.unsupported.append(scenario.name)
                    continue
                if problem == "not injected":
                    result.not_injected.append(scenario.name)
                    continue
                faults[scenario.name] += 1
                if problem:
                    result.anomalies.append(f"after {scenario.name}: {problem}")
    finally:
        for workload in workloads.values():
            workload.finish()
        history.close()
    events = load(history_path)
    result.faults = dict(faults)
    result.operations = dict(
        collections.Counter(e["outcome"] for e in events if "outcome" in e and "op" in e)
    )
    result.anomalies += check_all(cluster, events)
    return result


def _strike(
    cluster: FaultCluster,
    client: Any,
    history: History,
    rng: random.Random,
    workload: Workload,
    scenario: Scenario,
    workloads: dict[str, Workload],
) -> str:
    """Injects, holds and heals one fault; then every running workload must make progress.
    Returns "" when all went as it should, "unsupported" when this host cannot inject it,
    else what went wrong (a fault that did not recover is an anomaly)."""
    ctx = Ctx(cluster, client, history, random.Random(rng.randrange(1 << 32)), workload)
    history.note("fault", scenario=scenario.name)
    try:
        try:
            scenario.fault(ctx)
        finally:
            cluster.heal()
            history.note("healed")
        for running in workloads.values():
            if running.threads:
                running.wait_progress(SETTLE_OPS)
    except Unsupported:
        return "unsupported"
    except AssertionError as err:
        return str(err)
    except RuntimeError as err:  # the host's tools (mount, iptables, tc) refused: not the system's
        history.note("not_injected", scenario=scenario.name, error=str(err))
        return "not injected"
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--kind", choices=["local", "docker"], default="local")
    parser.add_argument("--json", type=Path, default=None, help="Write the result here too.")
    parser.add_argument(
        "--disk-mb",
        type=int,
        default=DISK_BYTES >> 20,
        help="Each data directory's size (a tmpfs): a long soak writes more than the default.",
    )
    parser.add_argument(
        "--only", default="", help="Comma-separated words: draw only scenarios named with one."
    )
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    print(f"soak: {args.minutes:g} minutes, {args.kind}, seed {seed}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="pygfs-soak-"))
    cluster = make_cluster(args.kind, workdir / "nodes", args.disk_mb << 20)
    cluster.start()
    try:
        result = soak(cluster, args.minutes, seed, workdir / "history.jsonl", args.only)
    finally:
        cluster.stop()
    report(result)
    if args.json is not None:
        args.json.write_text(json.dumps(result.as_json(), indent=2) + "\n")
    sys.exit(1 if result.anomalies else 0)


def make_cluster(kind: str, workdir: Path, disk_bytes: int) -> FaultCluster:
    if kind == "local":
        from tests.faults.local import LocalFaults

        return LocalFaults(workdir, disk_bytes)
    from tests.faults.conftest import IMAGE, build_image
    from tests.faults.docker import DockerFaults

    build_image()
    return DockerFaults(workdir, IMAGE, disk_bytes=disk_bytes)


def report(result: SoakResult) -> None:
    ops = ", ".join(f"{n} {outcome}" for outcome, n in sorted(result.operations.items()))
    print(f"operations: {sum(result.operations.values())} ({ops})")
    faults = ", ".join(f"{name} x{n}" for name, n in sorted(result.faults.items()))
    print(f"faults injected: {sum(result.faults.values())} ({faults})")
    if result.unsupported:
        print(f"not injectable here: {', '.join(sorted(result.unsupported))}")
    if result.not_injected:
        print(f"refused by the host's tools once: {', '.join(sorted(result.not_injected))}")
    print(f"anomalies: {len(result.anomalies)}")
    for anomaly in result.anomalies[:20]:
        print(f"  {anomaly}")
    print(f"history: {result.history}")


if __name__ == "__main__":
    main()
