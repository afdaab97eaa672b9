"""Fixtures that start real clusters of local processes on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from client.client import Client
from client.localcluster import LocalCluster
from common import errors

ROOT = Path(__file__).resolve().parent.parent
SMALL_CHUNK = 256 * 1024  # four 64 KiB checksum blocks: chunk boundaries are cheap to cross

# Deletion is immediate unless a test of the trash gives its own --trash-grace (the last wins).
FAST_TIMING = ["--heartbeat-interval=0.2", "--dead-after=2", "--trash-grace=0"]


def start_cluster(
    data_dir: Path,
    chunk_size: int = SMALL_CHUNK,
    chunkservers: int = 3,
    extra: list[str] | None = None,
    racks: list[str] | None = None,
) -> LocalCluster:
    cluster = LocalCluster(
        data_dir,
        chunkservers=chunkservers,
        master_args=[f"--chunk-size={chunk_size}", *FAST_TIMING, *(extra or [])],
        racks=racks or [],
    )
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster


@pytest.fixture(scope="session")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """Three chunkservers, 256 KiB chunks; tests on it must not kill or damage anything."""
    cluster = start_cluster(tmp_path_factory.mktemp("shared"))
    yield cluster
    cluster.stop()


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """A cluster for one test that breaks things."""
    cluster = start_cluster(tmp_path / "cluster")
    yield cluster
    cluster.stop()


@pytest.fixture
def replicas_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients in this test try equally near replicas (on loopback: all) in sorted order, not
    in the random order that spreads load, so that a test knows which one a read starts on."""
    monkeypatch.setattr("client.chunkio.random.sample", lambda seq, k: sorted(seq))


@pytest.fixture
def gfs(shared_cluster: LocalCluster) -> Iterator[Client]:
    with Client(shared_cluster.master_address, timeout=10) as client:
        yield client


def unavailable(reason: str) -> NoReturn:
    """A skip with the reason on a user's machine; a failure in CI, which has everything."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run this, but: {reason}")
    pytest.skip(reason)


def needs_zookeeper() -> None:
    """Skips (fails in CI) a test that runs master replicas where ZooKeeper cannot run."""
    from client import zookeeper

    reason = zookeeper.missing()
    if reason is not None:
        unavailable(f"ZooKeeper: {reason}")


def run_gfs(
    master: str,
    *args: str,
    stdin: bytes | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """The real `gfs` command, as a user runs it (not in-process), with `env` added to ours."""
    env = {**os.environ, "GFS_MASTER": master, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "client.cli", *args],
        input=stdin,
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
    )


def replica_path(cluster: LocalCluster, address: str, handle: int) -> Path:
    index = next(i for i, p in enumerate(cluster.servers) if p.address == address)
    return cluster.data_dir / f"cs{index}" / "chunks" / f"{handle}.chunk"


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Polls `predicate` until it holds; fails the test naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


def shadow_shows(gfs: Client, path: str) -> bool:
    """Whether a client of a secure shadow finds `path`: not while the shadow has no token keys
    from its master to sign the locations with (Unavailable, until its log stream begins)."""
    try:
        return gfs.exists(path)
    except errors.Unavailable:
        return False
