"""Servers under `--log-format json` (here through GFS_LOG_FORMAT, as compose would set it):
every line of every log is one JSON object, and the significant events carry their facts as
fields: a chunk created with its path, a corrupt replica the scrubber found with its handle, a
chunkserver declared dead with its address, a re-replication with its chunk and target. The
scrubber's finding also reaches the chunkserver's page and /metrics, and the copies /metrics."""

from __future__ import annotations

import io
import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from client.client import Client
from client.localcluster import LocalCluster
from tests.conftest import FAST_TIMING, SMALL_CHUNK, replica_path, wait_until
from tests.test_cluster_metrics import scrape

pytestmark = pytest.mark.cluster


def events(log: Path) -> list[dict[str, Any]]:
    """Every line of a server's log, parsed (a line that is not JSON fails the test)."""
    lines = log.read_text().splitlines()
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"{log.name}: not a JSON line: {line!r}")
    return parsed


def named(log: Path, event: str) -> list[dict[str, Any]]:
    return [e for e in events(log) if e.get("event") == event]


def test_json_logs_carry_each_event_with_its_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GFS_LOG_FORMAT", "json")
    cluster = LocalCluster(
        tmp_path / "c",
        chunkservers=4,
        master_args=[f"--chunk-size={SMALL_CHUNK}", *FAST_TIMING],
        chunkserver_args=["--scrub-period=0.3", "--scrub-idle=0.2"],
        http=True,
    )
    logs = cluster.data_dir / "logs"
    try:
        cluster.start()
        with Client(cluster.master_address, timeout=10) as gfs:
            gfs.put(io.BytesIO(os.urandom(SMALL_CHUNK)), "/logged")
            chunk = gfs.stat("/logged").chunks[0]
            report = gfs.report()
            pages = {s.address: s.http for s in report.chunkservers}
            master_http = report.master_http
        created = named(logs / "master.log", "chunk_created")
        assert any(e["path"] == "/logged" and e["handle"] == chunk.handle for e in created)
        granted = named(logs / "master.log", "lease_granted")
        assert any(e["handle"] == chunk.handle and e["address"] in pages for e in granted)

        # A flipped bit nobody reads: the scrubber finds it, says so as an event, on its page
        # and in its counters.
        sick = chunk.replicas[0]
        sick_log = logs / f"cs{[p.address for p in cluster.servers].index(sick)}.log"
        wait_until(
            lambda: (
                scrape(pages[sick])[("gfs_chunkserver_scrubbed_bytes_total", ())] >= SMALL_CHUNK
            ),
            30,
            "the scrubber counts the bytes it verified",
        )
        path = replica_path(cluster, sick, chunk.handle)
        raw = bytearray(path.read_bytes())
        raw[10] ^= 0x01
        path.write_bytes(bytes(raw))
        wait_until(
            lambda: any(
                e["handle"] == chunk.handle and e["found_by"] == "scrub"
                for e in named(sick_log, "replica_corrupt")
            ),
            30,
            "the scrubber logs the corrupt replica as an event",
        )
        with urllib.request.urlopen(f"http://{pages[sick]}/", timeout=10) as reply:
            page = reply.read().decode()
        findings = page.split("Scrubber findings", 1)[1].split("Recent events", 1)[0]
        assert f"replica of chunk {chunk.handle} is corrupt" in findings

        # A dead chunkserver, and the copies that make up for it, by address and handle.
        victim = next(p for p in cluster.servers if p.address in chunk.replicas[1:])
        cluster.kill(victim)
        wait_until(
            lambda: any(
                e["address"] == victim.address
                for e in named(logs / "master.log", "chunkserver_dead")
            ),
            30,
            "the master logs the dead chunkserver as an event",
        )
        wait_until(
            lambda: any(
                e["handle"] == chunk.handle and e["address"] not in (victim.address, sick)
                for e in named(logs / "master.log", "rereplicated")
            ),
            30,
            "the master logs the re-replication as an event",
        )
        # /metrics counts the copies (master) and their bytes (the chunkservers that took
        # them); the chunk is back to full health there once the snapshot is redone.
        repairs = ("gfs_master_copies_total", (("why", "repair"),))
        assert scrape(master_http)[repairs] >= 1
        copied = sum(
            scrape(pages[p.address]).get(("gfs_chunkserver_copied_bytes_total", ()), 0.0)
            for p in cluster.servers
            if p is not victim
        )
        assert copied >= SMALL_CHUNK
        healthy = ("gfs_master_chunks_by_health", (("health", "healthy"),))
        wait_until(lambda: scrape(master_http)[healthy] == 1, 30, "the chunk is healthy again")
        assert not any(k[0] == "gfs_master_rereplication_queue" for k in scrape(master_http))
        dead = named(logs / "master.log", "chunkserver_dead")[0]
        assert dead["level"] == "WARNING" and dead["logger"] == "master.replicas"
        assert victim.address in dead["message"] and dead["time"].endswith("+00:00")
    finally:
        cluster.stop()
    for log in logs.glob("*.log"):
        events(log)  # every line of every server's log is JSON, to the last one
