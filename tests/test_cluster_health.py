"""Replica health on real processes: re-replication after deaths, by priority; trimming when a
server returns; racks; fsck."""

from __future__ import annotations

import io
import json
import os
import re
import time
from pathlib import Path

import pytest

from client.client import Client
from client.localcluster import LocalCluster
from tests.conftest import FAST_TIMING, SMALL_CHUNK, run_gfs, start_cluster, wait_until

pytestmark = pytest.mark.cluster


def cluster_of(
    tmp_path: Path, servers: int, extra: list[str] | None = None, racks: list[str] | None = None
) -> LocalCluster:
    return start_cluster(tmp_path / "c", chunkservers=servers, extra=extra, racks=racks)


def all_healthy(master: str) -> bool:
    result = run_gfs(master, "fsck", "--json")
    return result.returncode == 0 and json.loads(result.stdout)["healthy"] > 0


def by_address(cluster: LocalCluster, address: str):  # type: ignore[no-untyped-def]
    return next(p for p in cluster.servers if p.address == address)


def test_a_dead_server_s_chunks_return_to_three_live_replicas(tmp_path: Path) -> None:
    cluster = cluster_of(tmp_path, 4)
    try:
        data = os.urandom(6 * SMALL_CHUNK + 9)
        with Client(cluster.master_address) as gfs:
            gfs.put(io.BytesIO(data), "/f")
            chunks = gfs.stat("/f").chunks
            victim = chunks[0].replicas[0]
            cluster.kill(by_address(cluster, victim))

            def restored() -> bool:
                now = gfs.stat("/f").chunks
                return all(len(c.replicas) == 3 and victim not in c.replicas for c in now)

            wait_until(restored, 30, "every chunk has three live replicas again")
            assert run_gfs(cluster.master_address, "fsck").returncode == 0
            out = io.BytesIO()
            gfs.get("/f", out)
            assert out.getvalue() == data
    finally:
        cluster.stop()


def test_with_one_of_three_servers_dead_a_put_works_and_is_copied_up_later(
    tmp_path: Path,
) -> None:
    """HDFS's minimum replication: new chunks are made on the two live servers, fsck says so,
    and the third copy is made once a server returns."""
    cluster = cluster_of(tmp_path, 3)
    try:
        m = cluster.master_address
        down = cluster.servers[2]
        cluster.kill(down)
        with Client(m) as gfs:
            wait_until(
                lambda: any(s.state == "dead" for s in gfs.report().chunkservers),
                30,
                "the master declares the server dead",
            )
            data = os.urandom(2 * SMALL_CHUNK + 5)
            put = run_gfs(m, "put", "-", "/while-down", stdin=data)
            assert put.returncode == 0, put.stderr
            assert all(len(c.replicas) == 2 for c in gfs.stat("/while-down").chunks)
            checked = run_gfs(m, "fsck", "--json")
            assert checked.returncode == 1
            assert json.loads(checked.stdout)["under_replicated"] == 3
            cluster.restart(down)
            wait_until(lambda: all_healthy(m), 60, "the chunks have three replicas again")
            assert all(len(c.replicas) == 3 for c in gfs.stat("/while-down").chunks)
            out = io.BytesIO()
            gfs.get("/while-down", out)
            assert out.getvalue() == data
    finally:
        cluster.stop()


