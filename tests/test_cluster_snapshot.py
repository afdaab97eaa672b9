"""Copy-on-write snapshots (GFS section 3.4) on real processes."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from client.client import Client
from tests.conftest import SMALL_CHUNK, run_gfs, start_cluster

pytestmark = pytest.mark.cluster


def read(gfs: Client, path: str) -> bytes:
    out = io.BytesIO()
    gfs.get(path, out)
    return out.getvalue()


def test_a_snapshot_copies_nothing_then_each_side_sees_only_its_own_writes(tmp_path: Path) -> None:
    cluster = start_cluster(tmp_path / "c")
    try:
        data = os.urandom(3 * SMALL_CHUNK)
        with Client(cluster.master_address) as gfs:
            gfs.put(io.BytesIO(data), "/a")
            gfs.write("/a", 5, b"under a live lease")  # the primary holds a lease now
            data = data[:5] + b"under a live lease" + data[23:]
            before = gfs.stat("/a").chunks
            files_before = sorted(p.name for p in cluster.data_dir.glob("cs*/chunks/*.chunk"))

            gfs.snapshot("/a", "/snap")
            snap = gfs.stat("/snap").chunks
            assert [c.handle for c in snap] == [c.handle for c in before], "chunks are shared"
            files_after = sorted(p.name for p in cluster.data_dir.glob("cs*/chunks/*.chunk"))
            assert files_after == files_before, "taking the snapshot copied no data"

            gfs.write("/a", SMALL_CHUNK + 10, b"original changes")
            gfs.write("/snap", 2 * SMALL_CHUNK + 20, b"snapshot changes")
            original = data[: SMALL_CHUNK + 10] + b"original changes" + data[SMALL_CHUNK + 26 :]
            snapshot = (
                data[: 2 * SMALL_CHUNK + 20] + b"snapshot changes" + data[2 * SMALL_CHUNK + 36 :]
            )
            assert read(gfs, "/a") == original
            assert read(gfs, "/snap") == snapshot

            after_a, after_snap = gfs.stat("/a").chunks, gfs.stat("/snap").chunks
            assert after_a[0].handle == after_snap[0].handle == before[0].handle, (
                "untouched: shared"
            )
            assert after_a[1].handle != before[1].handle, "the written chunk got its own copy"
            assert set(after_a[1].replicas) == set(before[1].replicas), "copied where it was"
            assert after_snap[2].handle != before[2].handle
        chunkserver_logs = "".join(
            p.read_text() for p in (cluster.data_dir / "logs").glob("cs*.log")
        )
        assert chunkserver_logs.count(f"copied chunk {before[1].handle} locally") == 3
        master_log = (cluster.data_dir / "logs" / "master.log").read_text()
        assert (
            f"lease on chunk {before[0].handle} revoked" in master_log
            and "snapshot of /a" in master_log
        )
        assert "re-replicated" not in master_log, "nothing went over the network"
    finally:
        cluster.stop()


def test_a_directory_snapshot_outlives_the_deleted_original(tmp_path: Path) -> None:
    cluster = start_cluster(tmp_path / "c")
    try:
        m = cluster.master_address
        files = {f"/d/e/f{i}": os.urandom(SMALL_CHUNK // 2 + i) for i in range(3)}
        with Client(m) as gfs:
            gfs.mkdir("/d/e", parents=True)
            for path, data in files.items():
                gfs.put(io.BytesIO(data), path)
        assert run_gfs(m, "snapshot", "/d", "/backup").returncode == 0
        assert run_gfs(m, "rm", "-r", "/d").returncode == 0
        with Client(m) as gfs:
            for path, data in files.items():
                assert read(gfs, "/backup" + path[2:]) == data
        result = run_gfs(m, "snapshot", "/backup", "/backup/inside")
        assert result.returncode != 0 and b"inside itself" in result.stderr
    finally:
        cluster.stop()
