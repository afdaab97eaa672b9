"""The health of a set of files' chunks, as `gfs fsck` reports it (pure: the caller passes
the state, the replica table and the time)."""

from __future__ import annotations

from master.chunkservers import Chunkservers
from master.state import Node


def fsck(files: list[Node], servers: Chunkservers, replication: int, now: float) -> dict[str, int]:
    """{"files", "chunks", "healthy", "under_replicated", "over_replicated", "missing",
    "corrupt", "stale_replicas"}: a chunk is healthy with exactly `replication` live current
    replicas and no corrupt one."""
    handles = {h for f in files for h in f.chunks}
    corrupt = {h for s in servers.servers.values() for h in s.corrupt}
    counts = {
        "files": len(files),
        "chunks": len(handles),
        "healthy": 0,
        "under_replicated": 0,
        "over_replicated": 0,
        "missing": 0,
        "corrupt": len(handles & corrupt),
        "stale_replicas": sum(len(s.stale & handles) for s in servers.servers.values()),
    }
    for handle in handles:
        live = len(servers.replicas(handle, now))
        if live == 0:
            counts["missing"] += 1
        elif live < replication:
            counts["under_replicated"] += 1
        elif live > replication:
            counts["over_replicated"] += 1
        elif handle not in corrupt:
            counts["healthy"] += 1
    return counts
