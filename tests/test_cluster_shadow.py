"""The shadow master: follows the log with a bounded lag, serves reads while the master is down,
and its data directory becomes a master by starting `gfs master` on it."""

from __future__ import annotations

import io
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.client import Client
from client.localcluster import LocalCluster
from common import errors
from tests.conftest import FAST_TIMING, SMALL_CHUNK, run_gfs, wait_until

pytestmark = pytest.mark.cluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    c = LocalCluster(
        tmp_path / "c",
        chunkservers=3,
        master_args=[f"--chunk-size={SMALL_CHUNK}", *FAST_TIMING],
        with_shadow=True,
    )
    try:
        c.start()
        yield c
    finally:
        c.stop()


def log_seq(address: str) -> int:
    return int(json.loads(run_gfs(address, "report", "--json").stdout)["log_seq"])


def caught_up(cluster: LocalCluster) -> bool:
    assert cluster.shadow is not None
    return log_seq(cluster.shadow.address) == log_seq(cluster.master_address)


def test_the_shadow_follows_with_a_bounded_reported_lag(cluster: LocalCluster) -> None:
    assert cluster.shadow is not None
    shadow = cluster.shadow.address
    with Client(cluster.master_address) as gfs:
        for i in range(20):
            gfs.mkdir(f"/d{i}/e", parents=True)
        gfs.put(io.BytesIO(os.urandom(SMALL_CHUNK + 1)), "/d0/f")
        gfs.mv("/d1", "/moved")
        gfs.rm("/d2", recursive=True)
        expected = sorted(e.path for e in gfs.ls("/"))
    started = time.monotonic()
    wait_until(lambda: caught_up(cluster), 5, "the shadow holds every entry")
    assert time.monotonic() - started < 5
    with Client(shadow) as read_only:
        assert sorted(e.path for e in read_only.ls("/")) == expected
        assert read_only.stat("/d0/f").size == SMALL_CHUNK + 1
        with pytest.raises(errors.FailedPrecondition, match="read-only shadow"):
            read_only.mkdir("/not-here")
        r = read_only.report()
        assert r.role == "shadow" and r.lag_seconds < 3.0

    # A restarted shadow goes on from where it was (its own copy), not from the start.
    cluster.restart(cluster.shadow)
    with Client(cluster.master_address) as gfs:
        gfs.mkdir("/after-restart")
    wait_until(lambda: caught_up(cluster), 5, "the restarted shadow catches up")
    with Client(shadow) as read_only:
        assert "/after-restart" in [e.path for e in read_only.ls("/")]

    # With the master gone, the lag it reports grows.
    assert cluster.master is not None
    cluster.kill(cluster.master)
    with Client(shadow) as read_only:
        wait_until(lambda: read_only.report().lag_seconds > 2.0, 10, "the lag shows")


def test_reads_go_through_the_shadow_while_the_master_is_down(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    assert cluster.shadow is not None and cluster.master is not None
    data = os.urandom(3 * SMALL_CHUNK + 7)
    (tmp_path / "in").write_bytes(data)
    m, s = cluster.master_address, cluster.shadow.address
    assert run_gfs(m, "put", str(tmp_path / "in"), "/f").returncode == 0
    wait_until(lambda: caught_up(cluster), 5, "the shadow catches up")
    with Client(s) as read_only:  # and has polled the chunkservers for the replicas
        wait_until(
            lambda: all(len(c.replicas) == 3 for c in read_only.stat("/f").chunks), 10, "locations"
        )
    cluster.kill(cluster.master)

    got = run_gfs(m, "--shadow", s, "get", "/f", str(tmp_path / "out"))
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "out").read_bytes() == data
    listing = run_gfs(m, "--shadow", s, "ls", "/")
    assert listing.stdout.split() == [b"/f"]
    refused = run_gfs(m, "--shadow", s, "put", str(tmp_path / "in"), "/g")
    assert refused.returncode != 0 and b"cannot reach master" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_a_shadow_is_promoted_by_starting_a_master_on_its_data_dir(cluster: LocalCluster) -> None:
    assert cluster.shadow is not None and cluster.master is not None
    data = os.urandom(2 * SMALL_CHUNK)
    with Client(cluster.master_address) as gfs:
        gfs.mkdir("/keep", parents=True)
        gfs.put(io.BytesIO(data), "/keep/f")
    wait_until(lambda: caught_up(cluster), 5, "the shadow catches up")
    cluster.kill(cluster.master)
    cluster.stop_one(cluster.shadow)

    # The documented promotion: the same command as a master, on the shadow's data directory,
    # on the old master's address so the chunkservers find it without being told.
    master = cluster.master
    master.args[master.args.index("--data-dir") + 1] = str(cluster.data_dir / "shadow")
    cluster.restart(master)
    cluster.wait_for_chunkservers(3)
    with Client(cluster.master_address, timeout=30) as gfs:
        out = io.BytesIO()
        gfs.get("/keep/f", out)
        assert out.getvalue() == data
        gfs.write("/keep/f", 10, b"written after the promotion")  # leases, versions carry over
        gfs.put(io.BytesIO(b"new"), "/keep/new")
        assert gfs.read("/keep/f", 10, 27) == b"written after the promotion"
        assert gfs.report().role == "master"


