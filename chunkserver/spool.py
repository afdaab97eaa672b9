"""Pushed data waiting for its write, spooled to files as it arrives (time passed in).

Writing each piece to disk as it comes overlaps the disk with the network, as a bare pipelined
chain does, and the CRC of every complete 64 KiB block is computed on the way: a write that
covers a whole replica then just renames the spool file into place (see ChunkStore.install).
Spool files live beside the chunk files, on the same file system, so a rename is enough.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from dataclasses import dataclass, field
from pathlib import Path

from chunkserver.checksum import BlockCrcs
from chunkserver.writeback import start_writeback
from common import errors

# Start write-back of a spool file every this many bytes (see chunkserver.writeback).
WRITEBACK_STEP = 8 * 1024 * 1024


@dataclass(frozen=True)
class Pushed:
    path: Path
    size: int
    crcs: tuple[int, ...]  # of the blocks of the data as if written at offset 0


class SpoolWriter:
    """Receives one push: appends pieces to its file and checksums complete blocks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = open(path, "wb")  # noqa: SIM115 - closed by finish/abort
        self.size = 0
        self._crcs = BlockCrcs()
        self._written_back = 0

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.size += len(data)
        if self.size - self._written_back >= WRITEBACK_STEP:
            self.file.flush()
            start_writeback(self.file.fileno(), self._written_back, self.size - self._written_back)
            self._written_back = self.size
        self._crcs.add(data)

    def finish(self) -> Pushed:
        self.file.close()
        return Pushed(self.path, self.size, tuple(self._crcs.total()))

    def abort(self) -> None:
        """Drops the push's file, even when closing it fails (buffered bytes that a full disk
        cannot take: the very failure that usually brings an abort)."""
        with contextlib.suppress(OSError):
            self.file.close()
        self.path.unlink(missing_ok=True)


@dataclass
class Spool:
    """Pushes held until their write comes (or `ttl` passes): at most `limit` bytes in all,
    and `per_owner` of them for one user (a named owner: a secure cluster's token user), so
    one client's pushes that are never written cannot keep everyone else's out."""

    directory: Path
    ttl: float
    limit: int
    per_owner: int = 0  # 0: no share per owner
    _items: dict[str, tuple[Pushed, float, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    held: int = 0
    _held_by: collections.Counter[str] = field(default_factory=collections.Counter)

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for leftover in self.directory.iterdir():  # pushes of a previous run: never acknowledged
            leftover.unlink()

    def open(self, data_id: str, now: float, expected: int, owner: str = "") -> SpoolWriter:
        """A writer for a new push; fails if `expected` more bytes would pass the limit, or if
        `owner` holds a full share already."""
        if not data_id or "/" in data_id or data_id.startswith("."):
            raise errors.InvalidArgument(f"malformed data id {data_id!r}")
        with self._lock:
            self._expire(now)
            if self.held + expected > self.limit:
                raise errors.ResourceExhausted(
                    f"push spool full ({self.held} of {self.limit} bytes held); try again"
                )
            mine = self._held_by[owner]
            if owner and self.per_owner and mine >= self.per_owner:
                raise errors.ResourceExhausted(
                    f"{owner!r} holds {mine} bytes of pushed data not yet written here, of "
                    f"{self.per_owner} allowed; write or let it expire first"
                )
        return SpoolWriter(self.directory / f"{data_id}.{threading.get_ident()}.spool")

    def add(self, data_id: str, pushed: Pushed, now: float, owner: str = "") -> None:
        with self._lock:
            self._expire(now)
            self._remove(data_id)
            self._items[data_id] = (pushed, now, owner)
            self.held += pushed.size
            self._held_by[owner] += pushed.size

    def get(self, data_id: str) -> Pushed:
        with self._lock:
            item = self._items.get(data_id)
        if item is None:
            raise errors.Aborted(f"no pushed data with id {data_id}; push it again")
        return item[0]

    def forget(self, data_id: str) -> None:
        """The spool file was moved away (installed as a replica): only forget it."""
        with self._lock:
            item = self._items.pop(data_id, None)
            if item is not None:
                self._release(item[0].size, item[2])

    def drop(self, data_id: str) -> None:
        with self._lock:
            self._remove(data_id)

    def _remove(self, data_id: str) -> None:
        item = self._items.pop(data_id, None)
        if item is not None:
            self._release(item[0].size, item[2])
            item[0].path.unlink(missing_ok=True)

    def _release(self, size: int, owner: str) -> None:
        self.held -= size
        self._held_by[owner] -= size
        if not self._held_by[owner]:
            del self._held_by[owner]

    def _expire(self, now: float) -> None:
        for data_id, (_, at, _) in list(self._items.items()):
            if now - at >= self.ttl:
                self._remove(data_id)
