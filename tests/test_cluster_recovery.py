"""Crash recovery and the stale-replica rules (GFS sections 4.5 and 5.1), on real processes."""

from __future__ import annotations

import io
import json
import os
import random
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from chunkserver import metafile
from client.client import Client
from client.localcluster import LocalCluster
from common import errors
from master import namespace
from master.store import Store
from tests.conftest import SMALL_CHUNK, replica_path, run_gfs, start_cluster, wait_until

pytestmark = pytest.mark.cluster


def server(cluster: LocalCluster, address: str):  # type: ignore[no-untyped-def]
    return next(p for p in cluster.servers if p.address == address)


def test_a_replica_down_during_a_write_comes_back_stale_is_never_served_and_is_removed(
    own_cluster: LocalCluster,
) -> None:
    old, new = os.urandom(SMALL_CHUNK), os.urandom(SMALL_CHUNK)
    with Client(own_cluster.master_address, timeout=30) as gfs:
        gfs.put(io.BytesIO(old), "/f")
        before = gfs.stat("/f").chunks[0]
        victim = next(r for r in before.replicas if r != before.primary)
        own_cluster.kill(server(own_cluster, victim))

        gfs.write("/f", 0, new)  # waits out the death, the revocation and a version bump
        after = gfs.stat("/f").chunks[0]
        assert after.version > before.version
        assert victim not in after.replicas and len(after.replicas) == 2

        own_cluster.restart(server(own_cluster, victim))
        on_disk = replica_path(own_cluster, victim, before.handle).with_suffix(".meta")

        def version_on_disk() -> int | None:
            try:
                return metafile.load(on_disk)[0].version
            except (FileNotFoundError, ValueError):
                return None

        def stale_copy_gone() -> bool:
            if victim in gfs.stat("/f").chunks[0].replicas:  # listed: must be a fresh copy
                assert version_on_disk() == after.version, "a stale replica was handed out"
            # The stale copy is deleted, or replaced by a verified copy of the new version.
            return version_on_disk() in (None, after.version)

        wait_until(stale_copy_gone, 15, "the stale replica is deleted or replaced")
        out = io.BytesIO()
        gfs.get("/f", out)
        assert out.getvalue() == new


def test_a_replica_ahead_of_the_masters_log_is_adopted_with_its_data(
    own_cluster: LocalCluster,
) -> None:
    """The master crashed after telling replicas a new version but before logging it: here made
    by rolling the master's database back by one version while it is down."""
    data = os.urandom(SMALL_CHUNK + 5)
    with Client(own_cluster.master_address) as gfs:
        gfs.put(io.BytesIO(data), "/ahead")
        chunk = gfs.stat("/ahead").chunks[0]
    assert own_cluster.master is not None
    own_cluster.kill(own_cluster.master)
    db = sqlite3.connect(own_cluster.data_dir / "master" / "master.db")
    db.execute("UPDATE chunks SET version = version - 1 WHERE handle = ?", [chunk.handle])
    db.commit()
    db.close()
    own_cluster.restart(own_cluster.master)
    with Client(own_cluster.master_address) as gfs:
        wait_until(lambda: len(gfs.stat("/ahead").chunks[0].replicas) == 3, 15, "replicas report")
        assert gfs.stat("/ahead").chunks[0].version == chunk.version, (
            "the higher version is adopted"
        )
        out = io.BytesIO()
        gfs.get("/ahead", out)
        assert out.getvalue() == data
    log = [
        json.loads(line)
        for line in run_gfs(own_cluster.master_address, "oplog", "--json").stdout.splitlines()
    ]
    assert any(e["op"] == "adopt_versions" for e in log), "the adoption is logged"


