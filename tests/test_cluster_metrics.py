"""Every server's /metrics (read with prometheus-client's own parser) and /healthz, and the
gRPC health service behind `gfs health`: the counters move with the work done."""

from __future__ import annotations

import io
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from client.client import Client
from client.localcluster import LocalCluster
from common import transport
from common.limits import MAX_INLINE
from master.metrics import DESCRIBED
from protos import chunkserver_pb2 as cpb
from tests.conftest import FAST_TIMING, replica_path, run_gfs, wait_until

pytestmark = pytest.mark.cluster
# Records may be a quarter of a chunk: one chunk size that lets a record be too large to go
# inline with its append.
CHUNK = 1024 * 1024


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    local = LocalCluster(
        tmp_path_factory.mktemp("metrics"),
        master_args=[f"--chunk-size={CHUNK}", *FAST_TIMING],
        http=True,
    )
    try:
        local.start()
        yield local
    finally:
        local.stop()


INLINE = "gfs_chunkserver_inline_bytes_total"


def scrape(address: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of http://ADDRESS/metrics, by name and labels."""
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(addresses: list[str], name: str) -> float:
    return sum(scrape(a).get((name, ()), 0.0) for a in addresses)


def rpc_bytes(addresses: list[str], way: str, method: str) -> float:
    key = (f"gfs_rpc_{way}_bytes_total", (("method", method),))
    return sum(scrape(a).get(key, 0.0) for a in addresses)


def test_the_counters_move_with_the_work(cluster: LocalCluster) -> None:
    with Client(cluster.master_address, timeout=10) as gfs:
        report = gfs.report()
        master_http = report.master_http
        servers = {s.address: s.http for s in report.chunkservers}
        assert master_http and all(servers.values()), report
        pages = list(servers.values())
        pushed, read = (
            total(pages, f"gfs_chunkserver_{k}_bytes_total") for k in ("pushed", "read")
        )
        inline = total(pages, INLINE)
        pushed_rpc = rpc_bytes(pages, "received", "ChunkServer.PushData")
        read_rpc = rpc_bytes(pages, "sent", "ChunkServer.Read")
        creates = scrape(master_http).get(
            ("gfs_rpc_requests_total", (("code", "OK"), ("method", "Master.Create"))), 0.0
        )
        data = os.urandom(2 * CHUNK + 99)
        gfs.put(io.BytesIO(data), "/metered")
        assert gfs.read("/metered", 0, len(data)) == data
        after = scrape(master_http)
        assert after[("gfs_rpc_requests_total", (("code", "OK"), ("method", "Master.Create")))] == (
            creates + 1
        )
        assert after[("gfs_master_chunkservers", (("state", "alive"),))] == 3
        assert after[("gfs_master_leases_granted_total", ())] >= 3
        # Every replica received every byte: the client's push and two forwards of it, or
        # (the 99-byte tail, a small write) inside the write to the primary and its orders.
        assert total(pages, "gfs_chunkserver_pushed_bytes_total") - pushed >= 3 * 2 * CHUNK
        assert total(pages, INLINE) - inline >= 3 * 99
        assert total(pages, "gfs_chunkserver_read_bytes_total") - read >= len(data)
        # And the RPC layer saw them go by, by kind of call.
        received = rpc_bytes(pages, "received", "ChunkServer.PushData")
        sent = rpc_bytes(pages, "sent", "ChunkServer.Read")
        assert received - pushed_rpc >= 3 * 2 * CHUNK and sent - read_rpc >= len(data)
        assert rpc_bytes([master_http], "received", "Master.Create") > 0


def calls(addresses: list[str], method: str) -> float:
    key = ("gfs_rpc_requests_total", (("code", "OK"), ("method", method)))
    return sum(scrape(a).get(key, 0.0) for a in addresses)


def test_small_writes_and_records_go_inline_and_larger_ones_are_pushed(
    cluster: LocalCluster,
) -> None:
    """Data of at most MAX_INLINE bytes rides inside the write (or append) and the primary's
    orders: no push to any replica, and every replica holds it; a byte more is pushed along
    the chain (the client's push and two forwards)."""
    with Client(cluster.master_address, timeout=10) as gfs:
        pages = [s.http for s in gfs.report().chunkservers]
        pushes, inline = calls(pages, "ChunkServer.PushData"), total(pages, INLINE)
        small = os.urandom(MAX_INLINE)
        gfs.put(io.BytesIO(small), "/inline-small")
        assert calls(pages, "ChunkServer.PushData") == pushes
        assert total(pages, INLINE) == inline + 3 * MAX_INLINE
        chunk = gfs.stat("/inline-small").chunks[0]
        assert len(chunk.replicas) == 3
        for replica in chunk.replicas:
            assert replica_path(cluster, replica, chunk.handle).read_bytes() == small

        larger = os.urandom(MAX_INLINE + 1)
        gfs.put(io.BytesIO(larger), "/pushed")
        assert calls(pages, "ChunkServer.PushData") == pushes + 3
        assert gfs.read("/pushed", 0, len(larger)) == larger

        gfs.create("/inline-log")
        record, big_record = b"r" * 100, os.urandom(MAX_INLINE + 1)
        at = gfs.append("/inline-log", record, record_id="small-one")
        assert calls(pages, "ChunkServer.PushData") == pushes + 3
        big_at = gfs.append("/inline-log", big_record, record_id="big-one")
        assert calls(pages, "ChunkServer.PushData") == pushes + 6
        assert gfs.read("/inline-log", at, len(record)) == record
        assert gfs.read("/inline-log", big_at, len(big_record)) == big_record
        # A repeat of an inline record's id is answered with its first offset (exactly once).
        assert gfs.append("/inline-log", record, record_id="small-one") == at


def test_a_put_adds_its_first_chunk_with_the_file(cluster: LocalCluster) -> None:
    """A client that knows the chunk size creates a file with its first chunk in one call,
    and writes it without looking it up; an empty file gets no chunk."""
    with Client(cluster.master_address, timeout=10) as gfs:
        master = gfs.report().master_http
        gfs.put(io.BytesIO(b"first"), "/learns-the-chunk-size")
        lookups = calls([master], "Master.GetChunk")
        creates = calls([master], "Master.Create")
        data = os.urandom(5000)
        gfs.put(io.BytesIO(data), "/one-call")
        assert calls([master], "Master.Create") == creates + 1
        assert calls([master], "Master.GetChunk") == lookups
        assert gfs.stat("/one-call").size == len(data)
        assert gfs.read("/one-call", 0, len(data)) == data
        gfs.put(io.BytesIO(b""), "/empty")
        assert gfs.stat("/empty").chunks == () and gfs.stat("/empty").size == 0
        # Two chunks: the second is looked up as before.
        gfs.put(io.BytesIO(os.urandom(CHUNK + 1)), "/two-chunks")
        assert calls([master], "Master.GetChunk") == lookups + 1


def reports(master_http: str, kind: str) -> tuple[float, float]:
    """(reports taken, replicas they listed) of `kind` so far."""
    samples, label = scrape(master_http), (("kind", kind),)
    return (
        samples.get(("gfs_master_reports_total", label), 0.0),
        samples.get(("gfs_master_reported_replicas_total", label), 0.0),
    )


def test_heartbeats_list_only_the_replicas_that_changed(cluster: LocalCluster) -> None:
    """Once a server has made its full report, its heartbeats cost what changed: none of the
    replicas it already reported while nothing changes, each new one once."""
    with Client(cluster.master_address, timeout=10) as gfs:
        master_http = gfs.report().master_http
        gfs.mkdir("/steady")
        for i in range(10):
            gfs.put(io.BytesIO(b"x" * 100), f"/steady/{i}")
        beats, listed = reports(master_http, "incremental")
        wait_until(
            lambda: reports(master_http, "incremental")[0] >= beats + 3 * 3,
            timeout=30,
            what="three more incremental reports of each server",
        )
        beats, listed = reports(master_http, "incremental")
        full = reports(master_http, "full")
        wait_until(
            lambda: reports(master_http, "incremental")[0] >= beats + 3 * 3,
            timeout=30,
            what="three more incremental reports of each server",
        )
        assert reports(master_http, "incremental")[1] == listed, "nothing changed, none listed"
        gfs.put(io.BytesIO(b"y" * 100), "/steady/new")
        wait_until(
            lambda: reports(master_http, "incremental")[1] >= listed + 3,
            timeout=30,
            what="the new chunk's three replicas listed",
        )
        assert reports(master_http, "full") == full, "no full report meanwhile"
        located = gfs.stat("/steady/new").chunks[0].replicas
        assert len(located) == 3


def test_a_full_report_too_large_for_a_beat_is_taken_in_parts(tmp_path: Path) -> None:
    """Servers of five replicas each that send at most two a beat: after the master restarts,
    they report in parts, and the master locates every replica from them."""
    local = LocalCluster(
        tmp_path,
        master_args=[f"--chunk-size={CHUNK}", *FAST_TIMING],
        chunkserver_args=["--full-report-part=2"],
        http=True,
    )
    try:
        local.start()
        with Client(local.master_address, timeout=10) as gfs:
            for i in range(5):
                gfs.put(io.BytesIO(b"x" * 100), f"/f{i}")
        assert local.master is not None
        local.restart(local.master)
        with Client(local.master_address, timeout=10) as gfs:
            master_http = gfs.report().master_http
            wait_until(
                lambda: all(len(gfs.stat(f"/f{i}").chunks[0].replicas) == 3 for i in range(5)),
                timeout=30,
                what="every replica located again",
            )
            wait_until(
                lambda: reports(master_http, "part")[0] >= 3 * 3,
                timeout=30,
                what="three parts from each server",
            )
            assert reports(master_http, "full")[0] == 0
            assert not gfs.safe_mode().active
    finally:
        local.stop()


def test_the_cluster_gauges_are_all_described(cluster: LocalCluster) -> None:
    """The registry learns the collector's names from `describe` (collecting would take a
    health snapshot at start): every gauge the master's collector yields is described."""
    with Client(cluster.master_address, timeout=10) as gfs:
        master_http = gfs.report().master_http
    counted = ("_total", "_bucket", "_count", "_sum", "_created")
    gauges = {n for n, _ in scrape(master_http) if n.startswith("gfs_master_")}
    gauges = {n for n in gauges if not n.endswith(counted)}
    assert "gfs_master_chunks_by_health" in gauges and gauges <= set(DESCRIBED), gauges


def test_a_corrupt_replica_counts_a_checksum_failure(cluster: LocalCluster) -> None:
    with Client(cluster.master_address, timeout=10) as gfs:
        gfs.put(io.BytesIO(b"c" * 5000), "/to-damage")
        chunk = gfs.stat("/to-damage").chunks[0]
        servers = {s.address: s.http for s in gfs.report().chunkservers}
    victim = chunk.replicas[0]
    before = total([servers[victim]], "gfs_chunkserver_checksum_failures_total")
    path: Path = replica_path(cluster, victim, chunk.handle)
    raw = bytearray(path.read_bytes())
    raw[100] ^= 0xFF
    path.write_bytes(bytes(raw))
    channels = transport.Channels()
    try:
        request = cpb.ReadRequest(handle=chunk.handle, version=chunk.version, offset=0, length=5000)
        with pytest.raises(grpc.RpcError) as refused:
            list(channels.chunkserver(victim).Read(request, timeout=10))
        assert refused.value.code() == grpc.StatusCode.DATA_LOSS  # type: ignore[attr-defined]
    finally:
        channels.close()
    assert total([servers[victim]], "gfs_chunkserver_checksum_failures_total") == before + 1
    data_loss = ("gfs_rpc_requests_total", (("code", "DATA_LOSS"), ("method", "ChunkServer.Read")))
    assert scrape(servers[victim])[data_loss] >= 1


def test_health_over_http_and_grpc(cluster: LocalCluster) -> None:
    with Client(cluster.master_address, timeout=10) as gfs:
        report = gfs.report()
    for address in [report.master_http, *(s.http for s in report.chunkservers)]:
        with urllib.request.urlopen(f"http://{address}/healthz", timeout=10) as reply:
            assert reply.status == 200
            assert b"serving" in reply.read()
    for address in [cluster.master_address, *(p.address for p in cluster.servers)]:
        checked = run_gfs(cluster.master_address, "health", address)
        assert checked.returncode == 0 and b"SERVING" in checked.stdout, checked.stderr
    down = run_gfs(cluster.master_address, "--timeout", "2", "health", "127.0.0.1:1")
    assert down.returncode != 0 and down.stderr.count(b"\n") == 1, down.stderr
