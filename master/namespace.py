"""Planning of namespace operations: pure functions from the state to a `Mutation`.

Each function validates against the current state and raises a `common.errors.GfsError` for a
request that cannot be carried out; it changes nothing. The caller holds the path locks that
keep the checked state from changing until the mutation is applied.
"""

from __future__ import annotations

import heapq

from common import errors, paths
from common.modes import MODE_BITS
from master.permissions import (
    ALL,
    EXECUTE,
    READ,
    SUPERUSER,
    WRITE,
    Caller,
    check,
    check_chown,
    check_owner,
)
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

DIR_MODE = 0o755
FILE_MODE = 0o644


def lookup(state: MasterState, path: str) -> Node:
    node = state.nodes.get(path)
    if node is None:
        raise errors.NotFound(f"no such file or directory: {path}")
    return node


def no_chunk(path: str, index: int) -> errors.NotFound:
    return errors.NotFound(f"{path} has no chunk {index}")


def lookup_file(state: MasterState, path: str) -> Node:
    node = lookup(state, path)
    if node.is_dir:
        raise errors.IsADirectory(f"is a directory: {path}")
    return node


def require_parent_dir(state: MasterState, path: str) -> None:
    parent = state.nodes.get(paths.parent(path))
    if parent is None:
        raise errors.NotFound(f"parent directory does not exist: {paths.parent(path)}")
    if not parent.is_dir:
        raise errors.NotADirectory(f"not a directory: {parent.path}")


# Where deleted paths wait under hidden names until purged (see master.trash).
TRASH = "/.trash"


def require_not_reserved(path: str) -> None:
    """Only deletion puts names in the trash: a name made there by hand would be purged, or
    restored over a real path."""
    if paths.is_within(path, TRASH):
        raise errors.InvalidArgument(f"{TRASH} is reserved for deleted files: {path}")


def mkdir(
    state: MasterState, path: str, parents: bool, now: float, caller: Caller = SUPERUSER
) -> Mutation:
    """New directories belong to the caller and take the group of the directory they are made
    in (as HDFS, and BSD)."""
    require_not_reserved(path)
    check(state, path, caller)
    existing = state.nodes.get(path)
    if existing is not None:
        if parents and existing.is_dir:
            return Mutation("mkdir", {"path": path}, ())
        raise errors.AlreadyExists(f"already exists: {path}")
    check(state, path, caller, ancestor=WRITE | EXECUTE)
    changes: list[Change] = []
    group = state.nodes["/"].group
    if parents:
        for ancestor in paths.ancestors(path):
            node = state.nodes.get(ancestor)
            if node is None:
                new = Node(ancestor, True, now, now, DIR_MODE, caller.user, group)
                changes.append(PutNode(new))
            elif not node.is_dir:
                raise errors.NotADirectory(f"not a directory: {ancestor}")
            else:
                group = node.group
    else:
        require_parent_dir(state, path)
        group = state.nodes[paths.parent(path)].group
    changes.append(PutNode(Node(path, True, now, now, DIR_MODE, caller.user, group)))
    return Mutation("mkdir", {"path": path, "parents": parents}, tuple(changes))


def create(
    state: MasterState,
    path: str,
    now: float,
    caller: Caller = SUPERUSER,
    replication: int = 0,
    first_handle: int | None = None,
) -> Mutation:
    """A new empty file; `replication` 0: the cluster's default. With `first_handle`, the file
    is made with that chunk as its chunk 0, in the same mutation (a pooled chunk, whose
    replicas were made before: see master/chunkpool.py)."""
    require_not_reserved(path)
    _check_replication(replication, allow_default=True)
    check(state, path, caller, parent=WRITE | EXECUTE)
    if path in state.nodes:
        raise errors.AlreadyExists(f"already exists: {path}")
    require_parent_dir(state, path)
    group = state.nodes[paths.parent(path)].group
    node = Node(path, False, now, now, FILE_MODE, caller.user, group, replication=replication)
    args: dict[str, object] = {
        "path": path,
        **({"replication": replication} if replication else {}),
    }
    if first_handle is None:
        return Mutation("create", args, (PutNode(node),))
    handles = (first_handle,)
    changes = (*_new_chunks(handles, replication), PutNode(node._replace(chunks=handles)))
    return Mutation("create", {**args, "handles": list(handles)}, changes)


MAX_REPLICATION = 64


def _check_replication(replication: int, allow_default: bool = False) -> None:
    if not (allow_default and replication == 0) and not 1 <= replication <= MAX_REPLICATION:
        raise errors.InvalidArgument(
            f"replication must be between 1 and {MAX_REPLICATION}: {replication}"
        )