def test_after_a_restart_no_primary_is_named_before_the_old_lease_could_end(tmp_path: Path) -> None:
    cluster = start_cluster(tmp_path / "c", extra=["--lease-seconds=3"])
    try:
        with Client(cluster.master_address, timeout=30) as gfs:
            gfs.put(io.BytesIO(b"v1"), "/leased")
            first = gfs.stat("/leased").chunks[0]
            assert first.primary
        db = sqlite3.connect(cluster.data_dir / "master" / "master.db")
        expiry = db.execute(
            "SELECT lease_expiry FROM chunks WHERE handle = ?", [first.handle]
        ).fetchone()[0]
        db.close()
        assert cluster.master is not None
        cluster.kill(cluster.master)
        cluster.kill(server(cluster, first.primary))  # the old primary never reports again
        cluster.restart(cluster.master)
        with Client(cluster.master_address, timeout=30) as gfs:
            gfs.write("/leased", 0, b"v2")  # retried until a new primary may be named
            now = gfs.stat("/leased").chunks[0]
            assert now.primary and now.primary != first.primary
            out = io.BytesIO()
            gfs.get("/leased", out)
            assert out.getvalue() == b"v2"
        log = [
            json.loads(x)
            for x in run_gfs(cluster.master_address, "oplog", "--json").stdout.splitlines()
        ]
        grants = [
            e for e in log if e["op"] == "grant_lease" and e["args"]["handle"] == first.handle
        ]
        assert grants[-1]["args"]["primary"] == now.primary
        assert grants[-1]["ts"] >= expiry, (
            "a second primary was named while the first lease could be live"
        )
    finally:
        cluster.stop()


def test_a_restarted_master_deletes_nothing_until_enough_chunks_are_reported(
    own_cluster: LocalCluster,
) -> None:
    m = own_cluster.master_address
    with Client(m) as gfs:
        gfs.put(io.BytesIO(os.urandom(2 * SMALL_CHUNK)), "/kept")
        gfs.put(io.BytesIO(b"doomed"), "/doomed")
        doomed = gfs.stat("/doomed").chunks[0]
    assert own_cluster.master is not None
    for proc in own_cluster.servers:
        own_cluster.kill(proc)
    own_cluster.kill(own_cluster.master)
    own_cluster.restart(own_cluster.master)
    report = json.loads(run_gfs(m, "report", "--json").stdout)
    assert report["safe_mode"] is True, "chunks are known but none is reported yet"

    # An operator keeps it in safe mode while a file is deleted: its replicas must stay.
    assert run_gfs(m, "safemode", "enter").returncode == 0
    assert run_gfs(m, "rm", "/doomed").returncode == 0
    for proc in own_cluster.servers:
        own_cluster.restart(proc)
    own_cluster.wait_for_chunkservers(3)
    with Client(m) as gfs:
        wait_until(
            lambda: all(len(c.replicas) == 3 for c in gfs.stat("/kept").chunks), 15, "reports"
        )
    time.sleep(1.0)  # five heartbeats: in safe mode none of them may carry a removal
    paths = [replica_path(own_cluster, a, doomed.handle) for a in doomed.replicas]
    assert all(p.exists() for p in paths), "a replica was deleted in safe mode"
    assert (
        "ON (entered by an operator): 2 of 2 chunks reported"
        in run_gfs(m, "safemode").stdout.decode()
    )

    assert run_gfs(m, "safemode", "leave").returncode == 0
    wait_until(lambda: not any(p.exists() for p in paths), 15, "the deleted file's replicas go")


def test_a_chunk_logged_but_never_created_is_created_again_and_takes_writes(
    own_cluster: LocalCluster,
) -> None:
    """The master logs a new chunk, then dies before any chunkserver has created it: after the
    restart no server reports it. Being never written it holds nothing, so the master leaves
    safe mode without it and makes its replicas anew, rather than calling it missing for good."""
    m = own_cluster.master_address
    with Client(m) as gfs:
        gfs.create("/new")
    assert own_cluster.master is not None
    own_cluster.kill(own_cluster.master)
    store = Store(own_cluster.data_dir / "master" / "master.db")
    state = store.load()
    store.commit(namespace.add_chunks(state, "/new", 1, time.time()))  # two chunks, no replica
    store.close()
    own_cluster.restart(own_cluster.master)

    fsck = lambda: json.loads(run_gfs(m, "fsck", "/new", "--json").stdout)  # noqa: E731
    wait_until(lambda: fsck()["healthy"] == 2, 30, "both chunks have their replicas")
    data = os.urandom(SMALL_CHUNK + 1000)
    with Client(m) as gfs:
        gfs.write("/new", 100, data)
        assert gfs.read("/new", 100, len(data)) == data
    assert json.loads(run_gfs(m, "report", "--json").stdout)["safe_mode"] is False


