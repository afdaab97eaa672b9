"""du, df, count, ls -l, rm with patterns, fsck --files --chunks --locations and report's
totals through the real `gfs` command, in `hdfs dfs`'s shapes."""

from __future__ import annotations

import json
import re

import pytest

from client.client import Client
from client.localcluster import LocalCluster
from tests.conftest import run_gfs

pytestmark = pytest.mark.cluster


def out(master: str, *args: str) -> list[str]:
    result = run_gfs(master, *args)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode().splitlines()


@pytest.fixture(scope="module")
def tree(shared_cluster: LocalCluster) -> str:
    m = shared_cluster.master_address
    with Client(m) as gfs:
        gfs.mkdir("/space/sub", parents=True)
        with gfs.open("/space/a", "wb") as f:
            f.write(b"a" * 1000)
        with gfs.open("/space/sub/b", "wb") as f:
            f.write(b"b" * 2000)
    return m


def test_du_and_count(tree: str) -> None:
    assert [line.split() for line in out(tree, "du", "/space")] == [
        ["1000", "3000", "/space/a"],
        ["2000", "6000", "/space/sub"],
    ]
    assert out(tree, "du", "-s", "/space")[0].split() == ["3000", "9000", "/space"]
    assert out(tree, "du", "-s", "-h", "/space")[0].split() == ["2.9", "K", "8.8", "K", "/space"]
    assert out(tree, "count", "/space")[0].split() == ["2", "2", "3000", "/space"]
    assert [line.split()[-1] for line in out(tree, "count", "/space/*")] == [
        "/space/a",
        "/space/sub",
    ]


def test_df_and_report_totals(tree: str) -> None:
    header, line = out(tree, "df")
    assert header.split() == ["Filesystem", "Size", "Used", "Available", "Use%"]
    name, size, used, available, percent = line.split()
    assert name == f"gfs://{tree}" and int(size) == int(used) + int(available) > 0
    assert re.fullmatch(r"\d+%", percent)
    assert re.search(r" [KMGTP] ", out(tree, "df", "-h")[1])
    report = json.loads(run_gfs(tree, "report", "--json").stdout)
    assert report["totals"]["alive"] == 3 and report["totals"]["dead"] == 0
    totals = report["totals"]
    assert totals["capacity_bytes"] == totals["used_bytes"] + totals["free_bytes"] > 0
    assert out(tree, "report")[1].startswith("3 alive, 0 dead, 0 decommissioning; capacity ")


def test_ls_long_as_hdfs_and_patterns(tree: str) -> None:
    listing = out(tree, "ls", "-l", "/space")
    assert listing[0] == "Found 2 items"
    assert listing[1].startswith("-rw-r--r--   3 - supergroup ")
    assert listing[1].endswith(" /space/a")
    assert listing[2].startswith("drwxr-xr-x   - ") and listing[2].endswith(" /space/sub")
    assert out(tree, "ls", "-l", "-h", "/space/sub")[1].split()[4:6] == ["2", "K"]  # 1.95 K
    assert out(tree, "ls", "/space/*/b", "/space/a") == ["/space/sub/b", "/space/a"]


def test_rm_takes_patterns(tree: str) -> None:
    with Client(tree) as gfs:
        for name in ("x1", "x2", "y1"):
            gfs.create(f"/space/{name}")
    out(tree, "rm", "--skip-trash", "/space/x*")
    assert out(tree, "ls", "/space") == ["/space/a", "/space/sub/", "/space/y1"]
    out(tree, "rm", "--skip-trash", "/space/y?")


def test_fsck_lists_files_chunks_and_locations(tree: str, shared_cluster: LocalCluster) -> None:
    lines = out(tree, "fsck", "--files", "--chunks", "--locations", "/space")
    assert lines[0] == "/space/a 1000 bytes, replication 3, 1 chunk(s): OK"
    chunk = re.fullmatch(r"  0\. chunk \d+ v\d+ len=1000 live=3 \[(.*)\]", lines[1])
    assert chunk is not None, lines
    assert sorted(chunk.group(1).split(", ")) == sorted(p.address for p in shared_cluster.servers)
    assert lines[2] == "/space/sub/b 2000 bytes, replication 3, 1 chunk(s): OK"
    assert lines[-1].startswith("files: 2, chunks: 2, healthy: 2")