def test_chunks_left_with_one_replica_are_copied_before_those_with_two(tmp_path: Path) -> None:
    cluster = cluster_of(tmp_path, 5, extra=["--clone-limit=16"])
    try:
        with Client(cluster.master_address) as gfs:
            for i in range(4):
                gfs.put(io.BytesIO(os.urandom(SMALL_CHUNK)), f"/f{i}")
            chunks = [gfs.stat(f"/f{i}").chunks[0] for i in range(4)]
            # Kill two servers that share some chunk, so both one- and two-replica chunks exist.
            a = chunks[0].replicas[0]
            b = next(r for r in chunks[0].replicas if r != a)
            left = {c.handle: len(set(c.replicas) - {a, b}) for c in chunks}
            assert 1 in left.values()
            cluster.kill(by_address(cluster, a))
            cluster.kill(by_address(cluster, b))

            def restored() -> bool:
                now = [gfs.stat(f"/f{i}").chunks[0].replicas for i in range(4)]
                return all(len(r) == 3 and not {a, b} & set(r) for r in now)

            wait_until(restored, 30, "every chunk has three live replicas again")
        log = (cluster.data_dir / "logs" / "master.log").read_text()
        # The two may be declared dead in different rounds (their heartbeats fall apart): the
        # order is the master's once it knows both are gone, so read from the later death on.
        deaths = [log.index(f"chunkserver {x} is dead") for x in (a, b)]
        log = log[max(deaths) :]
        started = [int(h) for h in re.findall(r"copying chunk (\d+) \(\d+ live\)", log)]
        order = list(dict.fromkeys(started))  # each chunk's first copy (one-replica ones need two)
        ranks = [left[h] for h in order if h in left and left[h] < 3]
        assert ranks and ranks == sorted(ranks), f"copies started in order {order}, live {left}"
    finally:
        cluster.stop()


def test_a_returning_server_s_extra_replicas_are_trimmed(tmp_path: Path) -> None:
    cluster = cluster_of(tmp_path, 4)
    try:
        data = os.urandom(3 * SMALL_CHUNK)
        with Client(cluster.master_address) as gfs:
            gfs.put(io.BytesIO(data), "/f")
            victim = gfs.stat("/f").chunks[0].replicas[0]
            cluster.kill(by_address(cluster, victim))
            wait_until(
                lambda: all(
                    len(c.replicas) == 3 and victim not in c.replicas for c in gfs.stat("/f").chunks
                ),
                30,
                "repaired",
            )
            cluster.restart(by_address(cluster, victim))
            seen_four = False

            def trimmed() -> bool:
                nonlocal seen_four
                counts = [len(c.replicas) for c in gfs.stat("/f").chunks]
                seen_four = seen_four or max(counts) == 4
                return (
                    all(n == 3 for n in counts)
                    and run_gfs(cluster.master_address, "fsck").returncode == 0
                )

            wait_until(trimmed, 30, "over-replicated chunks are trimmed back to three")
            out = io.BytesIO()
            gfs.get("/f", out)
            assert out.getvalue() == data
        log = (cluster.data_dir / "logs" / "master.log").read_text()
        assert "more than 3 replicas: removing" in log, "the returning replicas were never counted"
    finally:
        cluster.stop()


def test_replicas_span_both_racks(tmp_path: Path) -> None:
    racks = ["r1", "r1", "r1", "r2"]
    cluster = cluster_of(tmp_path, 4, racks=racks)
    try:
        rack_of = {p.address: racks[i] for i, p in enumerate(cluster.servers)}
        with Client(cluster.master_address) as gfs:
            gfs.put(io.BytesIO(os.urandom(8 * SMALL_CHUNK)), "/f")
            for chunk in gfs.stat("/f").chunks:
                assert {rack_of[a] for a in chunk.replicas} == {"r1", "r2"}, chunk
    finally:
        cluster.stop()


def test_fsck_reports_missing_chunks_and_fails(tmp_path: Path) -> None:
    cluster = cluster_of(tmp_path, 3)
    try:
        with Client(cluster.master_address) as gfs:
            gfs.put(io.BytesIO(b"x" * 100), "/f")
            assert all_healthy(cluster.master_address)
            for proc in cluster.servers:
                cluster.kill(proc)

            def missing() -> bool:
                return gfs.fsck("/")["missing"] == 1

            wait_until(missing, 15, "fsck counts the chunk as missing")
        result = run_gfs(cluster.master_address, "fsck")
        assert result.returncode == 1
        assert b"missing: 1" in result.stdout
        assert result.stderr.strip() == b"gfs: not every chunk is healthy"
    finally:
        cluster.stop()


