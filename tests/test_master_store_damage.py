"""The master's own disk and store: a truncated or inconsistent store is refused at start with
one line (never half loaded), a full disk refuses mutations with one line and applies nothing,
then works again once there is room, and `gfs restore-master` rebuilds a lost master's store
from a shadow's."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from client.client import Client
from client.localcluster import LocalCluster
from master import namespace
from master.state import MasterState
from master.store import Store
from master.storecheck import StoreDamaged
from tests.conftest import ROOT, SMALL_CHUNK, run_gfs, start_cluster, unavailable, wait_until
from tests.test_cluster_shadow import caught_up


def a_store(path: Path, files: int = 300) -> None:
    store, state = Store(path), MasterState()
    state.apply(mkdir := namespace.mkdir(state, "/d", parents=False, now=1.0))
    store.commit(mkdir)
    for i in range(files):
        mutation = namespace.create(state, f"/d/f{i:04d}", 1.0)
        store.commit(mutation)
        state.apply(mutation)
    store.commit(namespace.add_chunks(state, "/d/f0000", 0, 2.0))  # handle 1 issued
    store.close()


def start_master(data_dir: Path) -> subprocess.CompletedProcess[str]:
    """`gfs master` on a store it must refuse: it exits at once."""
    return subprocess.run(
        [sys.executable, "-m", "client.cli", "master", "--listen", "127.0.0.1:0",
         "--data-dir", str(data_dir)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip


def test_a_truncated_store_is_refused_at_start_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "m" / "master.db"
    a_store(path)
    os.truncate(path, path.stat().st_size // 2)
    with pytest.raises(StoreDamaged, match=r"is damaged .*restore-master"):
        Store(path).load()
    refused = start_master(path.parent)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"gfs: the master's store {path} is damaged")


def test_a_store_whose_rows_break_the_namespace_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m" / "master.db"
    a_store(path, files=3)
    with sqlite3.connect(path) as db:  # a bit flip in a row SQLite cannot see: /d lost
        db.execute("UPDATE nodes SET path = '/e' WHERE path = '/d'")
    with pytest.raises(StoreDamaged, match="/d/f0000 has no parent directory"):
        Store(path).load()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE nodes SET path = '/d' WHERE path = '/e'")
        db.execute("UPDATE nodes SET chunks = '[99]' WHERE path = '/d/f0001'")
    with pytest.raises(StoreDamaged, match="chunk 99, never issued"):
        Store(path).load()


@pytest.fixture
def tiny_master_disk(tmp_path: Path) -> Path:
    mount = tmp_path / "c" / "master"
    mount.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True
    )
    if mounted.returncode != 0:
        unavailable(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.cluster
def test_a_full_master_disk_refuses_mutations_then_recovers(
    tmp_path: Path, tiny_master_disk: Path
) -> None:
    cluster = start_cluster(tmp_path / "c")
    m = cluster.master_address
    try:
        assert run_gfs(m, "mkdir", "/before").returncode == 0
        filler = tiny_master_disk / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:  # every byte the master's disk has left
            while os.write(fd, bytes(4096)):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        refused = run_gfs(m, "mkdir", "/during")
        err = refused.stderr.decode().strip()
        assert refused.returncode == 1 and "\n" not in err, err
        assert err.startswith("gfs: the master's disk is full; nothing was changed"), err
        assert run_gfs(m, "ls", "/").stdout.split() == [b"/before/"], "nothing applied halfway"
        filler.unlink()
        assert run_gfs(m, "mkdir", "/after").returncode == 0
        cluster.restart(cluster.master)
        listing = run_gfs(m, "ls", "/").stdout.split()
        assert listing == [b"/after/", b"/before/"], listing
    finally:
        cluster.stop()


@pytest.mark.cluster
def test_a_lost_master_store_is_rebuilt_from_a_shadows(tmp_path: Path) -> None:
    cluster: LocalCluster = start_cluster(tmp_path / "c")
    m = cluster.master_address
    try:
        shadow = cluster.start_shadow()
        data = os.urandom(2 * SMALL_CHUNK + 3)
        with Client(m) as gfs:
            gfs.mkdir("/kept")
            gfs.put(io.BytesIO(data), "/kept/f")
        wait_until(lambda: caught_up(cluster), 30, "the shadow holds every entry")
        cluster.stop_one(cluster.master)
        master_dir = cluster.data_dir / "master"
        store = master_dir / "master.db"
        os.truncate(store, 1000)
        assert cluster.master is not None
        with pytest.raises(Exception, match="is damaged"):
            cluster.restart(cluster.master)
        healthy = run_gfs(m, "restore-master", str(cluster.data_dir / "shadow"), str(master_dir))
        assert healthy.returncode == 0, healthy.stderr
        assert b"the master's store is the shadow's as of log entry" in healthy.stdout
        kept = [p.name for p in master_dir.iterdir() if p.name.startswith("master.db.damaged-")]
        assert kept and (master_dir / kept[0]).stat().st_size == 1000, "the old one is kept"
        again = run_gfs(m, "restore-master", str(cluster.data_dir / "shadow"), str(master_dir))
        assert again.returncode == 1 and b"is a healthy store; -f replaces it" in again.stderr
        cluster.restart(cluster.master)
        with Client(m) as gfs:
            out = io.BytesIO()
            wait_until(lambda: len(gfs.report().chunkservers) == 3, 30, "servers report again")
            gfs.get("/kept/f", out)
            assert out.getvalue() == data
            gfs.put(io.BytesIO(b"new"), "/kept/g")
        assert shadow.running
    finally:
        cluster.stop()
