"""Record append on real processes (GFS section 3.3), checked on every replica."""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.client import Client
from client.localcluster import LocalCluster
from client.models import ChunkInfo
from client.records import frame, parse
from common import errors, transport
from protos import chunkserver_pb2 as cpb
from tests.conftest import SMALL_CHUNK, run_gfs, start_cluster, wait_until

pytestmark = pytest.mark.cluster


def replica_bytes(chunk_replicas: list[str], handle: int, version: int) -> list[bytes]:
    channels = transport.Channels()
    try:
        out = []
        for address in chunk_replicas:
            request = cpb.ReadRequest(handle=handle, version=version, offset=0, length=SMALL_CHUNK)
            out.append(
                b"".join(p.data for p in channels.chunkserver(address).Read(request, timeout=10))
            )
        return out
    finally:
        channels.close()


def test_concurrent_appenders_every_record_intact_at_its_offset_on_every_replica(
    shared_cluster: LocalCluster,
) -> None:
    m = shared_cluster.master_address
    with Client(m) as gfs:
        gfs.create("/appended")
    seed = random.randrange(2**32)
    print(f"append seed {seed}")
    acknowledged: dict[bytes, int] = {}  # framed record -> offset the append returned
    failures: list[BaseException] = []
    lock = threading.Lock()

    def appender(k: int) -> None:
        rng = random.Random(seed + k)
        try:
            with Client(m) as own:
                for i in range(500):
                    body = f"{k}:{i}:".encode() + rng.randbytes(rng.randrange(16, 1500))
                    offset = own.append_record("/appended", body, f"w{k}-{i}")
                    with lock:
                        acknowledged[frame(body, f"w{k}-{i}")] = offset
        except BaseException as err:
            failures.append(err)

    threads = [threading.Thread(target=appender, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert failures == [] and len(acknowledged) == 4000

    with Client(m) as gfs:
        stat = gfs.stat("/appended")
        assert len(stat.chunks) > 3, "the records span several chunks"
        copies = {
            c.index: replica_bytes(list(c.replicas), c.handle, c.version) for c in stat.chunks
        }
        for index, replicas in copies.items():
            assert len(replicas) == 3 and replicas[0] == replicas[1] == replicas[2], (
                f"chunk {index}: replicas differ"
            )
        for framed, offset in acknowledged.items():
            index, within = divmod(offset, SMALL_CHUNK)
            assert within + len(framed) <= SMALL_CHUNK, f"the record at {offset} straddles a chunk"
            assert copies[index][0][within : within + len(framed)] == framed, (
                f"the record acknowledged at {offset} is not there, intact"
            )
        found = list(gfs.records("/appended"))
        assert sorted(frame(r.payload, r.record_id) for r in found) == sorted(acknowledged), (
            "phantoms or losses"
        )
        assert len({r.offset for r in found}) == 4000


def test_padding_at_a_chunk_boundary_and_oversized_records(tmp_path: Path) -> None:
    cluster = start_cluster(tmp_path / "c")
    try:
        m = cluster.master_address
        with Client(m) as gfs:
            gfs.create("/pad")
            quarter = SMALL_CHUNK // 4
            offsets = [gfs.append("/pad", os.urandom(quarter - 10)) for _ in range(4)]
            assert offsets[:4] == [0, quarter - 10, 2 * (quarter - 10), 3 * (quarter - 10)]
            spill = gfs.append("/pad", os.urandom(100))  # 40 bytes left: does not fit
            assert spill == SMALL_CHUNK, "the record went to the start of the next chunk"
            first = gfs.stat("/pad").chunks[0]
            for data in replica_bytes(list(first.replicas), first.handle, first.version):
                assert len(data) == SMALL_CHUNK and data[-40:] == bytes(40), "padded everywhere"
            with pytest.raises(errors.InvalidArgument, match="quarter of the chunk size"):
                gfs.append("/pad", bytes(quarter + 1))
        result = run_gfs(m, "append", "/pad", "-", "--raw", stdin=bytes(quarter + 1))
        assert result.returncode != 0 and b"quarter of the chunk size" in result.stderr
    finally:
        cluster.stop()


def test_a_record_id_lands_once_even_across_a_primary_change(tmp_path: Path) -> None:
    cluster = start_cluster(tmp_path / "c", chunkservers=4, extra=["--lease-seconds=1"])
    try:
        with Client(cluster.master_address, timeout=30) as gfs:
            gfs.create("/once")
            offset = gfs.append_record("/once", b"payload", "the-id")
            assert gfs.append_record("/once", b"payload", "the-id") == offset, "a retry"
            primary = gfs.stat("/once").chunks[0].primary
            assert primary
            cluster.kill(next(p for p in cluster.servers if p.address == primary))
            # A new primary is named once the lease ends; it was a replica of the first append.
            again = gfs.append_record("/once", b"payload", "the-id")
            now = gfs.stat("/once").chunks[0]
            assert now.primary and now.primary != primary
            assert again == offset
            gfs.append_record("/once", b"other", "other-id")
            assert [r.payload for r in gfs.records("/once")] == [b"payload", b"other"]
    finally:
        cluster.stop()


def push(channels: transport.Channels, chain: list[str], data_id: str, data: bytes) -> None:
    piece = cpb.DataPiece(data_id=data_id, chain=chain[1:], data=data)
    channels.chunkserver(chain[0]).PushData(iter([piece]), timeout=10)


@contextlib.contextmanager
def log_under_short_leases(
    tmp_path: Path,
) -> Iterator[tuple[Client, transport.Channels, ChunkInfo]]:
    """A cluster whose leases last a second, and /log holding one record (id r0): a client,
    channels to the chunkservers, and the chunk as it stands."""
    cluster = start_cluster(tmp_path / "c", extra=["--lease-seconds=1"])
    channels = transport.Channels()
    try:
        with Client(cluster.master_address, timeout=30) as gfs:
            gfs.create("/log")
            gfs.append_record("/log", b"before", "r0")
            yield gfs, channels, gfs.stat("/log").chunks[0]
    finally:
        channels.close()
        cluster.stop()


def apply_around_the_primary(
    channels: transport.Channels,
    addresses: list[str],
    chunk: ChunkInfo,
    offset: int,
    data: bytes,
    data_id: str,
    record_id: str = "",
) -> None:
    """A mutation that reached `addresses` (secondaries) and not the primary."""
    push(channels, addresses, data_id, data)
    for address in addresses:
        request = cpb.ApplyWriteRequest(
            handle=chunk.handle,
            version=chunk.version,
            offset=offset,
            data_id=data_id,
            record_id=record_id,
        )
        transport.call(
            channels.chunkserver(address).ApplyWrite, request, target=address, timeout=10
        )


def test_a_repeated_record_id_reaches_the_replica_its_first_try_missed(tmp_path: Path) -> None:
    """The first try of a record lands on the primary and one secondary but not the other (its
    data never reached it); the retry finds the id on the primary and answers with the first
    offset, which must then hold the record on every replica, the one that missed it too."""
    cluster = start_cluster(tmp_path / "c")
    channels = transport.Channels()
    try:
        with Client(cluster.master_address) as gfs:
            gfs.create("/log")
            gfs.append_record("/log", b"before", "r0")
            chunk = gfs.stat("/log").chunks[0]
        assert chunk.primary
        primary = chunk.primary
        reached, missed = [a for a in chunk.replicas if a != primary]
        framed = frame(b"retried", "r1")
        append = cpb.AppendRequest(handle=chunk.handle, version=chunk.version, record_id="r1")
        stub = channels.chunkserver(primary)

        push(channels, [primary, reached], "try-1", framed)
        append.data_id = "try-1"
        with pytest.raises(errors.GfsError, match=missed):
            transport.call(stub.Append, append, target=primary, timeout=10)

        push(channels, [primary, reached, missed], "try-2", framed)
        append.data_id = "try-2"
        reply = transport.call(stub.Append, append, target=primary, timeout=10)
        assert reply.duplicate
        replicas = list(chunk.replicas)
        for address, data in zip(
            replicas, replica_bytes(replicas, chunk.handle, chunk.version), strict=True
        ):
            got = data[reply.offset : reply.offset + len(framed)]
            assert got == framed, f"the record is not at {reply.offset} on {address}"
    finally:
        channels.close()
        cluster.stop()


def test_a_new_primary_appends_past_the_longest_replica(tmp_path: Path) -> None:
    """A secondary holds bytes past the primary's end (a mutation that failed on the primary);
    under the next lease, appends must start past them, never write over them."""
    with log_under_short_leases(tmp_path) as (gfs, channels, chunk):
        longer = next(a for a in chunk.replicas if a != chunk.primary)
        end = gfs.stat("/log").size
        kept = os.urandom(5000)
        apply_around_the_primary(channels, [longer], chunk, end, kept, "ahead")
        time.sleep(2)  # the lease ends unused; the next append gets a new one
        offset = gfs.append_record("/log", b"after", "r1")
        assert offset >= end + len(kept)
        now = gfs.stat("/log").chunks[0]
        assert now.version > chunk.version, "a new lease"
        replicas = list(now.replicas)
        data = dict(zip(replicas, replica_bytes(replicas, now.handle, now.version), strict=True))
        assert data[longer][end : end + len(kept)] == kept
        assert [r.payload for r in gfs.records("/log")] == [b"before", b"after"]


def test_retries_reaching_a_primary_that_missed_their_first_tries_land_where_the_others_hold_them(
    tmp_path: Path,
) -> None:
    """The first tries of two records reached both secondaries but not the primary; under the
    next lease their retries (same ids, the later record first) must land where the
    secondaries hold them, not a second time past them (found by the fault suite: a killed
    secondary came back as the new primary)."""
    with log_under_short_leases(tmp_path) as (gfs, channels, chunk):
        secondaries = [a for a in chunk.replicas if a != chunk.primary]
        offsets: dict[str, int] = {}
        end = gfs.stat("/log").size
        for record_id in ("r1", "r2"):
            framed = frame(record_id.encode() * 100, record_id)
            apply_around_the_primary(
                channels, secondaries, chunk, end, framed, record_id, record_id
            )
            offsets[record_id] = end
            end += len(framed)
        time.sleep(2)  # the lease ends; the retries get a new one
        for record_id in ("r2", "r1"):
            got = gfs.append_record("/log", record_id.encode() * 100, record_id)
            assert got == offsets[record_id], record_id
        now = gfs.stat("/log").chunks[0]
        assert now.version > chunk.version, "a new lease"
        replicas = list(now.replicas)
        for address, data in zip(
            replicas, replica_bytes(replicas, now.handle, now.version), strict=True
        ):
            found = [(r.offset, r.record_id) for r in parse(data, 0)]
            assert found == [(0, "r0"), (offsets["r1"], "r1"), (offsets["r2"], "r2")], address


def test_the_primary_records_the_files_length_so_the_client_does_not(
    shared_cluster: LocalCluster,
) -> None:
    """An append's primary has the master extend the file (once for every append it applied
    together); the client makes no call of its own, and the length covers every record."""
    with Client(shared_cluster.master_address) as gfs:
        gfs.create("/primary-extends")
        asked: list[str] = []
        ask = gfs._master

        def counted(method: str, *args: object, **kwargs: object) -> object:
            asked.append(method)
            return ask(method, *args, **kwargs)  # type: ignore[arg-type]

        gfs._master = counted  # type: ignore[method-assign]
        ends = [gfs.append("/primary-extends", os.urandom(1000)) + 1000 for _ in range(5)]
        assert "ExtendFile" not in asked, asked
        assert gfs.stat("/primary-extends").size == max(ends) == 5000


def test_the_command_prints_offsets_and_reads_records(shared_cluster: LocalCluster) -> None:
    m = shared_cluster.master_address
    assert run_gfs(m, "put", "-", "/cli-log", stdin=b"").returncode == 0
    first = run_gfs(m, "append", "/cli-log", "-", stdin=b"one")
    second = run_gfs(m, "append", "/cli-log", "-", stdin=b"two")
    assert int(first.stdout) == 0 and int(second.stdout) > 0
    assert run_gfs(m, "records", "/cli-log").stdout == b"one\ntwo\n"


@pytest.mark.parametrize("with_ids", [False, True], ids=["at-least-once", "exactly-once"])
def test_appends_survive_a_secondary_killed_midway(tmp_path: Path, with_ids: bool) -> None:
    cluster = start_cluster(tmp_path / "c", chunkservers=4)
    try:
        m = cluster.master_address
        with Client(m) as gfs:
            gfs.create("/log")
        acknowledged: dict[bytes, int] = {}
        failures: list[BaseException] = []
        lock = threading.Lock()
        halfway = threading.Barrier(4 + 1, timeout=120)

        def appender(k: int) -> None:
            rng = random.Random(k)
            try:
                with Client(m, timeout=30) as own:
                    for i in range(200):
                        if i == 100:
                            halfway.wait()
                        rid = f"w{k}-{i}"
                        framed = frame(
                            f"{k}:{i}:".encode() + rng.randbytes(rng.randrange(16, 900)), rid
                        )
                        offset = own.append("/log", framed, rid if with_ids else "")
                        with lock:
                            acknowledged[framed] = offset
            except BaseException as err:
                failures.append(err)

        threads = [threading.Thread(target=appender, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        halfway.wait()
        with Client(m) as gfs:
            last = gfs.stat("/log").chunks[-1]
            victim = next(r for r in last.replicas if r != last.primary)
        cluster.kill(next(p for p in cluster.servers if p.address == victim))
        for t in threads:
            t.join(300)
        assert failures == [] and len(acknowledged) == 800

        with Client(m) as gfs:

            def replicated() -> bool:
                return all(
                    len(c.replicas) == 3 and victim not in c.replicas
                    for c in gfs.stat("/log").chunks
                )

            wait_until(replicated, 30, "every chunk has three live replicas again")
            stat = gfs.stat("/log")
            copies = {
                c.index: replica_bytes(list(c.replicas), c.handle, c.version) for c in stat.chunks
            }
            for framed, offset in acknowledged.items():
                index, within = divmod(offset, SMALL_CHUNK)
                for data in copies[index]:
                    assert data[within : within + len(framed)] == framed, f"record at {offset} lost"
            found = list(gfs.records("/log"))
            assert {frame(r.payload, r.record_id) for r in found} == set(acknowledged), (
                "a phantom record, or an acknowledged one missing"
            )
            if with_ids:
                for data in (c[0] for c in copies.values()):
                    ids = [r.record_id for r in parse(data)]
                    assert len(ids) == len(set(ids)), "a record id was applied twice"
    finally:
        cluster.stop()
