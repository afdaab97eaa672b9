"""A live cluster whose chunkservers each have two data directories: one disk gone, the server
goes on from the other and the master copies what was lost; the second gone too, more than
tolerated, the server stops with one line and the cluster copies its replicas elsewhere."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.client import Client
from client.localcluster import LocalCluster
from tests.conftest import FAST_TIMING, SMALL_CHUNK, wait_until

pytestmark = pytest.mark.cluster

DATA = os.urandom(12 * SMALL_CHUNK + 99)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    local = LocalCluster(
        tmp_path_factory.mktemp("data-dirs"),
        chunkservers=4,
        data_dirs=2,
        master_args=[f"--chunk-size={SMALL_CHUNK}", "--replication=3", *FAST_TIMING],
        chunkserver_args=["--failed-dirs-tolerated=1", "--dir-check-interval=0.5"],
    )
    try:
        local.start()
        yield local
    finally:
        local.stop()


def remove(directory: Path) -> None:
    """Gone at once (renamed away, then removed: a removal alone races the server's probe)."""
    gone = directory.with_name(directory.name + ".removed")
    os.rename(directory, gone)
    shutil.rmtree(gone, ignore_errors=True)


def whole(gfs: Client) -> bool:
    """Every chunk of /big has its three replicas and fsck finds nothing wrong."""
    counts = gfs.fsck("/")
    chunks = gfs.stat("/big").chunks
    return counts["healthy"] == counts["chunks"] and all(len(c.replicas) == 3 for c in chunks)


def test_a_failed_disk_is_taken_out_and_then_a_second_stops_the_server(
    cluster: LocalCluster,
) -> None:
    with Client(cluster.master_address, timeout=10) as gfs:
        gfs.put(io.BytesIO(DATA), "/big")
        first, second = cluster.chunkserver_dirs(0)
        address = cluster.servers[0].address
        on_second = {int(p.stem) for p in (second / "chunks").glob("*.meta")}
        assert on_second, "new replicas spread over both directories"

        remove(second / "chunks")  # the disk is gone

        def reported() -> bool:
            state = next(s for s in gfs.report().chunkservers if s.address == address)
            return bool(state.failed_dirs) and state.state == "alive"

        wait_until(reported, 60, "the server reports its failed data directory")
        state = next(s for s in gfs.report().chunkservers if s.address == address)
        assert state.failed_dirs == (
            f"{second / 'chunks'}: the directory is gone (unmounted or removed)",
        )

        def settled() -> bool:
            """Whole again, and the server listed only for what its working directory holds
            (it may have been given some of the lost replicas back, there)."""
            held = {c.handle for c in gfs.stat("/big").chunks if address in c.replicas}
            return whole(gfs) and held <= {int(p.stem) for p in (first / "chunks").glob("*.meta")}

        wait_until(settled, 60, "the replicas on the failed disk are copied again")
        assert gfs.read("/big", 0, len(DATA)) == DATA
        held = {c.handle for c in gfs.stat("/big").chunks if address in c.replicas}
        assert held, "the server keeps serving from its other directory"

        remove(first / "chunks")  # one more than tolerated
        proc = cluster.servers[0]
        assert proc.popen is not None
        assert proc.popen.wait(timeout=30) == 1, "it stops, and says it failed"
        log = proc.log_path.read_text()
        assert "gfs: chunkserver" in log and "2 of 2 data directories failed (1 tolerated)" in log
        assert "Traceback" not in log
        wait_until(
            lambda: address not in cluster.alive_chunkservers(), 60, "the master sees it gone"
        )
        wait_until(lambda: whole(gfs), 60, "its replicas are copied to the other servers")
        assert gfs.read("/big", 0, len(DATA)) == DATA


def test_the_spools_directory_failing_stops_the_server(cluster: LocalCluster) -> None:
    """Every push lands in the spool (in the first data directory) first: with it gone, the
    server could take no write while it still looked alive, so it stops, saying why."""
    proc = cluster.servers[1]
    assert proc.popen is not None and proc.running
    remove(cluster.chunkserver_dirs(1)[0] / "spool")
    assert proc.popen.wait(timeout=30) == 1, "it stops, and says it failed"
    log = proc.log_path.read_text()
    assert "the push spool's directory failed (the directory is gone" in log
    assert "Traceback" not in log
