"""Fixtures of the fault suite: a fresh cluster per scenario, local or docker, and the image."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.faults.cluster import ROOT, FaultCluster
from tests.faults.docker import DockerFaults, docker_available
from tests.faults.local import LocalFaults

IMAGE = "pygfs:faults"


def build_image() -> None:
    """The image of this checkout (deploy/build.sh), and no leftovers of an earlier run."""
    DockerFaults.remove_leftovers()
    env = {**os.environ, "GFS_IMAGE": IMAGE}
    build = subprocess.run(
        ["bash", str(ROOT / "deploy" / "build.sh")], env=env, capture_output=True, text=True
    )
    assert build.returncode == 0, f"deploy/build.sh failed: {build.stderr[-3000:]}"


@pytest.fixture(scope="session")
def docker_image() -> str:
    """The image of this checkout, built once per session."""
    reason = docker_available()
    if reason:
        unavailable(reason)
    build_image()
    return IMAGE


@pytest.fixture
def fault_cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FaultCluster]:
    """A cluster of the kind the test names (indirect parametrization: "local" or "docker",
    or (kind, master replicas))."""
    kind, masters = (request.param, 1) if isinstance(request.param, str) else request.param
    cluster: FaultCluster
    if kind == "docker":
        image = request.getfixturevalue("docker_image")
        cluster = DockerFaults(tmp_path / "nodes", image, masters=masters)
    else:
        cluster = LocalFaults(tmp_path / "nodes", masters=masters)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
