"""What a scenario is: a fault, the moment it strikes (the workload running meanwhile), and what it
needs of the cluster. Each fault function injects, holds, and heals what it can; the runner
heals everything again in a `finally` and then runs every checker (tests/faults/checkers.py).
Targets are drawn from the scenario's seeded random generator, so a seed replays a run."""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from client.client import Client
from tests.faults.cluster import CHUNKSERVERS, TIMING, FaultCluster
from tests.faults.history import History
from tests.faults.workloads import Workload

DEAD_AFTER = float(TIMING["dead-after"])
LEASE = float(TIMING["lease-seconds"])
LOCAL = ("local",)  # needs a shadow, which the compose cluster has not


@dataclass
class Ctx:
    cluster: FaultCluster
    client: Client
    history: History
    rng: random.Random
    workload: Workload

    @functools.cached_property
    def master(self) -> str:
        """The node the master runs on: "master", or of three replicas, the one active when
        the scenario first asks (a scenario that kills it restarts that one)."""
        return self.cluster.active() if self.cluster.replicated else "master"

    def note(self, what: str, **fields: object) -> None:
        self.history.note(what, **fields)

    def hold(self, seconds: float) -> None:
        """Lets the fault last while the workload runs on."""
        time.sleep(seconds)

    def any_chunkserver(self) -> str:
        return self.rng.choice(CHUNKSERVERS)

    def roles(self) -> tuple[str, list[str]]:
        """(primary, secondaries) of the last chunk of the file the workload is mutating,
        waiting until it has a primary."""
        found: list[tuple[str, list[str]]] = []

        def leased() -> bool:
            chunks = self.client.stat(self.workload.hot_path).chunks
            if not chunks or chunks[-1].primary is None:
                return False
            chunk = chunks[-1]
            primary = self.cluster.node_of(chunk.primary)
            secondaries = [self.cluster.node_of(a) for a in chunk.replicas if a != chunk.primary]
            found.append((primary, secondaries))
            return True

        self.cluster.wait_until(leased, 30, f"{self.workload.hot_path} has a primary")
        return found[-1]

    def replica_holders(self, path: str) -> tuple[int, list[str]]:
        """(handle, nodes) of the first chunk of `path`."""
        chunk = self.client.stat(path).chunks[0]
        return chunk.handle, [self.cluster.node_of(a) for a in chunk.replicas]

    def crash(self, node: str) -> None:
        """SIGKILL `node` and wait until the master calls it dead."""
        self.cluster.kill(node)
        self.wait_dead(node)

    def wait_dead(self, node: str) -> None:
        timeout = 5 * DEAD_AFTER + 10
        self.cluster.wait_until(
            lambda: node not in self.cluster.alive(), timeout, f"{node} is declared dead"
        )


@dataclass(frozen=True)
class Scenario:
    name: str
    moment: str
    fault: Callable[[Ctx], None]
    needs: tuple[str, ...] = ()  # "partition", "shaping", "small-disk" (root powers)
    # A violation this scenario has found and that is not fixed yet: it runs, and its failure
    # is reported as XFAIL with this text (its pass as XPASS) until the bug is fixed.
    known_bug: str = ""
    # The clusters that can inject it.
    kinds: tuple[str, ...] = ("local", "docker")
    masters: int = 1  # the cluster's shape: a master and a shadow, or 3 master replicas


SCENARIOS: list[Scenario] = []


def scenario(
    moment: str,
    *needs: str,
    known_bug: str = "",
    kinds: tuple[str, ...] = ("local", "docker"),
    masters: int = 1,
) -> Callable[[Callable[[Ctx], None]], Callable[[Ctx], None]]:
    def register(fault: Callable[[Ctx], None]) -> Callable[[Ctx], None]:
        name = fault.__name__.replace("_", "-")
        SCENARIOS.append(Scenario(name, moment, fault, needs, known_bug, kinds, masters))
        return fault

    return register