def set_replication(
    state: MasterState, path: str, replication: int, default: int, caller: Caller = SUPERUSER
) -> Mutation:
    """Sets the replication of the file `path`, or of every file under the directory `path`
    (as `hdfs dfs -setrep`; writing each file takes write on it). Each of their chunks is then
    kept at the highest replication of the files that hold it (a snapshot shares chunks; a
    file at 0 counts as the cluster's `default`)."""
    _check_replication(replication)
    check(state, path, caller)
    top = lookup(state, path)
    files = [n for n in state.subtree(path) if not n.is_dir] if top.is_dir else [top]
    for node in files:
        check(state, node.path, caller, access=WRITE)
    changed = {n.path: n._replace(replication=replication) for n in files}
    handles = {h for n in files for h in n.chunks}
    wanted: dict[int, int] = {}
    for node in state.nodes.values():  # every file holding one of those chunks
        level = changed.get(node.path, node).replication or default
        for handle in set(node.chunks) & handles:
            wanted[handle] = max(wanted.get(handle, 0), level)
    changes: list[Change] = [PutNode(n) for n in changed.values()]
    for handle, level in sorted(wanted.items()):
        chunk = state.chunks[handle]
        if chunk.replication != level:
            changes.append(PutChunk(chunk._replace(replication=level)))
    args = {"path": path, "replication": replication, "files": len(files)}
    return Mutation("set_replication", args, tuple(changes))


def chmod(state: MasterState, path: str, mode: int, caller: Caller = SUPERUSER) -> Mutation:
    if mode & ~MODE_BITS:
        raise errors.InvalidArgument(
            f"mode must be within 0o777 (no sticky or set-id bits): {mode:o}"
        )
    check(state, path, caller)
    node = lookup(state, path)
    check_owner(node, caller)
    changed = node._replace(mode=mode)
    return Mutation("chmod", {"path": path, "mode": mode}, (PutNode(changed),))


def chown(
    state: MasterState, path: str, owner: str, group: str, caller: Caller = SUPERUSER
) -> Mutation:
    """Sets the owner and/or the group (an empty one is left as it is)."""
    if not (owner or group):
        raise errors.InvalidArgument("chown needs an owner, a group or both")
    for name in (owner, group):
        if name and (len(name) > 64 or not name.isprintable() or ":" in name or " " in name):
            raise errors.InvalidArgument(f"not a usable user or group name: {name!r}")
    check(state, path, caller)
    node = lookup(state, path)
    check_chown(node, caller, owner, group)
    changed = node._replace(owner=owner or node.owner, group=group or node.group)
    return Mutation("chown", {"path": path, "owner": owner, "group": group}, (PutNode(changed),))


def check_read(state: MasterState, path: str, caller: Caller) -> None:
    """What reading a file's data (or learning where it lives) takes."""
    check(state, path, caller, access=READ)


def check_write(state: MasterState, path: str, caller: Caller) -> None:
    check(state, path, caller, access=WRITE)


def _release_chunks(state: MasterState, handles: list[int]) -> list[Change]:
    """Drops one reference from each chunk; a chunk with none left leaves the table (its
    replicas are reclaimed through heartbeat replies)."""
    counts: dict[int, int] = {}
    for handle in handles:
        counts[handle] = counts.get(handle, 0) + 1
    changes: list[Change] = []
    for handle, dropped in counts.items():
        chunk = state.chunks.get(handle)
        if chunk is None:
            continue
        if chunk.refcount <= dropped:
            changes.append(DeleteChunk(handle))
        else:
            changes.append(PutChunk(chunk._replace(refcount=chunk.refcount - dropped)))
    return changes


def check_delete(state: MasterState, path: str, caller: Caller) -> None:
    """Write on the parent; for a directory, everything on every directory inside it."""
    check(state, path, caller, parent=WRITE | EXECUTE, subtree=ALL)


def delete(state: MasterState, path: str, recursive: bool, caller: Caller = SUPERUSER) -> Mutation:
    if path == "/":
        raise errors.InvalidArgument("cannot delete the root directory")
    check_delete(state, path, caller)
    node = lookup(state, path)
    if node.is_dir and state.children.get(path) and not recursive:
        raise errors.DirectoryNotEmpty(f"directory not empty (use -r): {path}")
    doomed = state.subtree(path)
    handles = [h for n in doomed for h in n.chunks]
    changes: list[Change] = [DeleteNode(n.path) for n in reversed(doomed)]
    changes.extend(_release_chunks(state, handles))
    return Mutation("delete", {"path": path, "recursive": recursive}, tuple(changes))


