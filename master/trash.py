"""Lazy deletion (GFS section 4.4), planned as pure functions as `master.namespace` plans the
rest: a deleted path becomes a hidden name under TRASH that says when it was deleted and what
it was, restorable until the master purges it after the grace period."""

from __future__ import annotations

import urllib.parse

from common import errors, paths
from master import namespace
from master.namespace import TRASH
from master.permissions import EXECUTE, SUPERUSER, WRITE, Caller, check, check_owner
from master.state import Change, MasterState, Mutation, Node, PutNode


def trash_path(path: str, now: float) -> str:
    """The hidden name a path deleted at `now` takes: '/.trash/<ms>@<quoted path>'."""
    return f"{TRASH}/{int(now * 1000)}@{urllib.parse.quote(path, safe='')}"


def _trashed_at(name: str) -> tuple[float, str] | None:
    """(deletion time, original path) of a trash entry's path; None for a name no deletion
    made (someone's `mkdir /.trash/junk`): never restored, never purged."""
    ms, at, quoted = name[len(TRASH) + 1 :].partition("@")
    if not (at and ms.isdigit()):
        return None
    return int(ms) / 1000, urllib.parse.unquote(quoted)


def _trash_entries(state: MasterState) -> list[tuple[float, str, str]]:
    """(deletion time, original path, hidden path) of every entry in the trash, oldest first."""
    entries = []
    for hidden in state.children.get(TRASH, ()):
        parsed = _trashed_at(hidden)
        if parsed is not None:
            entries.append((*parsed, hidden))
    return sorted(entries)


def move_to_trash(
    state: MasterState,
    path: str,
    recursive: bool,
    now: float,
    caller: Caller = SUPERUSER,
    limit: int = namespace.MAX_MOVED,
) -> Mutation:
    """Deletes lazily: `path` moves to its hidden trash name, restorable until purged."""
    if path == "/":
        raise errors.InvalidArgument("cannot delete the root directory")
    if paths.is_within(path, TRASH):  # deleting from the trash is for good
        return namespace.delete(state, path, recursive, caller)
    namespace.check_delete(state, path, caller)
    node = namespace.lookup(state, path)
    if node.is_dir and state.children.get(path) and not recursive:
        raise errors.DirectoryNotEmpty(f"directory not empty (use -r): {path}")
    hidden = trash_path(path, now)
    changes: list[Change] = []
    if TRASH not in state.nodes:
        changes.append(PutNode(Node(TRASH, True, now, now, 0o700)))
    changes.extend(namespace.move_rows(state, path, hidden, now, limit))
    return Mutation("trash", {"path": path, "as": hidden}, tuple(changes))


def undelete(
    state: MasterState,
    path: str,
    now: float,
    caller: Caller = SUPERUSER,
    limit: int = namespace.MAX_MOVED,
) -> Mutation:
    """Restores the most recently deleted `path` still in the trash: its owner may, where
    they may create it again."""
    namespace.require_not_reserved(path)
    check(state, path, caller, parent=WRITE | EXECUTE)
    found = [hidden for _, original, hidden in _trash_entries(state) if original == path]
    if not found:
        raise errors.NotFound(f"nothing deleted at {path} is still in the trash")
    newest = found[-1]
    check_owner(state.nodes[newest], caller)
    if path in state.nodes:
        raise errors.AlreadyExists(f"already exists: {path}")
    namespace.require_parent_dir(state, path)
    return Mutation(
        "undelete",
        {"path": path, "from": newest},
        tuple(namespace.move_rows(state, newest, path, now, limit)),
    )


def expired_trash(state: MasterState, now: float, grace: float) -> list[str]:
    """Trash entries deleted at least `grace` seconds ago, oldest first."""
    return [hidden for at, _, hidden in _trash_entries(state) if now - at >= grace]
