"""Fixtures of the fault suite: a fresh cluster per scenario, local or docker, and the image."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

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


FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Marks a test that failed (or failed as expected) in any phase, for the pool."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed or hasattr(report, "wasxfail"):
        item.stash[FAILED] = True


class Pool:
    """One fault cluster at a time, kept from one test to the next that wants the same shape
    (kind, master replicas): a compose cluster takes ~11 s to start and ~4 s to stop, which
    was most of the docker half's time. A test that passed leaves it healed and emptied
    (`FaultCluster.reset`); one that failed takes it down, so the next starts afresh and a
    failure's logs are its own."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self.factory = factory
        self.cluster: FaultCluster | None = None
        self.shape: tuple[str, int] = ("", 0)

    def get(self, kind: str, masters: int, request: pytest.FixtureRequest) -> FaultCluster:
        if self.cluster is not None and self.shape != (kind, masters):
            self.close()
        if self.cluster is None:
            workdir = self.factory.mktemp(f"{kind}-{masters}-cluster") / "nodes"
            cluster: FaultCluster
            if kind == "docker":
                image = request.getfixturevalue("docker_image")
                cluster = DockerFaults(workdir, image, masters=masters)
            else:
                cluster = LocalFaults(workdir, masters=masters)
            cluster.start()
            self.cluster, self.shape = cluster, (kind, masters)
        return self.cluster

    def release(self, failed: bool) -> None:
        """After a test: the cluster emptied for the next, or (the test failed) gone. One
        that cannot be emptied is gone too, and the test errs: its files were not reclaimed.
        A test that passed healed it already (the runner and the soak heal in a `finally`)."""
        if self.cluster is None:
            return
        if failed:
            self.close()
            return
        try:
            self.cluster.reset()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.cluster is not None:
            cluster, self.cluster = self.cluster, None
            cluster.stop()


@pytest.fixture(scope="session")
def fault_clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pool]:
    pool = Pool(tmp_path_factory)
    yield pool
    pool.close()


@pytest.fixture
def fault_cluster(request: pytest.FixtureRequest, fault_clusters: Pool) -> Iterator[FaultCluster]:
    """A cluster of the kind the test names (indirect parametrization: "local" or "docker",
    or (kind, master replicas)), healthy and empty; maybe the one the previous test used."""
    kind, masters = (request.param, 1) if isinstance(request.param, str) else request.param
    cluster = fault_clusters.get(kind, masters, request)
    cluster.served.append(request.node.name)
    yield cluster
    fault_clusters.release(request.node.stash.get(FAILED, False))
