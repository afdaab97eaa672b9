"""The chunkserver's configuration: every timeout and size is a documented field."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from common.masters import MasterList
from common.tls import TlsFiles

MiB = 1024 * 1024


@dataclass(frozen=True)
class ChunkserverConfig:
    data_dir: Path  # its lock, its spool, and replicas
    # Further directories replicas are spread over (one per disk, as HDFS's volumes).
    more_data_dirs: tuple[Path, ...] = ()
    # How many of the data directories may fail (EIO, read-only, unmounted) while the server
    # goes on serving from the rest; one more and it stops. Each is probed every
    # `dir_check_interval` seconds, and after any disk error.
    failed_dirs_tolerated: int = 0
    dir_check_interval: float = 10.0
    # A directory whose probe (a small file written, synced, read back) takes longer is
    # reported slow: readers prefer the server's peers (HDFS's slow disks and peers).
    slow_disk_ms: int = 500
    master: str = "127.0.0.1:9000"  # or the master replicas, "A,B,C": it follows the active
    listen: str = "127.0.0.1:0"
    advertise: str = ""  # address given to the master and clients; default: the bound address
    rack: str = "default"
    # Until the master's first reply says otherwise.
    heartbeat_interval: float = 1.0
    # Heartbeats report only the replicas that changed; every replica once in this long (an
    # hour: a safety net, HDFS's is six), and whenever the master asks.
    full_report_interval: float = 3600.0
    # Replicas in one beat of a full report; a larger one goes in parts, a beat each (a
    # million replicas are ~13 MB, near the 16 MiB limit of a message).
    full_report_part: int = 200_000
    # Deadline of RPCs to the master and of forwarding to the next server in a chain.
    rpc_timeout: float = 10.0
    # Pushed data not written within this long is dropped.
    spool_ttl: float = 120.0
    # Pushed data spooled at once; a push that could pass it is refused (RESOURCE_EXHAUSTED).
    spool_limit: int = 4096 * MiB
    # Of which one user (on a secure cluster, by the token of their pushes) holds at most this.
    spool_per_user: int = 1024 * MiB
    # Largest chunk accepted (the master's chunk size may be smaller, never larger).
    max_chunk_size: int = 64 * MiB
    # Size of each streamed read message.
    read_piece: int = 1 * MiB
    # The scrubber verifies each replica at most once per period, only when it has not been
    # written for `scrub_idle` seconds, reading at most `scrub_rate` bytes per second.
    scrub_period: float = 6 * 3600.0
    scrub_idle: float = 60.0
    scrub_rate: int = 32 * MiB
    # Calls a chunkserver runs at once: gRPC worker threads, of which pushes and reads (which
    # may last) take at most `max_pushes` and `max_reads` (more are refused as busy, to be
    # retried), so control calls (writes, leases, versions) always find one. A push or read
    # still running after `stream_timeout` is cancelled by the server, whatever deadline its
    # client gave.
    workers: int = 48
    max_pushes: int = 16
    max_reads: int = 16
    stream_timeout: float = 120.0
    # One client (a certificate's name; insecure: one connection) has at most `max_per_client`
    # calls under way; all but `reserved_workers` workers serve them, so the master's orders
    # and a primary's mutations always find one.
    max_per_client: int = 24
    reserved_workers: int = 8
    # Mutual TLS on every channel, every caller's role checked (None: insecure, simple mode).
    tls: TlsFiles | None = None
    # HOST:PORT of /metrics and /healthz ("": none).
    http: str = ""
    # HOST:PORT where a secure server also serves reads in clear, each proved by its token, for
    # the speed of bulk reads without TLS ("": none; every read then is over mutual TLS).
    plain_reads: str = ""

    @property
    def data_dirs(self) -> tuple[Path, ...]:
        return (self.data_dir, *self.more_data_dirs)

    # Which of `master`'s replicas is taken for the active one (moves as they refuse).
    masters: MasterList = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "masters", MasterList(self.master))
