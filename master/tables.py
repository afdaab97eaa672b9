"""The tables of the master's store (store.py) as rows: their schema, made or brought up to date
when a store opens; the rows a batch of changes leaves, written; and the state they hold, read
back. Every function takes the store's connection; the caller holds whatever lock and
transaction it needs.

`nodes` and `chunks` are the checkpoint, `meta` holds counters by name (the next handle, the
newest entry's term, which image is this state), `oplog` one row per mutation.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import sqlite_utils

from master.rows import (
    CHUNK_COLUMNS,
    NODE_COLUMNS,
    UPSERT_CHUNK,
    UPSERT_NODE,
    chunk_row,
    handles_of,
    node_row,
    quoted,
)
from master.state import (
    Change,
    Chunk,
    DeleteChunk,
    DeleteNode,
    MasterState,
    Node,
    PutChunk,
    PutNode,
    RaiseNextHandle,
)


def create(db: sqlite_utils.Database) -> None:
    """The tables, made if missing; columns added since a store was made are added to it."""
    with db.atomic():
        db.table("nodes").create(
            {
                "path": str,
                "is_dir": int,
                "ctime": float,
                "mtime": float,
                "mode": int,
                "owner": str,
                "group": str,
                "size": int,
                "chunks": str,
                "replication": int,
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
                "floor": int,
                "issued": int,
                "replication": int,
            },
            pk="handle",
            if_not_exists=True,
        )
        nodes = db.table("nodes")
        if "group" not in nodes.columns_dict:  # a database from before permissions
            nodes.add_column("group", str, not_null_default="")
        if "replication" not in nodes.columns_dict:  # from before per-file replication
            nodes.add_column("replication", int, not_null_default=0)
        chunks = db.table("chunks")
        for column in ("floor", "issued", "replication"):  # from before these columns
            if column not in chunks.columns_dict:
                chunks.add_column(column, int, not_null_default=0)
        db.table("meta").create({"key": str, "value": int}, pk="key", if_not_exists=True)
        db.table("oplog").create(
            {"seq": int, "ts": float, "op": str, "args": str, "changes": str},
            pk="seq",
            if_not_exists=True,
        )


def recorded(conn: sqlite3.Connection, key: str) -> int | None:
    """The `meta` counter `key`; None if the store never recorded it."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return int(row[0]) if row else None


def note(conn: sqlite3.Connection, key: str, value: int) -> None:
    """Sets the `meta` counter `key`."""
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, value],
    )


def write(conn: sqlite3.Connection, changes: list[Change]) -> None:
    """Writes the rows `changes` leave, in one statement per kind: a row changed several times
    (a file made, given a chunk, given its length) is written once, as it ends."""
    nodes: dict[str, Node | None] = {}
    chunks: dict[int, Chunk | None] = {}
    next_handle: int | None = None
    for change in changes:
        match change:
            case PutNode(node):
                nodes[node.path] = node
            case DeleteNode(path):
                nodes[path] = None
            case PutChunk(chunk):
                chunks[chunk.handle] = chunk
            case DeleteChunk(handle):
                chunks[handle] = None
            case RaiseNextHandle(value):
                next_handle = max(next_handle or value, value)
    many = conn.executemany
    many("DELETE FROM nodes WHERE path = ?", [(p,) for p, n in nodes.items() if n is None])
    many(UPSERT_NODE, [node_row(n) for n in nodes.values() if n is not None])
    many("DELETE FROM chunks WHERE handle = ?", [(h,) for h, c in chunks.items() if c is None])
    many(UPSERT_CHUNK, [chunk_row(c) for c in chunks.values() if c is not None])
    if next_handle is not None:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('next_handle', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
            [next_handle],
        )


def read_state(conn: sqlite3.Connection) -> tuple[MasterState, bool]:
    """The state the tables hold, and whether they recorded the next handle (a store from
    before did not: it is then worked out from the chunks). Raises what sqlite3 or a row that
    does not fit raises."""
    state = MasterState()
    for chunk in _chunks(conn):
        state.chunks[chunk.handle] = chunk
    for node in _nodes(conn, state.chunks):
        state.put(node)
    next_handle = recorded(conn, "next_handle")
    state.apply_change(RaiseNextHandle(next_handle or 1))
    return state, next_handle is not None


def _nodes(conn: sqlite3.Connection, chunks: dict[int, Chunk]) -> Iterator[Node]:
    """Every node, built from sqlite3's row tuples (sqlite-utils' dict per row, and keyword
    arguments, were most of a large master's start-up). Values most rows repeat (owner, group,
    mode) are one object each, and a chunk handle is `chunks`' own int: a million files held a
    million copies of each."""
    names: dict[str, str] = {}
    modes: dict[int, int] = {}
    select = f"SELECT {', '.join(quoted(NODE_COLUMNS))} FROM nodes"
    for path, is_dir, ctime, mtime, mode, owner, group, size, listed, rep in conn.execute(select):
        handles: tuple[int, ...] = ()
        if listed != "[]":
            handles = tuple(chunks[h].handle if h in chunks else h for h in handles_of(listed))
        owner, group = names.setdefault(owner, owner), names.setdefault(group, group)
        mode = modes.setdefault(mode, mode)
        yield Node(path, bool(is_dir), ctime, mtime, mode, owner, group, size, handles, rep)


def _chunks(conn: sqlite3.Connection) -> Iterator[Chunk]:
    holders: dict[str, str] = {}
    select = f"SELECT {', '.join(quoted(CHUNK_COLUMNS))} FROM chunks"  # Chunk's fields
    for handle, version, refcount, holder, expiry, *rest in conn.execute(select):
        holder = holders.setdefault(holder, holder)
        yield Chunk(handle, version, refcount, holder, expiry if expiry else 0.0, *rest)
