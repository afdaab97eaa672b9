"""What the library returns: plain dataclasses, no protobuf."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from protos import master_pb2


@dataclass(frozen=True)
class Entry:
    path: str
    is_dir: bool
    size: int
    mtime: float
    mode: int
    owner: str
    chunks: int
    group: str = ""
    replication: int = 0  # what each chunk of a file should have; 0 for a directory

    @classmethod
    def of(cls, e: master_pb2.Entry) -> Entry:
        return cls(
            e.path, e.is_dir, e.size, e.mtime, e.mode, e.owner, e.chunks, e.group, e.replication
        )


@dataclass(frozen=True)
class ChunkInfo:
    index: int
    handle: int
    version: int
    size: int
    replicas: tuple[str, ...]
    primary: str | None
    token: bytes = b""  # a secure master's chunk access token, shown to the chunkservers
    writable: bool = False  # looked up for a write (its token, if any, allows writing)
    # Where each replica (in their order) serves reads in clear, proved by the token ("": none).
    plain_reads: tuple[str, ...] = ()
    slow: tuple[str, ...] = ()  # the replicas on a server with a slow disk: read last

    @classmethod
    def of(cls, c: master_pb2.ChunkLocation) -> ChunkInfo:
        return cls(
            c.index,
            c.handle,
            c.version,
            c.size,
            tuple(c.replicas),
            c.primary or None,
            c.token,
            plain_reads=tuple(c.plain_reads),
            slow=tuple(c.slow),
        )

    def plain_read_port(self, replica: str) -> str:
        """Where `replica` serves this chunk's reads in clear ("": nowhere; read over TLS)."""
        if not self.token or len(self.plain_reads) != len(self.replicas):
            return ""
        return self.plain_reads[self.replicas.index(replica)]

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "handle": self.handle,
            "version": self.version,
            "size": self.size,
            "replicas": list(self.replicas),
            "primary": self.primary,
        }


@dataclass(frozen=True)
class FileStat:
    path: str
    is_dir: bool
    size: int
    chunk_size: int
    chunks: tuple[ChunkInfo, ...]
    replication: int = 0  # a file's: what each of its chunks should have; 0 for a directory

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size": self.size,
            "replication": self.replication,
            "chunks": [c.as_json() for c in self.chunks],
        }


@dataclass(frozen=True)
class ServerState:
    address: str
    rack: str
    state: str
    chunks: int
    used_bytes: int
    free_bytes: int
    last_heartbeat_age_s: float
    http: str = ""  # its /metrics and /healthz, as host:port ("": none)
    failed_dirs: tuple[str, ...] = ()  # "PATH: why" of each data directory out of service
    slow_dirs: tuple[str, ...] = ()  # "PATH: why" of each serving data directory that is slow

    @classmethod
    def of(cls, s: master_pb2.ServerReport) -> ServerState:
        return cls(
            s.address,
            s.rack,
            s.state,
            s.chunks,
            s.used_bytes,
            s.free_bytes,
            s.last_heartbeat_age_s,
            s.http,
            tuple(s.failed_dirs),
            tuple(s.slow_dirs),
        )


@dataclass(frozen=True)
class ClusterReport:
    chunkservers: list[ServerState]
    safe_mode: bool
    role: str  # of the server that answered: "master" or "shadow"
    log_seq: int
    lag_seconds: float
    master_http: str = ""  # the answering server's /metrics and /healthz ("": none)
    # Of several master replicas: {"address", "role": "active"|"standby"|"down", "log_seq"}.
    masters: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    # New chunks made ahead, ready in the master's pool: their replicas belong to no file yet.
    pooled: tuple[int, ...] = ()

    def totals(self) -> dict[str, int]:
        """Servers by state; capacity, used and free bytes and replicas over the live ones
        (alive or decommissioning), as `hdfs dfsadmin -report` sums them."""
        live = [s for s in self.chunkservers if s.state in ("alive", "decommissioning")]
        used, free = sum(s.used_bytes for s in live), sum(s.free_bytes for s in live)
        states = ("alive", "dead", "decommissioning", "decommissioned")
        return {
            **{state: sum(s.state == state for s in self.chunkservers) for state in states},
            "capacity_bytes": used + free,
            "used_bytes": used,
            "free_bytes": free,
            "chunks": sum(s.chunks for s in live),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "totals": self.totals(),
            "chunkservers": [dataclasses.asdict(s) for s in self.chunkservers],
            "safe_mode": self.safe_mode,
            "role": self.role,
            "log_seq": self.log_seq,
            "lag_seconds": self.lag_seconds,
            "master_http": self.master_http,
            "pooled": list(self.pooled),
            **({"masters": self.masters} if self.masters else {}),
        }


@dataclass(frozen=True)
class SafeModeState:
    active: bool
    manual: bool
    known_chunks: int
    reported_chunks: int


@dataclass(frozen=True)
class LogRecord:
    seq: int
    ts: float
    op: str
    args: dict[str, Any]
