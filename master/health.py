"""The health of a set of files' chunks, as `gfs fsck` reports it (pure: the caller passes
the state, the replica table and the time)."""

from __future__ import annotations

from master.chunkservers import Chunkservers
from master.state import Chunk, Node

CLASSES = ("healthy", "under_replicated", "over_replicated", "missing")


def classify(live: int, replication: int, corrupt: bool) -> str | None:
    """A chunk's class by its live current replicas; None: not healthy only for a corrupt
    replica (counted under "corrupt")."""
    if live == 0:
        return "missing"
    if live < replication:
        return "under_replicated"
    if live > replication:
        return "over_replicated"
    return None if corrupt else "healthy"


def corrupt_chunks(servers: Chunkservers) -> set[int]:
    return {h for s in servers.servers.values() for h in s.corrupt}


def fsck(
    files: list[Node],
    chunks: dict[int, Chunk],
    servers: Chunkservers,
    replication: int,
    now: float,
) -> dict[str, int]:
    """{"files", "chunks", "healthy", "under_replicated", "over_replicated", "missing",
    "corrupt", "stale_replicas"}: a chunk is healthy with exactly its target of live current
    replicas (its own replication, else `replication`) and no corrupt one."""
    handles = {h for f in files for h in f.chunks}
    corrupt = corrupt_chunks(servers)
    counts = {
        "files": len(files),
        "chunks": len(handles),
        **dict.fromkeys(CLASSES, 0),
        "corrupt": len(handles & corrupt),
        "stale_replicas": sum(len(s.stale & handles) for s in servers.servers.values()),
    }
    for handle in handles:
        chunk = chunks.get(handle)
        target = chunk.target(replication) if chunk is not None else replication
        kind = classify(len(servers.replicas(handle, now)), target, handle in corrupt)
        if kind is not None:
            counts[kind] += 1
    return counts
