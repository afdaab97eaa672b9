"""The image: the master's whole state in one file (`master.image` beside the store), read at
start instead of the store's tables, then the log entries after it replayed (GFS's checkpoint
"in a compact form that can be directly mapped into memory"; HDFS's fsimage).

The tables stay the truth; the image is only a faster way to reach it. SQLite hands a million
rows to Python at ~3 s, and building the objects from them took as long again; the image is
marshal's form of the objects themselves, grouped by directory, so loading is one
`marshal.loads` and a tuple made into a Node or Chunk without a call per field.

An image is used only if the store names it (its random token and log entry are in the store's
`meta`, written after the file is durable), it is whole (CRC-32 of its body), and the log still
holds every entry after it. Anything else, a restored store's copy, a torn file, a checkpoint
installed since, entries compacted away, falls back to the tables with one warning line.

A new image is written in the background once the log has moved `image_every` entries past the
last, or compaction passed it (a million files: ~4 s of one thread; the state is held still
only while its dicts are copied, ~0.2 s).
"""

from __future__ import annotations

import logging
import marshal
import secrets
import sqlite3
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import compress, repeat
from pathlib import Path
from typing import Any, TypeVar

from common import memory, paths
from common.durable import replace_file
from master import storecheck
from master.rows import LogEntry
from master.state import Chunk, MasterState, Node
from master.store import Store

log = logging.getLogger(__name__)

NAME = "master.image"
MAGIC = b"PYGFSIMG"
# Bumped whenever Node or Chunk gains, loses or reorders a field: an image of another format
# is not read (the tables are).
FORMAT = 1
# magic, format, token, log entry, next handle, body length, CRC-32 of the body
_HEADER = struct.Struct(">8sIQQQQI")
_made = tuple.__new__  # a named tuple from a plain one, without a call per field
_Row = TypeVar("_Row", Node, Chunk)


class ImageUnusable(Exception):
    """Why an image was not used (the tables were)."""


@dataclass(frozen=True)
class Cut:
    """The state as of log entry `seq`, exactly: every entry up to it applied, none after."""

    seq: int
    nodes: dict[str, Node]
    chunks: dict[int, Chunk]
    next_handle: int


def path_of(store: Store) -> Path:
    return store.path.with_name(NAME)


def encode(cut: Cut, token: int) -> tuple[bytes, bytes]:
    """(header, body) of the image of `cut`."""
    blocks: dict[str, list[Node]] = {}
    for path, node in cut.nodes.items():
        parent = paths.parent(path) if path != "/" else ""  # the root is under no one
        blocks.setdefault(parent, []).append(node)
    body = marshal.dumps(
        (
            [(parent, _columns(nodes, Node._fields)) for parent, nodes in blocks.items()],
            _columns(list(cut.chunks.values()), Chunk._fields),
        )
    )
    header = _HEADER.pack(
        MAGIC, FORMAT, token, cut.seq, cut.next_handle, len(body), zlib.crc32(body)
    )
    return header, body


def decode(data: bytes, token: int, seq: int) -> MasterState:
    """The state an image holds; ImageUnusable if it is not the one named (`token`, `seq`),
    not whole or not of this format."""
    if len(data) < _HEADER.size:
        raise ImageUnusable("shorter than its header")
    magic, form, found, at, next_handle, length, crc = _HEADER.unpack_from(data)
    if magic != MAGIC or form != FORMAT:
        raise ImageUnusable(f"not an image of format {FORMAT}")
    if (found, at) != (token, seq):
        raise ImageUnusable(f"of entry {at}, not the one the store names ({seq})")
    body = memoryview(data)[_HEADER.size :]
    if len(body) != length or zlib.crc32(body) != crc:
        raise ImageUnusable("damaged (its length or checksum does not match)")
    try:
        blocks, chunk_columns = marshal.loads(body)
        nodes: dict[str, Node] = {}
        children: dict[str, set[str]] = {}
        for parent, columns in blocks:
            names = columns[0]
            nodes.update(zip(names, _rows(Node, columns), strict=True))
            if parent:
                children[parent] = set(names)
            for directory in compress(names, columns[1]):  # is_dir
                children.setdefault(directory, set())
        chunks = dict(zip(chunk_columns[0], _rows(Chunk, chunk_columns), strict=True))
    except (ValueError, TypeError, EOFError, IndexError) as err:
        raise ImageUnusable(f"unreadable ({err})") from None
    return MasterState(nodes, children, chunks, next_handle)


