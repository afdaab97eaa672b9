"""The master's reply messages built from its own records: namespace entries, chunk locations,
op-log records in groups, and the token keys a secure master hands out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from master.issuer import TokenIssuer
from master.metadata import ChunkView
from master.rows import LogEntry
from master.state import Node
from protos import master_pb2


def entry(node: Node, default_replication: int) -> master_pb2.Entry:
    return master_pb2.Entry(
        path=node.path,
        is_dir=node.is_dir,
        size=node.size,
        mtime=node.mtime,
        mode=node.mode,
        owner=node.owner,
        group=node.group,
        chunks=len(node.chunks),
        replication=0 if node.is_dir else (node.replication or default_replication),
    )


def token_keys(tokens: TokenIssuer | None) -> dict[str, Any]:
    """The token keys in use and the master's clock, for a chunkserver or a shadow (fields of
    a heartbeat reply or a log record; none from an insecure master)."""
    if tokens is None:
        return {}
    keys = [master_pb2.TokenKey(id=k.id, secret=k.secret, until=k.until) for k in tokens.in_use()]
    return {"keys": keys, "keys_time": tokens.now()}


RECORD_BYTES = 4 * 1024 * 1024  # the entries of one log record, well under a message's limit


def log_groups(page: list[LogEntry], most: int) -> Iterator[list[LogEntry]]:
    """`page` in runs of at most `most` entries and about RECORD_BYTES (an entry larger than
    that travels alone)."""
    group: list[LogEntry] = []
    size = 0
    for entry in page:
        length = len(entry.args_json) + len(entry.changes_json)
        if group and (len(group) >= most or size + length > RECORD_BYTES):
            yield group
            group, size = [], 0
        group.append(entry)
        size += length
    if group:
        yield group


def log_fields(entry: LogEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "ts": entry.ts,
        "op": entry.op,
        "args_json": entry.args_json,
        "changes_json": entry.changes_json,
    }


def location(view: ChunkView) -> master_pb2.ChunkLocation:
    return master_pb2.ChunkLocation(
        index=view.index,
        handle=view.handle,
        version=view.version,
        size=view.size,
        replicas=view.replicas,
        primary=view.primary,
        plain_reads=view.plain_reads if any(view.plain_reads) else [],
        slow=view.slow,
    )
