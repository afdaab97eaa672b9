"""Durable master state in SQLite (through sqlite-utils).

Tables: `nodes` and `chunks` (the checkpoint), `meta` (the handle counter), and `oplog`, one row
per mutation, written in the same transaction as the rows it changes. `commit` returns only after
that transaction is durable (WAL with synchronous=FULL).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import sqlite_utils

from master.state import (
    Change,
    Chunk,
    DeleteChunk,
    DeleteNode,
    MasterState,
    Mutation,
    Node,
    PutChunk,
    PutNode,
    RaiseNextHandle,
)


def _node_row(node: Node) -> dict[str, Any]:
    return {
        "path": node.path,
        "is_dir": int(node.is_dir),
        "ctime": node.ctime,
        "mtime": node.mtime,
        "mode": node.mode,
        "owner": node.owner,
        "size": node.size,
        "chunks": json.dumps(list(node.chunks)),
    }


def _chunk_row(chunk: Chunk) -> dict[str, Any]:
    return {
        "handle": chunk.handle,
        "version": chunk.version,
        "refcount": chunk.refcount,
        "lease_holder": chunk.lease_holder,
        "lease_expiry": chunk.lease_expiry,
    }


def _change_json(change: Change) -> dict[str, Any]:
    match change:
        case PutNode(node):
            return {"put_node": _node_row(node)}
        case DeleteNode(path):
            return {"delete_node": path}
        case PutChunk(chunk):
            return {"put_chunk": _chunk_row(chunk)}
        case DeleteChunk(handle):
            return {"delete_chunk": handle}
        case RaiseNextHandle(value):
            return {"next_handle": value}
    raise TypeError(change)


class Store:
    """One SQLite connection, used by one thread at a time."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self._lock = threading.Lock()
        self._create_tables()

    def _create_tables(self) -> None:
        db = self.db
        with db.atomic():
            db.table("nodes").create(
                {
                    "path": str,
                    "is_dir": int,
                    "ctime": float,
                    "mtime": float,
                    "mode": int,
                    "owner": str,
                    "size": int,
                    "chunks": str,
                },
                pk="path",
                if_not_exists=True,
            )
            db.table("chunks").create(
                {
                    "handle": int,
                    "version": int,
                    "refcount": int,
                    "lease_holder": str,
                    "lease_expiry": float,
                },
                pk="handle",
                if_not_exists=True,
            )
            db.table("meta").create({"key": str, "value": int}, pk="key", if_not_exists=True)
            db.table("oplog").create(
                {"seq": int, "ts": float, "op": str, "args": str, "changes": str},
                pk="seq",
                if_not_exists=True,
            )

    def load(self) -> MasterState:
        state = MasterState()
        for row in self.db["nodes"].rows:
            state.apply_change(
                PutNode(
                    Node(
                        path=row["path"],
                        is_dir=bool(row["is_dir"]),
                        ctime=row["ctime"],
                        mtime=row["mtime"],
                        mode=row["mode"],
                        owner=row["owner"],
                        size=row["size"],
                        chunks=tuple(json.loads(row["chunks"])),
                    )
                )
            )
        for row in self.db["chunks"].rows:
            state.apply_change(PutChunk(Chunk(**row)))
        for row in self.db["meta"].rows_where("key = ?", ["next_handle"]):
            state.apply_change(RaiseNextHandle(row["value"]))
        return state

    def commit(self, mutation: Mutation) -> int:
        """Writes the log entry and the changed rows in one durable transaction; returns the
        entry's sequence number (0 for a mutation that changes nothing)."""
        if not mutation.changes:
            return 0
        with self._lock, self.db.atomic():
            cursor = self.db.execute(
                "INSERT INTO oplog (ts, op, args, changes) VALUES (?, ?, ?, ?)",
                [
                    time.time(),
                    mutation.op,
                    json.dumps(mutation.args),
                    json.dumps([_change_json(c) for c in mutation.changes]),
                ],
            )
            for change in mutation.changes:
                self._write(change)
            return int(cursor.lastrowid or 0)

    def _write(self, change: Change) -> None:
        db = self.db
        match change:
            case PutNode(node):
                db.table("nodes").upsert(_node_row(node), pk="path")
            case DeleteNode(path):
                db.execute("DELETE FROM nodes WHERE path = ?", [path])
            case PutChunk(chunk):
                db.table("chunks").upsert(_chunk_row(chunk), pk="handle")
            case DeleteChunk(handle):
                db.execute("DELETE FROM chunks WHERE handle = ?", [handle])
            case RaiseNextHandle(value):
                db.execute(
                    "INSERT INTO meta (key, value) VALUES ('next_handle', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
                    [value],
                )

    def close(self) -> None:
        with self._lock:
            self.db.close()