def test_replicas_that_missed_a_version_nobody_took_stay_current_and_serve(
    tmp_path: Path,
) -> None:
    """Every replica of a chunk stops answering (SIGSTOP: alive by the master's count, but
    unreachable) just as a write needs a new lease: the bump is logged and reaches nobody.
    Once they answer again they must be told the new version, not removed as stale."""
    cluster = start_cluster(tmp_path / "c", extra=["--lease-seconds=1", "--dead-after=60"])
    try:
        data = os.urandom(SMALL_CHUNK // 2)
        with Client(cluster.master_address, timeout=30) as gfs:
            gfs.put(io.BytesIO(data), "/f")
            before = gfs.stat("/f").chunks[0]
            time.sleep(7)  # the lease ends, by the master's count too (1 s + the RPC margin)
            holders = [server(cluster, a) for a in before.replicas]
            for proc in holders:
                assert proc.popen is not None
                os.kill(proc.popen.pid, signal.SIGSTOP)
            try:
                with pytest.raises(errors.GfsError):
                    Client(cluster.master_address, timeout=8).write("/f", 0, b"never")
            finally:
                for proc in holders:
                    assert proc.popen is not None
                    os.kill(proc.popen.pid, signal.SIGCONT)
            wait_until(lambda: len(gfs.stat("/f").chunks[0].replicas) == 3, 30, "replicas catch up")
            assert gfs.stat("/f").chunks[0].version > before.version
            assert gfs.read("/f", 0, len(data)) == data
            gfs.write("/f", 0, b"after")
            assert gfs.read("/f", 0, len(data)) == b"after" + data[5:]
        assert cluster.master is not None
        master_log = cluster.master.log_path.read_text()
        assert "took version" in master_log
    finally:
        cluster.stop()


def test_kill_9_during_a_storm_of_namespace_operations_loses_nothing_acknowledged(
    own_cluster: LocalCluster,
) -> None:
    seed = random.randrange(2**32)
    print(f"storm seed {seed}")
    rng = random.Random(seed)
    m = own_cluster.master_address
    with Client(m) as gfs:
        gfs.mkdir("/data", parents=True)
        for j in range(6):  # files with chunks, for the no-chunk-in-two-files check
            gfs.put(io.BytesIO(os.urandom(100 + j)), f"/data/p{j}")
    clients = 4
    histories: list[list[tuple[str, tuple[str, ...], str]]] = [[] for _ in range(clients)]
    killed = threading.Event()

    def storm(k: int) -> None:
        with Client(m, timeout=5) as gfs:
            gfs.mkdir(f"/c{k}")
            i = 0
            while True:
                f, g, prev = f"/c{k}/f{i}", f"/c{k}/g{i}", f"/c{k}/g{i - 1}"
                ops: list[tuple[str, tuple[str, ...], Callable[[], None]]] = [
                    ("create", (f,), lambda f=f: gfs.create(f)),
                    ("rename", (f, g), lambda f=f, g=g: gfs.mv(f, g)),
                ]
                if i:
                    ops.append(("delete", (prev,), lambda prev=prev: gfs.rm(prev)))
                for name, args, run in ops:
                    try:
                        run()
                        histories[k].append((name, args, "ok"))
                    except errors.GfsError:
                        assert killed.is_set(), "an operation failed before the kill"
                        histories[k].append((name, args, "unknown"))
                        return
                i += 1

    threads = [threading.Thread(target=storm, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    wait_until(lambda: min(len(h) for h in histories) >= 20 + rng.randrange(40), 60, "ops pile up")
    assert own_cluster.master is not None
    killed.set()
    own_cluster.kill(own_cluster.master)
    for t in threads:
        t.join(60)
    own_cluster.restart(own_cluster.master)

    def apply(state: set[str], name: str, args: tuple[str, ...]) -> set[str]:
        if name == "create":
            return state | {args[0]}
        if name == "rename":
            return (state - {args[0]}) | {args[1]}
        return state - {args[0]}

    with Client(m, timeout=10) as gfs:
        own_cluster.wait_for_chunkservers(3)
        for k, history in enumerate(histories):
            assert history and history[-1][2] == "unknown", "every client was cut off by the kill"
            state: set[str] = set()
            for name, args, outcome in history[:-1]:
                assert outcome == "ok"
                state = apply(state, name, args)
            name, args, _ = history[-1]
            possible = [state, apply(state, name, args)]
            actual = {e.path for e in gfs.ls(f"/c{k}")}
            assert actual in possible, (
                f"client {k}: after {len(history)} ops ({name} {args} in flight) found "
                f"{sorted(actual ^ possible[0])} differing from what was acknowledged"
            )
        handles = [h for j in range(6) for h in (c.handle for c in gfs.stat(f"/data/p{j}").chunks)]
        assert len(handles) == len(set(handles)) == 6, "a chunk belongs to two files"


def test_small_files_acknowledged_are_on_every_replica_and_survive_a_kill_9_of_everything(
    own_cluster: LocalCluster,
) -> None:
    """The short path of a small put (the first chunk taken from the pool of chunks made
    ahead, or made with the file, its first lease without a version bump, the data inline with
    the write) keeps the promise of the long one: a put that returned is on all R replicas'
    disks, and all of it is there after SIGKILL of the master and every chunkserver while more
    puts are under way."""
    m = own_cluster.master_address
    acked: dict[str, bytes] = {}
    stop = threading.Event()

    def writer(k: int) -> None:
        with Client(m, timeout=5) as gfs:
            gfs.create(f"/w{k}-first")  # from here on it knows the chunk size: the short path
            for i in range(10**6):
                data = os.urandom(1 + (k * 977 + i * 131) % 9000)
                try:
                    gfs.put(io.BytesIO(data), f"/w{k}-{i}")
                except errors.GfsError:
                    assert stop.is_set(), "a put failed before the kill"
                    return
                acked[f"/w{k}-{i}"] = data

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(acked) >= 40, 120, "40 small files are acknowledged")
        with Client(m, timeout=10) as gfs:
            for path, data in list(acked.items())[:10]:
                (chunk,) = gfs.stat(path).chunks
                assert len(chunk.replicas) == 3, (path, chunk)
                for replica in chunk.replicas:
                    assert replica_path(own_cluster, replica, chunk.handle).read_bytes() == data
    finally:
        stop.set()
        for proc in [own_cluster.master, *own_cluster.servers]:
            assert proc is not None
            own_cluster.kill(proc)
    for t in threads:
        t.join(60)
    survivors = dict(acked)
    for proc in [own_cluster.master, *own_cluster.servers]:
        assert proc is not None
        own_cluster.restart(proc)
    own_cluster.wait_for_chunkservers(3)
    with Client(m, timeout=30) as gfs:

        def all_listed() -> bool:
            return all(len(gfs.stat(p).chunks[0].replicas) == 3 for p in survivors)

        wait_until(all_listed, 60, "every acknowledged file's chunk is listed on 3 replicas")
        for path, data in survivors.items():
            assert gfs.stat(path).size == len(data)
            assert gfs.read(path, 0, len(data)) == data, path
    log = (own_cluster.data_dir / "logs" / "master.log").read_text()
    assert "taken from the pool" in log, "no small file took a chunk made ahead"
