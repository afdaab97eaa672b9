"""put/get/write on a real cluster of processes: bytes identical, replicas distinct and in step."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import time
from pathlib import Path

import pytest

from chunkserver import metafile
from client.client import Client
from client.localcluster import LocalCluster
from tests.conftest import SMALL_CHUNK, replica_path, run_gfs, start_cluster, wait_until

BLOCK = 64 * 1024


@pytest.mark.cluster
@pytest.mark.parametrize(
    "size",
    [
        0,
        1,
        BLOCK - 1,
        BLOCK + 1,
        SMALL_CHUNK - 1,
        SMALL_CHUNK,
        SMALL_CHUNK + 1,
        5 * SMALL_CHUNK + 12345,
    ],
)
def test_put_then_get_is_byte_identical(gfs: Client, size: int) -> None:
    data = os.urandom(size)
    path = f"/sizes/f{size}"
    gfs.mkdir("/sizes", parents=True)
    assert gfs.put(io.BytesIO(data), path) == size
    out = io.BytesIO()
    assert gfs.get(path, out) == size
    assert out.getvalue() == data
    stat = gfs.stat(path)
    assert stat.size == size
    assert len(stat.chunks) == -(-size // SMALL_CHUNK)


@pytest.mark.cluster
def test_every_chunk_is_on_three_distinct_servers_at_one_version(
    gfs: Client, shared_cluster: LocalCluster
) -> None:
    gfs.put(io.BytesIO(os.urandom(3 * SMALL_CHUNK + 1)), "/replicated")
    stat = gfs.stat("/replicated")
    assert len(stat.chunks) == 4
    for chunk in stat.chunks:
        assert len(set(chunk.replicas)) == 3
        for address in chunk.replicas:
            on_disk = replica_path(shared_cluster, address, chunk.handle)
            assert on_disk.stat().st_size == chunk.size
            meta, _ = metafile.load(on_disk.with_suffix(".meta"))
            assert meta.version == chunk.version


@pytest.mark.cluster
def test_write_at_an_offset_across_a_chunk_boundary(gfs: Client) -> None:
    original = os.urandom(2 * SMALL_CHUNK)
    gfs.put(io.BytesIO(original), "/overwrite")
    patch = os.urandom(BLOCK * 2 + 333)
    offset = SMALL_CHUNK - BLOCK - 100
    gfs.write("/overwrite", offset, patch)
    expected = bytearray(original)
    expected[offset : offset + len(patch)] = patch
    assert gfs.read("/overwrite", 0, 10 * SMALL_CHUNK) == bytes(expected)


@pytest.mark.cluster
def test_a_writes_primary_has_the_master_record_the_new_length(
    gfs: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    gfs.create("/grown")
    asked: list[str] = []
    call = gfs._master

    def counted(method: str, request: object, read_only: bool = False) -> object:
        asked.append(method)
        return call(method, request, read_only)

    monkeypatch.setattr(gfs, "_master", counted)
    data = os.urandom(SMALL_CHUNK + 1000)  # across a chunk boundary
    gfs.write("/grown", 500, data)
    assert "ExtendFile" not in asked, "the last chunk's primary had the master extend the file"
    assert gfs.stat("/grown").size == 500 + len(data)
    assert gfs.read("/grown", 0, 10 * SMALL_CHUNK) == bytes(500) + data


@pytest.mark.cluster
def test_write_past_the_end_extends_the_file_with_zeros(gfs: Client) -> None:
    gfs.put(io.BytesIO(b"head"), "/sparse")
    gfs.write("/sparse", 2 * SMALL_CHUNK + 10, b"tail")
    out = io.BytesIO()
    gfs.get("/sparse", out)
    assert out.getvalue() == b"head" + bytes(2 * SMALL_CHUNK + 6) + b"tail"


@pytest.mark.cluster
def test_namespace_operations_through_the_command(shared_cluster: LocalCluster) -> None:
    m = shared_cluster.master_address
    assert run_gfs(m, "mkdir", "-p", "/cli/a/b").returncode == 0
    assert run_gfs(m, "put", "-", "/cli/a/b/f", stdin=b"hello").returncode == 0
    assert run_gfs(m, "mv", "/cli/a", "/cli/z").returncode == 0
    listing = run_gfs(m, "ls", "/cli/z/b").stdout.decode().split()
    assert listing == ["/cli/z/b/f"]
    assert run_gfs(m, "get", "/cli/z/b/f", "-").stdout == b"hello"
    assert run_gfs(m, "rm", "-r", "/cli/z").returncode == 0
    assert run_gfs(m, "ls", "/cli").stdout == b""


@pytest.mark.cluster
def test_a_flipped_byte_is_never_returned_and_the_read_uses_another_replica(
    own_cluster: LocalCluster, replicas_in_order: None
) -> None:
    data = os.urandom(SMALL_CHUNK)
    with Client(own_cluster.master_address) as gfs:
        gfs.put(io.BytesIO(data), "/flip")
        chunk = gfs.stat("/flip").chunks[0]
        first = sorted(chunk.replicas)[0]  # the first replica the client tries
        path = replica_path(own_cluster, first, chunk.handle)
        raw = bytearray(path.read_bytes())
        raw[BLOCK + 7] ^= 0x40
        path.write_bytes(raw)

        out = io.BytesIO()
        gfs.get("/flip", out)
        assert out.getvalue() == data

        # It reports itself corrupt, drops out, and is replaced by a verified copy (repair).
        def healed() -> bool:
            listed = first in gfs.stat("/flip").chunks[0].replicas
            return not listed or path.read_bytes() == data

        wait_until(healed, 10, "the corrupt replica is no longer served as it was")


@pytest.mark.cluster
@pytest.mark.slow
def test_default_64_mib_chunks_file_over_two_chunks(tmp_path: Path) -> None:
    cluster = start_cluster(tmp_path / "big", chunk_size=64 * 1024 * 1024)
    try:
        data = os.urandom(64 * 1024 * 1024 + 4321)
        local = tmp_path / "big.bin"
        local.write_bytes(data)
        m = cluster.master_address
        put = run_gfs(m, "put", str(local), "/big.bin")
        assert put.returncode == 0, put.stderr
        got = run_gfs(m, "get", "/big.bin", str(tmp_path / "copy.bin"))
        assert got.returncode == 0, got.stderr
        assert (tmp_path / "copy.bin").read_bytes() == data
        stat = json.loads(run_gfs(m, "stat", "--json", "/big.bin").stdout)
        assert [c["size"] for c in stat["chunks"]] == [64 * 1024 * 1024, 4321]
        assert all(len(set(c["replicas"])) == 3 for c in stat["chunks"])
    finally:
        cluster.stop()


@pytest.mark.cluster
def test_replicas_of_a_deleted_file_are_removed_from_every_server(
    own_cluster: LocalCluster,
) -> None:
    with Client(own_cluster.master_address) as gfs:
        gfs.put(io.BytesIO(os.urandom(2 * SMALL_CHUNK + 1)), "/doomed")
        gfs.put(io.BytesIO(b"survivor"), "/kept")
        doomed = [(a, c.handle) for c in gfs.stat("/doomed").chunks for a in c.replicas]
        kept = [(a, c.handle) for c in gfs.stat("/kept").chunks for a in c.replicas]
        assert all(replica_path(own_cluster, a, h).exists() for a, h in doomed)
        gfs.rm("/doomed")
        wait_until(
            lambda: not any(replica_path(own_cluster, a, h).exists() for a, h in doomed),
            10,
            "the deleted file's replicas are gone from disk",
        )
        assert all(replica_path(own_cluster, a, h).exists() for a, h in kept)
        out = io.BytesIO()
        gfs.get("/kept", out)
        assert out.getvalue() == b"survivor"


@pytest.mark.cluster
def test_a_writer_keeps_its_lease_past_the_lease_length(tmp_path: Path) -> None:
    """Heartbeats extend a lease while mutations continue: no version bump, no new primary."""
    cluster = start_cluster(tmp_path / "short-lease", extra=["--lease-seconds=1.5"])
    try:
        with Client(cluster.master_address) as gfs:
            gfs.put(io.BytesIO(bytes(SMALL_CHUNK)), "/busy-chunk")
            first = gfs.stat("/busy-chunk").chunks[0]
            expected = bytearray(SMALL_CHUNK)
            deadline = time.monotonic() + 4.5  # three lease lengths
            n = 0
            while time.monotonic() < deadline:
                patch, offset = os.urandom(100), (n * 100) % (SMALL_CHUNK - 100)
                gfs.write("/busy-chunk", offset, patch)
                expected[offset : offset + 100] = patch
                n += 1
                time.sleep(0.05)
            now = gfs.stat("/busy-chunk").chunks[0]
            assert (now.version, now.primary) == (first.version, first.primary), "the lease lapsed"
            assert gfs.read("/busy-chunk", 0, SMALL_CHUNK) == bytes(expected)
    finally:
        cluster.stop()


def test_a_long_read_is_spread_over_the_replicas_and_a_part_fails_over(tmp_path: Path) -> None:
    chunk = 4 * 1024 * 1024
    cluster = start_cluster(tmp_path / "c", chunk_size=chunk)
    try:
        data = os.urandom(chunk)
        with Client(cluster.master_address) as gfs:
            gfs.put(io.BytesIO(data), "/long")
            replicas = gfs.stat("/long").chunks[0].replicas
            asked: list[str] = []
            stubs = gfs.channels.chunkserver

            def spy(address: str):  # type: ignore[no-untyped-def]
                asked.append(address)
                return stubs(address)

            gfs.channels.chunkserver = spy  # type: ignore[method-assign]
            assert gfs.read("/long", 5, chunk - 10) == data[5:-5]
            assert sorted(asked) == sorted(replicas), "one part from each replica"
            gone = next(p for p in cluster.servers if p.address == replicas[0])
            cluster.kill(gone)  # still listed by the master for a while
            asked.clear()
            assert gfs.read("/long", 0, chunk) == data
            assert replicas[0] in asked and len(asked) > len(replicas), "its part went elsewhere"
    finally:
        cluster.stop()


def test_a_read_waits_out_a_listing_with_no_replica(gfs: Client) -> None:
    """While a version change travels the master lists no replica of the chunk; a reader asks
    again instead of calling the chunk lost."""
    gfs.put(io.BytesIO(b"x" * 1000), "/unlisted")
    real = gfs.stat("/unlisted").chunks[0]
    unlisted = dataclasses.replace(real, replicas=())
    listings = [unlisted, unlisted, real]
    gfs._locate = lambda path, index, for_write: listings.pop(0)  # type: ignore[method-assign]
    try:
        assert b"".join(gfs.io.read_chunk("/unlisted", unlisted, 0, 1000)) == b"x" * 1000
    finally:
        del gfs._locate
    assert listings == []