# A rename (a move to or from the trash, a snapshot) rewrites a row for every entry it moves,
# all in one log entry: at most this many, so no one request writes an unbounded log entry.
MAX_MOVED = 100_000


def _subtree_within(state: MasterState, top: str, limit: int, what: str) -> list[Node]:
    moved = state.subtree(top)
    if len(moved) > limit:
        raise errors.ResourceExhausted(
            f"{what} {top} would rewrite {len(moved)} entries in one log entry; the master "
            f"allows {limit} (--max-moved); move its subdirectories one at a time"
        )
    return moved


def move_rows(state: MasterState, src: str, dst: str, now: float, limit: int) -> list[Change]:
    """The rows that move `src` and everything under it to `dst`."""
    moved = _subtree_within(state, src, limit, "moving")
    changes: list[Change] = [DeleteNode(n.path) for n in reversed(moved)]
    for n in moved:
        new_path = dst + n.path[len(src) :]
        mtime = now if n.path == src else n.mtime
        changes.append(PutNode(n._replace(path=new_path, mtime=mtime)))
    return changes


def rename(
    state: MasterState,
    src: str,
    dst: str,
    now: float,
    caller: Caller = SUPERUSER,
    limit: int = MAX_MOVED,
) -> Mutation:
    if src == "/":
        raise errors.InvalidArgument("cannot rename the root directory")
    require_not_reserved(dst)
    check(state, src, caller, parent=WRITE | EXECUTE)
    check(state, dst, caller, parent=WRITE | EXECUTE)
    lookup(state, src)
    if dst in state.nodes:
        raise errors.AlreadyExists(f"already exists: {dst}")
    if paths.is_within(dst, src):
        raise errors.InvalidArgument(f"cannot move {src} inside itself")
    require_parent_dir(state, dst)
    return Mutation(
        "rename", {"src": src, "dst": dst}, tuple(move_rows(state, src, dst, now, limit))
    )


# --- snapshots (GFS section 3.4): metadata now, data only when a shared chunk is written ----


def check_snapshot(state: MasterState, src: str, dst: str, caller: Caller) -> None:
    check(state, src, caller, access=READ, subtree=READ | EXECUTE)
    check(state, dst, caller, parent=WRITE | EXECUTE)


def snapshot(
    state: MasterState,
    src: str,
    dst: str,
    now: float,
    caller: Caller = SUPERUSER,
    limit: int = MAX_MOVED,
) -> Mutation:
    """`dst` becomes a copy of `src` (a file or a directory tree) sharing its chunks: each
    chunk's reference count goes up, and nothing is copied until one side writes to it. Reading
    all of `src` takes what a copy would; the copy belongs to the caller (a superuser's keeps
    its owners)."""
    require_not_reserved(dst)
    check_snapshot(state, src, dst, caller)
    lookup(state, src)
    if dst in state.nodes:
        raise errors.AlreadyExists(f"already exists: {dst}")
    if paths.is_within(dst, src):
        raise errors.InvalidArgument(f"cannot snapshot {src} inside itself")
    require_parent_dir(state, dst)
    copied = _subtree_within(state, src, limit, "copying")
    changes: list[Change] = [
        PutNode(
            n._replace(
                path=dst + n.path[len(src) :],
                ctime=now,
                mtime=now,
                owner=n.owner if caller.superuser else caller.user,
            )
        )
        for n in copied
    ]
    shared: dict[int, int] = {}
    for node in copied:
        for handle in node.chunks:
            shared[handle] = shared.get(handle, 0) + 1
    for handle, more in shared.items():
        chunk = state.chunks[handle]
        changes.append(PutChunk(chunk._replace(refcount=chunk.refcount + more)))
    return Mutation("snapshot", {"src": src, "dst": dst}, tuple(changes))


def split_chunk(
    state: MasterState, path: str, index: int, now: float, new: int | None = None
) -> Mutation:
    """Gives `path` its own copy (handle `new`, reserved by a caller that plans concurrently;
    default: the state's next handle; at the shared chunk's version) of the shared chunk at
    `index`."""
    if new is None:
        new = state.next_handle
    node = lookup_file(state, path)
    old = state.chunks[node.chunks[index]]
    chunks = (*node.chunks[:index], new, *node.chunks[index + 1 :])
    changes: list[Change] = [
        RaiseNextHandle(new + 1),
        PutChunk(Chunk(new, old.version, replication=node.replication)),
        PutChunk(old._replace(refcount=old.refcount - 1)),
        PutNode(node._replace(chunks=chunks, mtime=now)),
    ]
    return Mutation(
        "copy_on_write",
        {"path": path, "index": index, "from": old.handle, "to": new},
        tuple(changes),
    )


