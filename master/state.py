"""The master's durable state and the changes that move it.

Every mutation is planned as a `Mutation`: the operation's name and arguments (for the op log)
plus the rows it replaces (`changes`). The store writes the log entry and the rows in one
transaction; only then does `MasterState.apply` make them visible in memory. Applying rows
rather than re-running operations keeps the store, the in-memory state and any follower of the
log trivially in agreement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from common import paths

# Node and Chunk are named tuples, not frozen dataclasses: as immutable, but a frozen
# dataclass's __init__ sets each field through object.__setattr__, which made building a
# million of them (a master's start) take 2.8 s rather than 0.4, and `dataclasses.replace`
# (every planned change) five times the cost of `_replace`.


class Node(NamedTuple):
    """A file or directory. Files hold their chunk handles in order."""

    path: str
    is_dir: bool
    ctime: float
    mtime: float
    mode: int
    owner: str = ""
    group: str = ""
    size: int = 0
    chunks: tuple[int, ...] = ()
    # A file's replication (gfs setrep, put --replication); 0: the cluster's default.
    replication: int = 0


class Chunk(NamedTuple):
    """A chunk's version, reference count and lease (holder and expiry, wall-clock seconds)."""

    handle: int
    version: int
    refcount: int = 1
    lease_holder: str = ""
    lease_expiry: float = 0.0
    # Set when the newest version bump(s) reached no replica: nothing can have been written
    # under a version no replica took, so replicas from this version up are current too (they
    # are told the newest). 0: only `version` is current.
    floor: int = 0
    # The highest version the master ever logged for this chunk (0: `version`): a replica
    # claiming more is believed by nobody (a restored or rolled-back log may be behind
    # `issued`; a replica's word alone never raises it).
    issued: int = 0
    # The replicas repair keeps: the highest replication of the files holding the chunk (a
    # snapshot shares chunks); 0: the cluster's default.
    replication: int = 0

    def target(self, default: int) -> int:
        """The live replicas repair keeps of this chunk (`default`: the cluster's)."""
        return self.replication or default

    def lease_valid(self, now: float) -> bool:
        return bool(self.lease_holder) and now < self.lease_expiry

    @property
    def highest_issued(self) -> int:
        return max(self.issued, self.version)

    def current(self, version: int) -> bool:
        """Whether a replica at `version` (not above the chunk's) missed no mutation."""
        return version == self.version or 0 < self.floor <= version

    @property
    def never_written(self) -> bool:
        """No lease was ever granted on it, so it holds nothing: all its replicas are empty, and
        making new ones loses nothing. A chunk is made at version 2 with floor 1 (version 1 in
        stores made before that), every grant but a new chunk's first raises the version, and
        every grant clears the floor; a copy-on-write keeps its source's version, floor unset."""
        return (self.floor or self.version) == 1


@dataclass(frozen=True)
class PutNode:
    node: Node


@dataclass(frozen=True)
class DeleteNode:
    path: str


@dataclass(frozen=True)
class PutChunk:
    chunk: Chunk


@dataclass(frozen=True)
class DeleteChunk:
    handle: int


@dataclass(frozen=True)
class RaiseNextHandle:
    """The next handle to issue is at least `value` (applied as a maximum, so concurrent
    allocations that commit out of order never move it backwards)."""

    value: int


Change = PutNode | DeleteNode | PutChunk | DeleteChunk | RaiseNextHandle


@dataclass(frozen=True)
class Mutation:
    op: str
    args: dict[str, object]
    changes: tuple[Change, ...]


def put_chunk(op: str, chunk: Chunk, **args: object) -> Mutation:
    """A mutation that rewrites one chunk's row (logged with its handle and `args`)."""
    return Mutation(op, {"handle": chunk.handle, **args}, (PutChunk(chunk),))


ROOT_MODE = 0o755
ROOT_GROUP = "supergroup"  # the root belongs to no user; superusers pass every check anyway


@dataclass
class MasterState:
    """Namespace and chunk table in memory. `children` is derived from `nodes`."""

    nodes: dict[str, Node] = field(default_factory=dict)
    children: dict[str, set[str]] = field(default_factory=dict)
    chunks: dict[int, Chunk] = field(default_factory=dict)
    next_handle: int = 1

    def __post_init__(self) -> None:
        if "/" not in self.nodes:
            self.put(Node("/", True, 0.0, 0.0, ROOT_MODE, group=ROOT_GROUP))

    def apply(self, mutation: Mutation) -> None:
        for change in mutation.changes:
            self.apply_change(change)

    def apply_change(self, change: Change) -> None:
        match change:
            case PutNode(node):
                self.put(node)
            case DeleteNode(path):
                self.nodes.pop(path, None)
                self.children.pop(path, None)
                self.children.get(paths.parent(path), set()).discard(path)
            case PutChunk(chunk):
                self.chunks[chunk.handle] = chunk
            case DeleteChunk(handle):
                self.chunks.pop(handle, None)
            case RaiseNextHandle(value):
                self.next_handle = max(self.next_handle, value)

    def put(self, node: Node) -> None:
        self.nodes[node.path] = node
        if node.is_dir:
            self.children.setdefault(node.path, set())
        if node.path != "/":
            self.children.setdefault(paths.parent(node.path), set()).add(node.path)

    def subtree(self, top: str) -> list[Node]:
        """`top` and everything below it, parents before children."""
        out: list[Node] = []
        stack = [top]
        while stack:
            path = stack.pop()
            out.append(self.nodes[path])
            stack.extend(sorted(self.children.get(path, ()), reverse=True))
        return out
