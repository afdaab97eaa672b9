"""Per-file replication on a real cluster: `put --replication`, `setrep -w` up and down on a
file and a whole directory; the master copies and trims each chunk to its file's level, fsck
judges each file by its own level, and a restarted master keeps the levels."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from client.client import Client
from tests.conftest import SMALL_CHUNK, run_gfs, start_cluster, wait_until

pytestmark = pytest.mark.cluster


def replicas(gfs: Client, path: str) -> list[int]:
    return [len(c.replicas) for c in gfs.stat(path).chunks]


def test_setrep_up_and_down_and_put_replication(tmp_path: Path) -> None:
    cluster = start_cluster(tmp_path / "c", chunkservers=4, extra=["--lease-seconds=5"])
    m = cluster.master_address
    try:
        data = os.urandom(2 * SMALL_CHUNK + 1)
        put = run_gfs(m, "put", "--replication", "1", "-", "/one", stdin=data)
        assert put.returncode == 0, put.stderr
        with Client(m) as gfs:
            assert replicas(gfs, "/one") == [1, 1, 1]
            assert json.loads(run_gfs(m, "stat", "--json", "/one").stdout)["replication"] == 1
            assert run_gfs(m, "ls", "-l", "/one").stdout.split()[1] == b"1"
            assert run_gfs(m, "fsck").returncode == 0, "one replica is this file's whole level"

            up = run_gfs(m, "setrep", "-w", "4", "/one")
            assert up.returncode == 0 and b"(1 file(s))" in up.stdout, up.stderr
            assert replicas(gfs, "/one") == [4, 4, 4]
            down = run_gfs(m, "setrep", "-w", "2", "/one")
            assert down.returncode == 0, down.stderr
            assert replicas(gfs, "/one") == [2, 2, 2]
            assert gfs.summary("/one")["consumed"] == 2 * len(data), "du counts its own level"

            gfs.mkdir("/dir/sub", parents=True)
            for name in ("/dir/a", "/dir/sub/b"):
                assert run_gfs(m, "put", "-", name, stdin=data[:1000]).returncode == 0
            assert replicas(gfs, "/dir/a") == [3]
            tree = run_gfs(m, "setrep", "-w", "1", "/dir")
            assert tree.returncode == 0 and b"(2 file(s))" in tree.stdout, tree.stderr
            assert replicas(gfs, "/dir/a") == replicas(gfs, "/dir/sub/b") == [1]
            assert run_gfs(m, "fsck").returncode == 0
            bad = run_gfs(m, "setrep", "0", "/one")
            assert bad.returncode != 0 and bad.stderr.count(b"\n") == 1
        cluster.restart(cluster.master)
        with Client(m) as gfs:
            wait_until(lambda: len(gfs.report().chunkservers) == 4, 30, "servers report again")
            assert gfs.stat("/one").replication == 2 and gfs.stat("/dir/a").replication == 1
            wait_until(lambda: run_gfs(m, "fsck").returncode == 0, 30, "healthy at its levels")
            assert replicas(gfs, "/one") == [2, 2, 2]
            out = run_gfs(m, "get", "/one", "-")
            assert out.stdout == data
    finally:
        cluster.stop()
