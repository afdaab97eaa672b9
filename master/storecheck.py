"""Whether the master's store can be trusted at start: SQLite's own structural check, then the
invariants of what it loaded. A truncated or damaged store is refused with one line rather
than half loaded (a namespace missing a directory's entries, or handing out a chunk handle
twice, would lose data quietly); `gfs restore-master` makes a new one from a shadow's."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from common import errors, paths
from master.state import MasterState

RESTORE_HINT = "restore it from a shadow's store (gfs restore-master SHADOW_DIR MASTER_DIR)"


class StoreDamaged(errors.DataLoss):
    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"the master's store {path} is damaged ({problem}); {RESTORE_HINT}")
        self.problem = problem


def sqlite_problem(db: sqlite3.Connection) -> str | None:
    """SQLite's quick check (b-trees, pages, free list: 40 ms for 100k files), or None."""
    rows = db.execute("PRAGMA quick_check").fetchall()
    found = [str(r[0]) for r in rows if r[0] != "ok"]
    return "; ".join(found[:3]) or None


def state_problem(state: MasterState, handles_recorded: bool = True) -> str | None:
    """The first broken invariant of a loaded state, or None: every entry's parent exists
    and is a directory; and, if the store records the next handle to issue (a store from
    before it did may not), no chunk is at or past it."""
    for path, node in state.nodes.items():
        if path == "/":
            continue
        parent = state.nodes.get(paths.parent(path))
        if parent is None or not parent.is_dir:
            return f"{path} has no parent directory"
        if node.is_dir and node.chunks:
            return f"directory {path} holds chunks"
        for handle in node.chunks if handles_recorded else ():
            if handle >= state.next_handle:
                return f"{path} holds chunk {handle}, never issued (next is {state.next_handle})"
    for handle in state.chunks if handles_recorded else ():
        if handle >= state.next_handle:
            return f"chunk {handle} is past the next handle {state.next_handle}"
    return None
