"""A chunkserver's own figures for Prometheus (`/metrics`), beside every server's RPC counts."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PUSHED_BYTES = Counter(
    "gfs_chunkserver_pushed_bytes_total", "Bytes received in pushes (from clients or replicas)"
)
INLINE_BYTES = Counter(
    "gfs_chunkserver_inline_bytes_total",
    "Bytes of small writes and records received inside their requests, not pushed",
)
APPEND_RUN = Histogram(
    "gfs_chunkserver_append_run_records",
    "Record appends a primary applied together (one sync per replica, one request a secondary)",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
READ_BYTES = Counter("gfs_chunkserver_read_bytes_total", "Bytes sent to readers")
COPIED_BYTES = Counter(
    "gfs_chunkserver_copied_bytes_total", "Bytes of replicas copied here from other chunkservers"
)
CHECKSUM_FAILURES = Counter(
    "gfs_chunkserver_checksum_failures_total",
    "Replicas found corrupt by their block checksums (on a read, a copy or a scrub)",
)
SPOOL_BYTES = Gauge("gfs_chunkserver_spool_bytes", "Pushed bytes held until their write comes")
REPLICAS = Gauge("gfs_chunkserver_replicas", "Replicas stored here")
FAILED_DIRS = Gauge(
    "gfs_chunkserver_failed_data_dirs", "Data directories taken out of service (a disk failed)"
)
SLOW_DIRS = Gauge(
    "gfs_chunkserver_slow_data_dirs", "Serving data directories whose disk answers slowly"
)
SCRUBBED_REPLICAS = Counter(
    "gfs_chunkserver_scrubbed_replicas_total", "Replicas the scrubber verified, whole"
)
SCRUBBED_BYTES = Counter("gfs_chunkserver_scrubbed_bytes_total", "Bytes the scrubber verified")
