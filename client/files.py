"""File objects over pygfs (`Client.open`), for code that expects `open()`'s: pandas, pyarrow,
shutil.copyfileobj, json.load.

A reader is seekable and buffered: it streams the file from a replica as `get` does, a chunk
at a time while the reads go on, and a small span after a seek, so sequential reads run at the
speed of `get` and a seek costs one small read; a replica that fails mid-stream is left for
the next where it stopped. It sees the file as it was when opened (its size then; GFS files
grow, by appends, and a reader opened earlier reads up to the length it was told, as HDFS's
visible length).

A writer streams whole chunks through the replica chains as `put` does, a few chunks at once,
and makes the file's new length known when it is closed (or flushed: then the bytes it holds
are written at once, and the next write goes on from there).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from common import errors

if TYPE_CHECKING:
    from client.client import Client
    from client.models import FileStat

FIRST_SPAN = 256 * 1024  # a read after a seek streams at least this much


class Reader(io.BufferedIOBase):
    def __init__(self, client: Client, stat: FileStat) -> None:
        self.client = client
        self.stat = stat
        self.name = stat.path
        self.mode = "rb"
        self.size = stat.size
        self._pos = 0
        self._held = memoryview(b"")  # bytes [_held_at, _held_at + len(_held)) of the file
        self._held_at = 0
        self._stream: Iterator[bytes] | None = None
        self._stream_at = 0  # where the stream's next piece starts
        self._stream_end = -1  # the first read is as small as after a seek

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}.get(whence)
        if base is None:
            raise ValueError(f"invalid whence: {whence}")
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        self._check_open()
        out = memoryview(buffer).cast("B")
        done = 0
        while done < len(out) and self._pos < self.size:
            within = self._pos - self._held_at
            if not 0 <= within < len(self._held):
                self._next_piece(len(out) - done)
                continue
            take = min(len(out) - done, len(self._held) - within)
            out[done : done + take] = self._held[within : within + take]
            done += take
            self._pos += take
        return done

    def readinto1(self, buffer: Any) -> int:
        return self.readinto(buffer)

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        left = max(0, self.size - self._pos)
        buffer = bytearray(left if size is None or size < 0 else min(size, left))
        got = self.readinto(buffer)
        return bytes(buffer) if got == len(buffer) else bytes(buffer[:got])

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def _next_piece(self, wanted: int) -> None:
        """The piece of the file at the position, from the stream reading on from there (a
        new one if the position moved, or the last one ended)."""
        if self._stream is None or self._stream_at != self._pos:
            self._open_stream(wanted)
        assert self._stream is not None
        piece = next(self._stream, None)
        if piece is None:  # this stream is done: the next goes on from here
            self._open_stream(wanted)
            piece = next(self._stream, b"")
            if not piece:
                raise errors.DataLoss(f"{self.name}: no bytes at offset {self._pos}")
        self._held, self._held_at = memoryview(piece), self._stream_at
        self._stream_at += len(piece)

    def _open_stream(self, wanted: int) -> None:
        """Streams from the position: after a seek, what was asked and at least FIRST_SPAN (a
        Parquet footer costs one small read); when the reads go on where the last stream
        ended, the rest of the chunk (starting a stream costs milliseconds: 16 MiB spans read
        at half the speed of whole chunks)."""
        self._drop_stream()
        chunk_size = self.stat.chunk_size
        index, within = divmod(self._pos, chunk_size)
        rest = min(chunk_size - within, self.size - self._pos)
        length = rest if self._pos == self._stream_end else min(rest, max(wanted, FIRST_SPAN))
        info = self.stat.chunks[index]
        self._stream = self.client.io.read_chunk(self.stat.path, info, within, length)
        self._stream_at, self._stream_end = self._pos, self._pos + length

    def _drop_stream(self) -> None:
        if self._stream is not None:
            close = getattr(self._stream, "close", None)
            if close is not None:
                close()  # the generator's call is cancelled with it
            self._stream = None

    def close(self) -> None:
        self._drop_stream()
        super().close()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")


class Writer(io.BufferedIOBase):
    """Writes from `start` on (0 for a new file, its size for an append)."""

    def __init__(self, client: Client, path: str, chunk_size: int, start: int, mode: str) -> None:
        self.client = client
        self.name = path
        self.mode = mode
        self.chunk_size = chunk_size
        self._pos = start  # where the held bytes go
        self._held: list[bytes] = []
        self._held_size = 0
        self._length = start  # the file's length as the master knows it
        self._pool = ThreadPoolExecutor(client.parallel_chunks, thread_name_prefix="write")
        self._pending: list[Future[bool]] = []

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos + self._held_size

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        piece = data if type(data) is bytes else bytes(memoryview(data).cast("B"))  # ours now
        self._held.append(piece)
        self._held_size += len(piece)
        # Send every piece that ends on a chunk boundary.
        room = self.chunk_size - self._pos % self.chunk_size
        while self._held_size >= room:
            held = b"".join(self._held)
            self._send(held[:room] if len(held) > room else held)
            rest = held[room:]
            self._held, self._held_size = ([rest] if rest else []), len(rest)
            room = self.chunk_size
        return len(piece)

    def _send(self, data: bytes) -> None:
        while len(self._pending) >= self.client.parallel_chunks:
            self._pending.pop(0).result()
        index, within = divmod(self._pos, self.chunk_size)
        write: Callable[..., bool] = self.client.io.write_chunk
        self._pending.append(self._pool.submit(write, self.name, index, within, data))
        self._pos += len(data)

    def flush(self) -> None:
        """Writes what is held and makes the new length known."""
        if self.closed:
            return
        if self._held:
            self._send(b"".join(self._held))
            self._held, self._held_size = [], 0
        for future in self._pending:
            future.result()
        self._pending.clear()
        if self._pos > self._length:
            self.client.extend(self.name, self._pos)
            self._length = self._pos

    def close(self) -> None:
        if self.closed:
            return
        try:
            self.flush()
        finally:
            self._pool.shutdown(wait=True)
            super().close()


def open_file(client: Client, path: str, mode: str) -> Reader | Writer:
    """The binary file object for `mode`: rb, wb (a new file, or an existing one replaced),
    xb (a new file only), ab (from the end of an existing or new file)."""
    if mode == "rb":
        stat = client.stat(path)
        if stat.is_dir:
            raise errors.IsADirectory(f"is a directory: {stat.path}")
        return Reader(client, stat)
    if mode not in ("wb", "xb", "ab"):
        raise ValueError(f"invalid mode: {mode!r} (rb, wb, xb or ab, or the same without b)")
    start = 0
    try:
        client.create(path)
    except errors.AlreadyExists:
        stat = client.stat(path)
        if mode == "xb" or stat.is_dir:
            raise
        if mode == "wb":  # a new file under the old name, as open() truncates
            client.rm(path, skip_trash=True)
            client.create(path)
        else:
            start = stat.size
    return Writer(client, client.stat(path).path, client.chunk_size_of(path), start, mode)