def test_a_new_shadow_on_a_compacted_log_starts_from_a_checkpoint(tmp_path: Path) -> None:
    cluster = LocalCluster(
        tmp_path / "c",
        chunkservers=3,
        master_args=[f"--chunk-size={SMALL_CHUNK}", *FAST_TIMING, "--oplog-retain=5"],
    )
    try:
        cluster.start()
        m = cluster.master_address
        with Client(m) as gfs:
            for i in range(30):
                gfs.mkdir(f"/early{i}")
            gfs.put(io.BytesIO(os.urandom(SMALL_CHUNK + 3)), "/early0/f")

            def compacted() -> bool:
                try:
                    list(gfs.oplog(0, 1))
                    return False
                except errors.FailedPrecondition:  # entry 1 is gone
                    return True

            wait_until(compacted, 10, "the master compacts its log")
        shadow = cluster.start_shadow()
        with Client(m) as gfs:
            gfs.mkdir("/late")
        with Client(shadow.address) as read_only:
            wait_until(
                lambda: {"/early29", "/late"} <= {e.path for e in read_only.ls("/")},
                10,
                "the new shadow holds the old and the new",
            )
            assert read_only.stat("/early0/f").size == SMALL_CHUNK + 3
    finally:
        cluster.stop()


def test_with_a_majority_of_two_no_acknowledged_change_dies_with_the_master(
    tmp_path: Path,
) -> None:
    """--master-replicas 2: the master answers only what the shadow holds too. Four clients
    make directories until the master is killed (-9); the shadow, promoted, has every one
    they were answered for."""
    cluster = LocalCluster(
        tmp_path / "c",
        chunkservers=1,
        master_args=[f"--chunk-size={SMALL_CHUNK}", *FAST_TIMING, "--master-replicas=2"],
        with_shadow=True,
    )
    acknowledged: list[str] = []
    try:
        cluster.start()
        assert cluster.master is not None and cluster.shadow is not None

        def storm(worker: int) -> None:
            with Client(cluster.master_address, timeout=5) as gfs:
                for i in range(100_000):
                    try:
                        gfs.mkdir(f"/w{worker}-{i}")
                    except errors.GfsError:
                        return
                    acknowledged.append(f"/w{worker}-{i}")

        threads = [threading.Thread(target=storm, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        wait_until(lambda: len(acknowledged) >= 200, 30, "the storm is under way")
        cluster.kill(cluster.master)
        for thread in threads:
            thread.join()
        cluster.stop_one(cluster.shadow)
        master = cluster.master
        master.args[master.args.index("--data-dir") + 1] = str(cluster.data_dir / "shadow")
        master.args.remove("--master-replicas=2")  # promoted alone
        cluster.restart(master)
        with Client(cluster.master_address, timeout=30) as gfs:
            present = {e.path for e in gfs.ls("/")}
        lost = [p for p in acknowledged if p not in present]
        assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged mkdirs lost: {lost[:5]}"
    finally:
        cluster.stop()
