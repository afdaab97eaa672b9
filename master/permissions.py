"""Who may do what to a path: POSIX permission bits on files and directories, checked as HDFS
checks them (no sticky bit, no ACLs), with a superuser who passes every check.

A caller needs execute on every directory above a path to reach it, and then, by operation:
read on a file to read it, write to change it; read and execute on a directory to list it;
write on the parent to create, delete or rename an entry (on the deepest existing ancestor for
`mkdir -p`); and for a recursive delete, all of read, write and execute on every directory
being deleted. Only the owner (or the superuser) changes a mode; only the superuser gives a
path away, and an owner may change its group only to one of their own.

Pure: the caller's identity comes in, a `PermissionDenied` (or nothing) comes out.
"""

from __future__ import annotations

from dataclasses import dataclass

from common import errors, paths
from common.modes import mode_string
from master.state import MasterState, Node

READ, WRITE, EXECUTE = 4, 2, 1
ALL = READ | WRITE | EXECUTE
SUPERGROUP = "supergroup"  # the group of the root, and of every superuser


@dataclass(frozen=True)
class Caller:
    """An authenticated user: their name, their groups, whether they are a superuser."""

    user: str
    groups: frozenset[str] = frozenset()
    superuser: bool = False


# The master's own work (the trash, replays) and every caller of an insecure cluster, which
# has no authenticated users to tell apart (as HDFS with permissions off).
SUPERUSER = Caller("", frozenset({SUPERGROUP}), superuser=True)


def _access_name(access: int) -> str:
    names = [
        name
        for bit, name in ((READ, "READ"), (WRITE, "WRITE"), (EXECUTE, "EXECUTE"))
        if access & bit
    ]
    return "_".join(names) or "NONE"


def allows(node: Node, caller: Caller, access: int) -> bool:
    """Whether `node`'s mode grants `caller` every bit of `access` (owner, group or other)."""
    if caller.superuser:
        return True
    if node.owner == caller.user:
        granted = node.mode >> 6
    elif node.group in caller.groups:
        granted = node.mode >> 3
    else:
        granted = node.mode
    return granted & access == access


def _require(node: Node, caller: Caller, access: int) -> None:
    if not allows(node, caller, access):
        raise errors.PermissionDenied(
            f"permission denied: user={caller.user}, access={_access_name(access)}, "
            f'inode="{node.path}":{node.owner or "-"}:{node.group or "-"}:'
            f"{mode_string(node.is_dir, node.mode)}"
        )


def check(
    state: MasterState,
    path: str,
    caller: Caller,
    *,
    access: int = 0,
    parent: int = 0,
    ancestor: int = 0,
    subtree: int = 0,
) -> None:
    """Raises `PermissionDenied` unless `caller` may reach `path` (execute on every existing
    directory above it) and holds `access` on it, `parent` on its parent, `ancestor` on its
    deepest existing ancestor and `subtree` on every directory at or below it (each checked
    only where the node exists; a missing one is the operation's own error to report)."""
    if caller.superuser:
        return
    above = [state.nodes.get(p) for p in paths.ancestors(path)]
    existing = [n for n in above if n is not None]
    for node in existing:
        if node.is_dir:
            _require(node, caller, EXECUTE)
    if ancestor and existing:
        _require(existing[-1], caller, ancestor)
    if parent and above and above[-1] is not None:
        _require(above[-1], caller, parent)
    target = state.nodes.get(path)
    if target is None:
        return
    if access:
        _require(target, caller, access)
    if subtree and target.is_dir:
        for inner in state.subtree(path):
            if inner.is_dir:
                _require(inner, caller, subtree)


def check_owner(node: Node, caller: Caller) -> None:
    if not (caller.superuser or node.owner == caller.user):
        raise errors.PermissionDenied(
            f"permission denied: only the owner ({node.owner or '-'}) or a superuser may "
            f"change {node.path}"
        )


def check_chown(node: Node, caller: Caller, owner: str, group: str) -> None:
    """Giving a path away takes a superuser; its owner may change its group to one of theirs."""
    if caller.superuser:
        return
    if owner and owner != node.owner:
        raise errors.PermissionDenied(
            f"permission denied: only a superuser may change the owner of {node.path}"
        )
    check_owner(node, caller)
    if group and group != node.group and group not in caller.groups:
        raise errors.PermissionDenied(f"permission denied: {caller.user} is not in group {group!r}")
