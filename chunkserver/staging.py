"""Pushed data placed in its chunk file, past the replica's end, while it arrives.

A write or record append at a replica's end (a writer extending its file, an appender) puts its
bytes where the replica's next bytes go. Placing them there as the push streams in, with
write-back started on the way, lets the disk take them during the network transfer: applying
the mutation is then an `fdatasync` with little left to do and the metadata, instead of a second
copy of every byte, written and synced under the chunk's lock while the other replicas queue on
the disk too. Bytes past a replica's recorded length are ignored (ChunkStore's invariant), so a
staged push that is never applied, or a crash halfway, claims nothing. The spool keeps its own
copy: the mutation falls back to it when the staging did not hold (another mutation reached the
chunk first, a full disk).
"""

from __future__ import annotations

import os
import threading

from chunkserver.checksum import BlockCrcs
from chunkserver.writeback import start_writeback

# Start write-back of the placed bytes every this many: the disk keeps pace with the link.
WRITEBACK_STEP = 256 * 1024
# A complete staging whose mutation has not come after this long (seconds) gives way to a new
# push (its writer is gone, or retried under another data id).
STALE_AFTER = 10.0


class Staging:
    """One push being placed from `offset` on in chunk `handle`'s file (the replica's end when
    it began; `head` is what the replica holds of the block that offset is in). Lives until the
    chunk's next mutation: its own (ChunkStore.commit_staged) or any other, which closes it
    under the chunk's lock before touching the file."""

    def __init__(
        self, handle: int, data_id: str, fd: int, offset: int, head: bytes, limit: int, now: float
    ) -> None:
        self.handle, self.data_id, self.offset = handle, data_id, offset
        self.size = 0
        self.crcs = BlockCrcs(head)
        self.began = now
        self.complete = False
        self._fd = fd
        self._limit = limit  # the chunk size: nothing is placed past it
        self._live = True  # pieces land; False once closed or failed
        self._touched = False  # a piece was (perhaps partly) written to the file
        self._lock = threading.Lock()
        self._written_back = 0
        self._synced = threading.Event()  # set when the sync `finish` started is done
        self._sync_error: OSError | None = None

    def write(self, data: bytes) -> None:
        """Places the next piece; a piece that cannot be placed (full disk, past the chunk's
        end) ends the staging, not the push."""
        with self._lock:
            if not self._live:
                return
            at = self.offset + self.size
            self._touched = True
            try:
                fits = at + len(data) <= self._limit
                placed = fits and os.pwrite(self._fd, data, at) == len(data)
            except OSError:
                placed = False
            if not placed:
                self._live = False
                return
            self.size += len(data)
            self.crcs.add(data)
            if self.size - self._written_back >= WRITEBACK_STEP:
                self._start_writeback()

    def finish(self, size: int) -> None:
        """The push ended with `size` bytes: complete if every one of them was placed. Their
        sync starts at once, off the push's path: the chain's later servers are still receiving
        and the mutation's request is on its way meanwhile."""
        with self._lock:
            self.complete = self._live and size == self.size
            if self.complete:
                try:
                    fd = os.dup(self._fd)
                except OSError:
                    self.complete = False
                    return
                threading.Thread(target=self._sync_placed, args=(fd,), daemon=True).start()

    def _sync_placed(self, fd: int) -> None:
        try:
            os.fdatasync(fd)
        except OSError as err:
            self._sync_error = err
        finally:
            os.close(fd)
            self._synced.set()

    def _start_writeback(self) -> None:
        start_writeback(self._fd, self.offset + self._written_back, self.size - self._written_back)
        self._written_back = self.size

    def holds(self, data_id: str, offset: int, size: int) -> bool:
        """Whether this is push `data_id` placed whole at `offset`."""
        with self._lock:
            placed = self._live and self.complete
            return placed and (data_id, offset, size) == (self.data_id, self.offset, self.size)

    def stale(self, now: float) -> bool:
        with self._lock:
            return not self._live or (self.complete and now - self.began >= STALE_AFTER)

    def sync(self) -> None:
        """Waits until the placed bytes of a complete staging are durable (raises OSError if the
        disk could not make them so), and closes."""
        self._synced.wait()
        with self._lock:
            self._close()
        if self._sync_error is not None:
            raise self._sync_error

    def close(self) -> bool:
        """Stops placing pieces; returns whether any were written (bytes past the replica's end,
        for the caller to trim)."""
        with self._lock:
            self._close()
            return self._touched

    def _close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._live = False
