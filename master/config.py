"""The master's configuration: every timeout and size is a documented field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.limits import MAX_CREATED
from common.tls import TlsFiles
from master.namespace import MAX_MOVED

MiB = 1024 * 1024


@dataclass(frozen=True)
class MasterConfig:
    data_dir: Path
    listen: str = "127.0.0.1:9000"
    # The address others reach this master at, where it differs from `listen` (a container
    # listening on 0.0.0.0 behind a service name); a master replica's identity among the others.
    advertise: str = ""
    chunk_size: int = 64 * MiB
    replication: int = 3
    # Fewest replicas a new chunk is made with while chunkservers are down (HDFS's minimum
    # replication): writes go on, and repair copies the chunk up to `replication` later.
    min_replication: int = 1
    # How long a primary may order mutations without hearing from the master again.
    lease_seconds: float = 60.0
    # How often chunkservers report; sent back to them in every heartbeat reply.
    heartbeat_interval: float = 1.0
    # A chunkserver silent this long is dead: never chosen, never handed to clients.
    dead_after: float = 10.0
    # Deadline of every master -> chunkserver RPC. It is also added to the master's record of
    # a lease's end, because the primary starts its own lease clock when the grant arrives.
    rpc_timeout: float = 5.0
    # Deadline of a whole-chunk copy the master orders (CloneFrom, CopyLocal): 64 MiB read,
    # checked and written.
    copy_timeout: float = 60.0
    # Master -> chunkserver RPCs under way at once (version and lease fan-outs), and background
    # jobs (copies, re-creations, catch-ups) at once: two pools, so a job never waits on a
    # pool it occupies.
    rpc_workers: int = 16
    job_workers: int = 16
    # New chunks whose empty replicas are made ahead, in batches, for new files to take (for
    # each replication in use): a small file's put then waits for no creation. 0: none.
    chunk_pool: int = 16
    # A deleted path stays restorable (gfs undelete) this long before it is purged; 0: at once.
    trash_grace: float = 3 * 86400.0
    # How often the balancer moves replicas from the fullest servers to the emptiest.
    balance_interval: float = 30.0
    # Copies a chunkserver takes part in at once (as source or target) during re-replication,
    # so that repair does not starve clients.
    clone_limit: int = 2
    # Safe mode after a start ends once this share of known chunks has a live replica.
    safemode_threshold: float = 0.999
    # Op-log entries kept after compaction (the state tables hold the effect of older ones).
    oplog_retain: int = 1_000_000
    # A new image of the state (master.image: what a start reads instead of the tables) once
    # the log moved this many entries past the last; at start the entries after it are
    # replayed (~40k a second). 0: no images.
    image_every: int = 50_000
    # Master replicas: this master and its shadows. Above 1, a change is answered only once a
    # majority of them hold its log entry durably (the shadows say so: LogHeld); within
    # `rpc_timeout`, or the caller is told it is not acknowledged.
    master_replicas: int = 1
    # The coordination service (ZooKeeper, "HOST:PORT[,HOST:PORT...]") that elects the active
    # one of the master replicas and numbers its term ("": none: a lone master, or shadows).
    # A replica whose session lapses for `coordinator_timeout` seconds loses the election.
    coordinator: str = ""
    coordinator_timeout: float = 5.0
    # The path under which this cluster's replicas meet in the coordinator.
    cluster_name: str = "pygfs"
    # A follower heard from within this long keeps the entries it still needs from compaction.
    follower_ttl: float = 3600.0
    # gRPC worker threads of the master; followed log streams (shadows, `gfs oplog -f`) hold
    # one each for as long as they follow, so at most `max_followers` at once.
    workers: int = 32
    max_followers: int = 8
    # One client (a certificate's name; insecure: one connection) has at most `max_per_client`
    # calls under way; all but `reserved_workers` workers serve clients, so heartbeats always
    # find one.
    max_per_client: int = 16
    # Entries one rename (or move to the trash, or snapshot) may move: each is a row in its one
    # log entry.
    max_moved: int = MAX_MOVED
    reserved_workers: int = 4
    # Chunk access tokens (secure clusters only): how long one lets its holder read or write a
    # chunk, and how often the key they are signed with changes.
    token_lifetime: float = 600.0
    token_key_rotate: float = 3600.0
    # Mutual TLS on every channel, every caller's role checked (None: insecure, simple mode).
    tls: TlsFiles | None = None
    # HOST:PORT of /metrics and /healthz ("": none).
    http: str = ""

    def __post_init__(self) -> None:
        if self.chunk_size < 64 * 1024 or self.chunk_size % (64 * 1024):
            raise ValueError("chunk size must be a positive multiple of 64 KiB")
        if self.replication < 1 or self.min_replication < 1:
            raise ValueError("replication and min replication must be at least 1")
        if self.chunk_pool < 0 or self.chunk_pool > MAX_CREATED:
            raise ValueError(f"the chunk pool holds 0 to {MAX_CREATED} chunks")
        if self.lease_seconds <= 0 or self.heartbeat_interval <= 0 or self.dead_after <= 0:
            raise ValueError("lease, heartbeat interval and dead-after must be positive")

    @property
    def address(self) -> str:
        """Where the other master replicas reach this one (its identity among them)."""
        return self.advertise or self.listen
