"""The master's own figures for Prometheus (`/metrics`), beside every server's RPC counts:
counters moved where things happen, and the cluster's state read when scraped (replica health
from the same background snapshot the status page shows, so a scrape never walks the chunk
table itself)."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from master.health import CLASSES

if TYPE_CHECKING:  # the store counts its commits here: no import of it at run time
    from master.healthsnapshot import HealthSnapshot
    from master.metadata import Metadata
    from master.replication import Clone
    from master.safemode import SafeMode

HEARTBEATS = Counter("gfs_master_heartbeats_total", "Chunkserver heartbeats taken")
REPORTS = Counter(
    "gfs_master_reports_total",
    "Replica reports taken from heartbeats, by kind (full; part, of a full report too large for"
    " one beat; incremental: changes only)",
    ["kind"],
)
REPORTED_REPLICAS = Counter(
    "gfs_master_reported_replicas_total",
    "Replicas listed (healthy, gone or corrupt) in the reports taken, by kind",
    ["kind"],
)
REPAIR_JUDGED = Counter(
    "gfs_master_repair_judged_chunks_total",
    "Chunks repair judged: those whose replicas or row changed, that it left wanting, or that"
    " its sweep found unsettled (every chunk after a pause of five minutes, as at start)",
)
LEASES_GRANTED = Counter("gfs_master_leases_granted_total", "Leases granted to a primary")
LEASES_REVOKED = Counter("gfs_master_leases_revoked_total", "Leases taken back early")
COPIES = Counter(
    "gfs_master_copies_total",
    "Chunk copies between chunkservers done, by why (repair: short of replicas; move: balance"
    " or drain)",
    ["why"],
)
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


DESCRIBED = (
    "gfs_master_chunkservers",
    "gfs_master_chunks",
    "gfs_master_chunks_reported",
    "gfs_master_safe_mode",
    "gfs_master_log_seq",
    "gfs_master_chunks_by_health",
    "gfs_master_rereplication_queue",
    "gfs_master_health_pass_seconds",
    "gfs_master_copies_under_way",
)


class ClusterState(Collector):
    """Chunkservers by state, chunks known and reported, safe mode and the log position, as of
    the scrape; chunks by health and the re-replication queue as of the latest health snapshot;
    copies under way (a master's)."""

    def __init__(
        self,
        meta: Metadata,
        safe_mode: SafeMode,
        health: HealthSnapshot,
        cloning: dict[int, Clone] | None,
    ) -> None:
        self.meta = meta
        self.safe_mode = safe_mode
        self.health = health
        self.cloning = cloning

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """The names, for the registry (which otherwise collects once to learn them, and would
        take a health snapshot at start)."""
        for name in DESCRIBED:
            yield GaugeMetricFamily(name, "")

    def collect(self) -> Iterator[GaugeMetricFamily]:
        servers = GaugeMetricFamily(
            "gfs_master_chunkservers", "Chunkservers by state", labels=["state"]
        )
        states = Tally(s.state for s in self.meta.report())
        for state in ("alive", "dead", "decommissioning", "decommissioned"):
            servers.add_metric([state], states.get(state, 0))
        yield servers
        with self.meta.core:
            known = len(self.meta.state.chunks)
        yield GaugeMetricFamily("gfs_master_chunks", "Chunks in the chunk table", value=known)
        yield GaugeMetricFamily(
            "gfs_master_safe_mode", "1 while in safe mode", value=int(self.safe_mode.active)
        )
        yield GaugeMetricFamily(
            "gfs_master_log_seq", "The newest op-log entry", value=self.meta.store.last_seq
        )
        yield from self._health()
        if self.cloning is not None:
            yield GaugeMetricFamily(
                "gfs_master_copies_under_way", "Chunk copies started, not done", len(self.cloning)
            )

    def _health(self) -> Iterator[GaugeMetricFamily]:
        snapshot = self.health.latest()
        yield GaugeMetricFamily(
            "gfs_master_chunks_reported",
            "Chunks with a live replica of their current version (as of the snapshot)",
            value=snapshot.reported,
        )
        by_health = GaugeMetricFamily(
            "gfs_master_chunks_by_health",
            "Chunks of the namespace by replica health (fsck's classes; as of the snapshot)",
            labels=["health"],
        )
        for name in (*CLASSES, "corrupt"):
            by_health.add_metric([name], snapshot.counts.get(name, 0))
        yield by_health
        queue = GaugeMetricFamily(
            "gfs_master_rereplication_queue",
            "Chunks short of replicas, by live replicas left (0 and 1 are copied first)",
            labels=["live"],
        )
        for live, count in sorted(snapshot.short.items()):
            queue.add_metric([str(live)], count)
        yield queue
        yield GaugeMetricFamily(
            "gfs_master_health_pass_seconds",
            "How long the latest health snapshot's pass over every chunk took",
            snapshot.took,
        )
