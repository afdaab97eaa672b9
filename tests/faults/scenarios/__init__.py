"""The scenarios: a fault, the moment it strikes (the workload running meanwhile), and what it
needs of the cluster (base.py), grouped by kind of fault, one module each. Importing the
package registers them all in SCENARIOS."""

from __future__ import annotations

from tests.faults.scenarios import (  # noqa: F401 - each registers its own
    clocks,
    crashes,
    directories,
    disks,
    network,
    pauses,
    recovery,
    replicas,
)
from tests.faults.scenarios.base import SCENARIOS, Ctx, Scenario

__all__ = ["SCENARIOS", "Ctx", "Scenario"]