def _columns(rows: list[Any], fields: tuple[str, ...]) -> tuple[tuple[Any, ...], ...]:
    """Named tuples as one tuple a field: read back, each row is made straight from them."""
    return tuple(zip(*rows, strict=True)) if rows else tuple(() for _ in fields)


def _rows(kind: type[_Row], columns: tuple[tuple[Any, ...], ...]) -> list[_Row]:
    """The named tuples `columns` hold. Made from zip's one reused tuple, with no row tuple
    in between: a million of those, freed among the values kept, held ~200 MiB of the heap."""
    if len(columns) != len(kind._fields):
        raise ImageUnusable(f"rows of {len(columns)} fields, not a {kind.__name__}")
    return list(map(_made, repeat(kind), zip(*columns, strict=True)))


def load_state(store: Store) -> MasterState:
    """The store's state: from its image and the log after it when it can be, else from the
    tables (StoreDamaged if those are broken)."""
    try:
        with memory.built_to_last():
            state = _from_image(store)
        memory.give_back()  # the columns it was read from (~100 MiB at a million files)
        return state
    except ImageUnusable as err:
        if store.image is not None:
            log.warning("image %s not used, reading the tables instead: %s", path_of(store), err)
    return store.load()


def _from_image(store: Store) -> MasterState:
    if store.image is None:
        raise ImageUnusable("none written")
    token, seq = store.image
    oldest, newest = store.log_bounds()
    if seq > newest or (seq < newest and oldest > seq + 1):
        raise ImageUnusable(f"of entry {seq}, but the log holds {oldest}..{newest}")
    try:
        data = path_of(store).read_bytes()
    except OSError as err:
        raise ImageUnusable(str(err)) from None
    state = decode(data, token, seq)
    del data
    try:
        for entries in _log_after(store, seq):
            for entry in entries:
                state.apply(entry.mutation())
    except (sqlite3.DatabaseError, ValueError, KeyError, TypeError) as err:
        raise ImageUnusable(f"the log after it is unreadable ({err})") from None
    problem = storecheck.state_problem(state)
    if problem is not None:
        raise ImageUnusable(problem)
    store.checked()  # SQLite's check of the file, which ran meanwhile
    return state


def _log_after(store: Store, seq: int) -> Iterator[list[LogEntry]]:
    while entries := store.read_log(seq, 1000):
        yield entries
        seq = entries[-1].seq


class ImageWriter:
    """Writes a new image when the log has moved `every` entries past the last one, in its own
    thread (one at a time). `cut` is how the state is held still (Metadata.cut)."""

    def __init__(self, store: Store, cut: Callable[[], Cut], every: int) -> None:
        self.store, self.cut, self.every = store, cut, every
        self._writing = threading.Lock()

    def due(self) -> bool:
        """The log moved `every` entries past the image, or compaction dropped entries after
        it (the next start could not use it)."""
        written = self.store.image[1] if self.store.image else 0
        if self.store.last_seq - written >= self.every:
            return True
        return self.store.image is not None and self.store.log_bounds()[0] > written + 1

    def tick(self) -> None:
        """Starts writing an image if one is due and none is being written."""
        if self.every > 0 and self.due() and not self._writing.locked():
            threading.Thread(target=self._write_quietly, name="image-writer", daemon=True).start()

    def _write_quietly(self) -> None:
        try:
            self.write()
        except (OSError, sqlite3.Error) as err:  # a full disk, a store closed meanwhile
            log.warning("image not written (the last one stands): %s", err)

    def write(self) -> Cut | None:
        """Writes an image of the state now; the cut it wrote, or None if one was being written."""
        if not self._writing.acquire(blocking=False):
            return None
        try:
            began = time.monotonic()
            cut = self.cut()
            token = secrets.randbits(63)
            replace_file(path_of(self.store), encode(cut, token))
            self.store.note_image(token, cut.seq)
            log.info(
                "image written as of entry %d (%d paths, %d chunks) in %.1fs",
                cut.seq,
                len(cut.nodes),
                len(cut.chunks),
                time.monotonic() - began,
            )
            return cut
        finally:
            self._writing.release()