def test_the_scrubber_finds_damage_nobody_reads_and_it_is_repaired(tmp_path: Path) -> None:
    cluster = LocalCluster(
        tmp_path / "c",
        chunkservers=4,
        master_args=[f"--chunk-size={SMALL_CHUNK}", *FAST_TIMING],
        chunkserver_args=["--scrub-period=0.3", "--scrub-idle=0.2"],
    )
    try:
        cluster.start()
        data = os.urandom(3 * SMALL_CHUNK)
        with Client(cluster.master_address) as gfs:
            gfs.put(io.BytesIO(data), "/f")
            chunks = gfs.stat("/f").chunks
        index_of = {p.address: i for i, p in enumerate(cluster.servers)}
        damaged = []
        for chunk, harm in zip(chunks, ("flip", "truncate", "delete"), strict=True):
            address = chunk.replicas[0]
            path = cluster.data_dir / f"cs{index_of[address]}" / "chunks" / f"{chunk.handle}.chunk"
            if harm == "flip":
                raw = bytearray(path.read_bytes())
                raw[SMALL_CHUNK // 2] ^= 0x01
                path.write_bytes(raw)
            elif harm == "truncate":
                os.truncate(path, 1000)
            else:
                path.unlink()
            damaged.append((chunk, path))
        expected = [data[i * SMALL_CHUNK : (i + 1) * SMALL_CHUNK] for i in range(3)]

        master_log = cluster.data_dir / "logs" / "master.log"

        def repaired() -> bool:
            reported = {
                c.handle
                for c, _ in damaged
                if f"chunk {c.handle} on"
                in " ".join(x for x in master_log.read_text().splitlines() if "is corrupt" in x)
            }
            replaced = all(  # by a verified copy, or removed once copied elsewhere
                not p.exists() or p.read_bytes() == expected[c.index] for c, p in damaged
            )
            return len(reported) == 3 and replaced and all_healthy(cluster.master_address)

        wait_until(repaired, 30, "each damaged replica is reported and repaired")
        with Client(cluster.master_address) as gfs:
            out = io.BytesIO()
            gfs.get("/f", out)
            assert out.getvalue() == data
    finally:
        cluster.stop()


def test_delete_undelete_within_grace_then_purge_after_it(tmp_path: Path) -> None:
    cluster = cluster_of(tmp_path, 3, extra=["--trash-grace=3"])
    try:
        data = os.urandom(2 * SMALL_CHUNK + 1)
        m = cluster.master_address
        with Client(m) as gfs:
            gfs.mkdir("/d", parents=True)
            gfs.put(io.BytesIO(data), "/d/f")
            chunks = gfs.stat("/d/f").chunks
            files = [
                cluster.data_dir / f"cs{i}" / "chunks" / f"{c.handle}.chunk"
                for c in chunks
                for i, p in enumerate(cluster.servers)
                if p.address in c.replicas
            ]
        assert run_gfs(m, "rm", "/d/f").returncode == 0
        assert run_gfs(m, "ls", "/d").stdout == b""
        assert run_gfs(m, "undelete", "/d/f").returncode == 0
        assert run_gfs(m, "get", "/d/f", "-").stdout == data, "restored whole within the grace"

        assert run_gfs(m, "rm", "-r", "/d").returncode == 0
        assert all(f.exists() for f in files), "kept during the grace period"
        wait_until(lambda: not any(f.exists() for f in files), 20, "purged after the grace period")
        result = run_gfs(m, "undelete", "/d")
        assert result.returncode != 0 and b"nothing deleted at /d" in result.stderr
        assert run_gfs(m, "put", "-", "/now-gone", stdin=b"x").returncode == 0
        assert run_gfs(m, "rm", "--skip-trash", "/now-gone").returncode == 0
        assert run_gfs(m, "undelete", "/now-gone").returncode != 0
    finally:
        cluster.stop()


def test_decommission_drains_a_server_never_below_three_replicas(tmp_path: Path) -> None:
    cluster = cluster_of(tmp_path, 4)
    try:
        data = os.urandom(6 * SMALL_CHUNK)
        m = cluster.master_address
        with Client(m) as gfs:
            gfs.put(io.BytesIO(data), "/f")
            leaving = gfs.stat("/f").chunks[0].replicas[0]
            assert run_gfs(m, "decommission", leaving).returncode == 0

            def state_of(address: str) -> str:
                return next(s.state for s in gfs.report().chunkservers if s.address == address)

            def drained() -> bool:
                for chunk in gfs.stat("/f").chunks:
                    assert len(chunk.replicas) >= 3, f"chunk {chunk.handle} fell below three"
                return state_of(leaving) == "decommissioned"

            wait_until(drained, 30, "the server is drained and marked decommissioned")
            assert all(
                leaving not in c.replicas and len(c.replicas) == 3 for c in gfs.stat("/f").chunks
            )
            assert not list(
                (
                    cluster.data_dir
                    / f"cs{[p.address for p in cluster.servers].index(leaving)}"
                    / "chunks"
                ).glob("*.chunk")
            )
            gfs.put(io.BytesIO(b"new"), "/g")
            assert leaving not in gfs.stat("/g").chunks[0].replicas, "no new chunk goes to it"
            out = io.BytesIO()
            gfs.get("/f", out)
            assert out.getvalue() == data
        assert run_gfs(m, "fsck").returncode == 0
        result = run_gfs(m, "decommission", "127.0.0.1:1")
        assert result.returncode != 0 and b"no chunkserver 127.0.0.1:1" in result.stderr
    finally:
        cluster.stop()


def test_a_new_server_is_filled_by_the_balancer(tmp_path: Path) -> None:
    cluster = cluster_of(tmp_path, 3, extra=["--balance-interval=0.5"])
    try:
        data = os.urandom(6 * SMALL_CHUNK)
        m = cluster.master_address
        with Client(m) as gfs:
            gfs.put(io.BytesIO(data), "/f")
            newcomer = cluster.add_chunkserver()

            def even() -> bool:
                counts = [s.chunks for s in gfs.report().chunkservers]
                chunks = gfs.stat("/f").chunks
                return (
                    max(counts) - min(counts) <= 1
                    and all(len(c.replicas) == 3 for c in chunks)
                    and any(newcomer.address in c.replicas for c in chunks)
                )

            wait_until(even, 30, "replicas are spread evenly over four servers")
            assert run_gfs(m, "balance").stdout.strip() == b"balanced: nothing to move"
            out = io.BytesIO()
            gfs.get("/f", out)
            assert out.getvalue() == data
        assert run_gfs(m, "fsck").returncode == 0
    finally:
        cluster.stop()


def test_when_every_replica_is_corrupt_reads_fail_clearly_and_nothing_is_deleted(
    tmp_path: Path,
) -> None:
    cluster = cluster_of(tmp_path, 3)
    try:
        m = cluster.master_address
        assert run_gfs(m, "put", "-", "/f", stdin=os.urandom(SMALL_CHUNK)).returncode == 0
        with Client(m) as gfs:
            chunk = gfs.stat("/f").chunks[0]
        index_of = {p.address: i for i, p in enumerate(cluster.servers)}
        files = [
            cluster.data_dir / f"cs{index_of[a]}" / "chunks" / f"{chunk.handle}.chunk"
            for a in chunk.replicas
        ]
        for path in files:
            raw = bytearray(path.read_bytes())
            raw[100] ^= 0xFF
            path.write_bytes(raw)
        result = run_gfs(m, "get", "/f", str(tmp_path / "out"))
        err = result.stderr.decode().strip()
        assert result.returncode != 0 and "could not be read from any replica" in err, err
        assert len(err.splitlines()) == 1
        wait_until(
            lambda: (
                run_gfs(m, "fsck", "--json").returncode == 1
                and json.loads(run_gfs(m, "fsck", "--json").stdout)["corrupt"] == 1
            ),
            10,
            "fsck counts the chunk corrupt",
        )
        time.sleep(1.0)  # five heartbeats and repair rounds: none may delete the last copies
        assert all(p.exists() for p in files), "a corrupt last copy was deleted"
    finally:
        cluster.stop()
