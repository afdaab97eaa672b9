"""The master's own figures for Prometheus (`/metrics`), beside every server's RPC counts:
counters moved where things happen, and the cluster's state read when scraped."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:  # the store counts its commits here: no import of it at run time
    from master.metadata import Metadata
    from master.safemode import SafeMode

HEARTBEATS = Counter("gfs_master_heartbeats_total", "Chunkserver heartbeats taken")
LEASES_GRANTED = Counter("gfs_master_leases_granted_total", "Leases granted to a primary")
LEASES_REVOKED = Counter("gfs_master_leases_revoked_total", "Leases taken back early")
COMMIT_SECONDS = Histogram(
    "gfs_master_commit_seconds",
    "Time one group commit of the op log took (one transaction, one fsync)",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)
COMMIT_GROUP = Histogram(
    "gfs_master_commit_group_size",
    "Mutations made durable by one group commit",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)


class ClusterState(Collector):
    """Chunkservers by state, chunks known and reported, safe mode and the log position, as of
    the scrape."""

    def __init__(self, meta: Metadata, safe_mode: SafeMode) -> None:
        self.meta = meta
        self.safe_mode = safe_mode

    def collect(self) -> Iterator[GaugeMetricFamily]:
        servers = GaugeMetricFamily(
            "gfs_master_chunkservers", "Chunkservers by state", labels=["state"]
        )
        states = Tally(s.state for s in self.meta.report())
        for state in ("alive", "dead", "decommissioning", "decommissioned"):
            servers.add_metric([state], states.get(state, 0))
        yield servers
        known, reported = self.meta.chunk_counts()
        yield GaugeMetricFamily("gfs_master_chunks", "Chunks in the chunk table", value=known)
        yield GaugeMetricFamily(
            "gfs_master_chunks_reported",
            "Chunks with a live replica of their current version",
            value=reported,
        )
        yield GaugeMetricFamily(
            "gfs_master_safe_mode", "1 while in safe mode", value=int(self.safe_mode.active)
        )
        yield GaugeMetricFamily(
            "gfs_master_log_seq", "The newest op-log entry", value=self.meta.store.last_seq
        )
