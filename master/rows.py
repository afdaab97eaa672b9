"""The master's state as SQLite rows and log text: a node or chunk as its row, the prepared
upserts, a change as the JSON an op-log entry holds, and back. The store writes these; a shadow
reads them off the stream."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from master.state import (
    Change,
    Chunk,
    DeleteChunk,
    DeleteNode,
    Mutation,
    Node,
    PutChunk,
    PutNode,
    RaiseNextHandle,
)


def node_row(node: Node) -> dict[str, Any]:
    return {
        "path": node.path,
        "is_dir": int(node.is_dir),
        "ctime": node.ctime,
        "mtime": node.mtime,
        "mode": node.mode,
        "owner": node.owner,
        "group": node.group,
        "size": node.size,
        "chunks": json.dumps(list(node.chunks)),
        "replication": node.replication,
    }


def chunk_row(chunk: Chunk) -> dict[str, Any]:
    return {
        "handle": chunk.handle,
        "version": chunk.version,
        "refcount": chunk.refcount,
        "lease_holder": chunk.lease_holder,
        "lease_expiry": chunk.lease_expiry,
        "floor": chunk.floor,
        "issued": chunk.issued,
        "replication": chunk.replication,
    }


def handles_of(listed: str) -> tuple[int, ...]:
    """The handles of a node row's `chunks` (the JSON of a list of ints), read without a JSON
    parser: json.loads was most of the cost of a shadow's replay and a second of a million
    files' start-up. ValueError if it is anything else."""
    if listed == "[]":
        return ()
    if listed[:1] != "[" or listed[-1:] != "]":
        raise ValueError(f"not a list of chunk handles: {listed[:40]!r}")
    return tuple(map(int, listed[1:-1].split(",")))


def quoted(columns: Iterable[str]) -> list[str]:
    return [f'"{c}"' for c in columns]  # "group" is a keyword


def _upsert(table: str, key: str, columns: Sequence[str]) -> str:
    """One prepared statement per table: sqlite-utils' upsert inspects the table on every call,
    which cost a third of the committer's time under a storm of creates."""
    names = ", ".join(quoted(columns))
    values = ", ".join(f":{c}" for c in columns)
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c != key)
    conflict = f"ON CONFLICT({key}) DO UPDATE SET {updates}"
    return f"INSERT INTO {table} ({names}) VALUES ({values}) {conflict}"


NODE_COLUMNS = (
    *("path", "is_dir", "ctime", "mtime", "mode", "owner", "group", "size", "chunks"),
    "replication",
)
CHUNK_COLUMNS = (
    *("handle", "version", "refcount", "lease_holder", "lease_expiry", "floor", "issued"),
    "replication",
)
UPSERT_NODE = _upsert("nodes", "path", NODE_COLUMNS)
UPSERT_CHUNK = _upsert("chunks", "handle", CHUNK_COLUMNS)


def change_json(change: Change) -> dict[str, Any]:
    match change:
        case PutNode(node):
            return {"put_node": node_row(node)}
        case DeleteNode(path):
            return {"delete_node": path}
        case PutChunk(chunk):
            return {"put_chunk": chunk_row(chunk)}
        case DeleteChunk(handle):
            return {"delete_chunk": handle}
        case RaiseNextHandle(value):
            return {"next_handle": value}
    raise TypeError(change)


CHECKPOINT_OP = "checkpoint"  # where a copy of the log installed from a checkpoint starts
EPOCH_OP = "epoch"  # the first entry of a term: {"epoch": N, "active": ADDRESS}


@dataclass(frozen=True)
class LogEntry:
    """An op-log entry as stored and streamed: its arguments and the rows it wrote are JSON
    text, passed on as it is; only a follower that replays it decodes the rows, once."""

    seq: int
    ts: float
    op: str
    args_json: str
    changes_json: str

    @property
    def args(self) -> dict[str, Any]:
        args: dict[str, Any] = json.loads(self.args_json)
        return args

    def digest(self) -> str:
        """What tells this entry from any other written at its place in some replica's log
        (a deposed active's, say): its time, operation and rows. A checkpoint's marker entry
        stands for the entry it was taken at, and says that one's digest."""
        if self.op == CHECKPOINT_OP:
            return str(self.args.get("digest", ""))
        text = "\0".join([self.ts.hex(), self.op, self.args_json, self.changes_json])
        return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()

    def mutation(self) -> Mutation:
        """The mutation this entry logged (ValueError if its text does not decode to one)."""
        changes = tuple(change_from_json(c) for c in json.loads(self.changes_json))
        return Mutation(self.op, self.args, changes)


def change_from_json(data: dict[str, Any]) -> Change:
    """The inverse of change_json: what a follower replays."""
    ((kind, value),) = data.items()
    if kind == "put_node":
        row = {**value, "is_dir": bool(value["is_dir"]), "chunks": handles_of(value["chunks"])}
        return PutNode(Node(**row))
    if kind == "delete_node":
        return DeleteNode(value)
    if kind == "put_chunk":
        return PutChunk(Chunk(**value))
    if kind == "delete_chunk":
        return DeleteChunk(value)
    if kind == "next_handle":
        return RaiseNextHandle(value)
    raise ValueError(f"unknown change {kind!r}")