def extend(
    state: MasterState, path: str, length: int, now: float, caller: Caller = SUPERUSER
) -> Mutation:
    check_write(state, path, caller)
    node = lookup_file(state, path)
    if length <= node.size:
        return Mutation("extend", {"path": path, "length": length}, ())
    grown = node._replace(size=length, mtime=now)
    return Mutation("extend", {"path": path, "length": length}, (PutNode(grown),))


def extend_for_primary(
    state: MasterState,
    path: str,
    handle: int,
    primary: str,
    chunk_end: int,
    chunk_size: int,
    now: float,
) -> Mutation:
    """The primary of chunk `handle` extends file `path` to cover what it appended to the
    chunk, up to `chunk_end` within it: only the chunk's lease holder, for a chunk of the
    file, within the chunk (its appends were allowed by the client's write token; the file's
    permissions were checked when the client was given that token)."""
    node = lookup_file(state, path)
    chunk = state.chunks.get(handle)
    if chunk is None or handle not in node.chunks:
        raise errors.InvalidArgument(f"chunk {handle} is not a chunk of {path}")
    if not primary or chunk.lease_holder != primary:
        raise errors.PermissionDenied(f"{primary or 'the caller'} holds no lease on chunk {handle}")
    if not 0 < chunk_end <= chunk_size:
        raise errors.InvalidArgument(f"{chunk_end} is not within a chunk of {chunk_size} bytes")
    index = len(node.chunks) - 1 - node.chunks[::-1].index(handle)  # appends go near the end
    return extend(state, path, index * chunk_size + chunk_end, now)


def list_dir(
    state: MasterState, path: str, caller: Caller = SUPERUSER, limit: int | None = None
) -> list[Node]:
    """The entries of a directory in name order (the first `limit` of them), or the file
    itself."""
    found = state.nodes.get(path)
    check(state, path, caller, access=READ | EXECUTE if found is not None and found.is_dir else 0)
    node = lookup(state, path)
    if not node.is_dir:
        return [node]
    names = state.children.get(path, set())
    first = sorted(names) if limit is None else heapq.nsmallest(limit, names)
    return [state.nodes[p] for p in first]


# The version a new chunk's replicas are made at (see `add_chunks`).
NEW_VERSION = 2


def issue_handles(upto: int) -> Mutation:
    """Handles below `upto` are issued (the pool of new chunks makes replicas of them before
    any file has them): never given out again, across restarts too."""
    return Mutation("issue_handles", {"upto": upto}, (RaiseNextHandle(upto),))


def missing_chunks(state: MasterState, path: str, upto_index: int) -> int:
    """How many chunks file `path` lacks to have one at `upto_index`."""
    return max(0, upto_index + 1 - len(lookup_file(state, path).chunks))


def add_chunks(
    state: MasterState, path: str, upto_index: int, now: float, first_handle: int | None = None
) -> Mutation:
    """Adds the missing chunks of a file up to and including `upto_index` (a write past the
    end leaves a hole of zeros), numbered from `first_handle` on (reserved by a caller that
    plans concurrently; default: the state's next handle). A chunk starts at version 2 with
    floor 1: its replicas are created at 2, and its first lease may be granted at 2 with no
    bump (see Leasing.ensure); until then it was never written (`never_written`)."""
    if first_handle is None:
        first_handle = state.next_handle
    node = lookup_file(state, path)
    missing = upto_index + 1 - len(node.chunks)
    if missing <= 0:
        return Mutation("add_chunks", {"path": path, "index": upto_index}, ())
    handles = tuple(range(first_handle, first_handle + missing))
    changes = (
        *_new_chunks(handles, node.replication),
        PutNode(node._replace(chunks=node.chunks + handles, mtime=now)),
    )
    return Mutation("add_chunks", {"path": path, "handles": list(handles)}, changes)


def _new_chunks(handles: tuple[int, ...], replication: int) -> list[Change]:
    """New chunks: a chunk starts at version 2 with floor 1 (see `add_chunks`)."""
    changes: list[Change] = [RaiseNextHandle(handles[-1] + 1)]
    changes.extend(
        PutChunk(Chunk(h, NEW_VERSION, floor=1, issued=NEW_VERSION, replication=replication))
        for h in handles
    )
    return changes
