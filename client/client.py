"""The pygfs client library.

    with Client("127.0.0.1:9000") as gfs:
        gfs.put(open("big.bin", "rb"), "/data/big.bin")
        gfs.get("/data/big.bin", open("copy.bin", "wb"))

Metadata comes from the master; data moves directly between the client and chunkservers. A write
pushes its bytes along the chain of replicas, then asks the primary to apply them; a read goes to
the nearest replica and fails over to the next on an error or a checksum mismatch.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any, BinaryIO

from client import files, globs, records
from client.admin import Administration
from client.chunkio import ChunkIO, Progress
from client.locations import LocationCache
from client.models import (
    ChunkInfo,
    Entry,
    FileStat,
)
from client.replicas import Replicas
from common import errors, limits, paths, transport
from common.grouping import Groups
from common.masters import MasterList
from common.tls import TlsFiles
from protos import master_pb2

log = logging.getLogger(__name__)

# How long a batched call (stats, creates) waits for this client's other threads that were
# answered together last time (common.grouping): they come back within a fraction of a
# millisecond and go in one call with it, where without it they went as a call of one and a
# call of the rest.
BATCH_LINGER = 0.001


class Client(Administration):
    def __init__(
        self,
        master: str = "127.0.0.1:9000",
        *,
        shadows: list[str] | None = None,
        timeout: float = 30.0,
        piece_size: int = 0,
        parallel_chunks: int = 2,
        cache_seconds: float = 30.0,
        tls: TlsFiles | None = None,
        encrypted_reads: bool = False,
    ) -> None:
        """`tls`: this user's certificate, for a secure cluster (mutual TLS). On such a
        cluster, chunkservers started with --plain-reads serve reads in clear, each proved by
        its chunk token (HDFS's data transfer without encryption); `encrypted_reads` reads
        over TLS from them too."""
        self.masters = MasterList(master)  # "A,B,C": master replicas, one of them active
        self.shadows = list(shadows or [])
        self.timeout = timeout
        self.parallel_chunks = max(1, parallel_chunks)
        self.channels = transport.Channels(tls)
        self.replicas = Replicas(self.masters, self.channels)
        self.cache = LocationCache(cache_seconds)
        self.io = ChunkIO(
            self.channels,
            self.cache,
            lambda path, index, for_write: self._locate(path, index, for_write),
            timeout,
            piece_size,
            encrypted_reads,
        )
        self._chunk_size: int | None = None
        self._append_at: dict[str, int] = {}  # the chunk an append to a file starts at
        self._stats: Groups[str, str, FileStat] = Groups(
            lambda _, asked: self._stat_many(asked), linger=BATCH_LINGER
        )
        self._creates: Groups[str, tuple[str, int], None] = Groups(
            lambda _, asked: self._create_many(asked), linger=BATCH_LINGER
        )

    @property
    def master_address(self) -> str:
        """The master (of several replicas, the one taken for active)."""
        return self.masters.current

    def close(self) -> None:
        self.channels.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- master calls -------------------------------------------------------------------------

    def _master(self, method: str, request: Any, read_only: bool = False) -> Any:
        """Calls the master; a read while it is down goes to the shadows, in order."""
        if len(self.masters) > 1:
            return self.replicas.call(method, request, read_only=read_only, timeout=self.timeout)
        stub = self.channels.master(self.master_address)
        target = f"master {self.master_address}"
        try:
            return transport.retry(
                lambda: transport.call(
                    getattr(stub, method), request, target=target, timeout=self.timeout
                ),
                attempts=3,
                retry_on=(errors.Unavailable,),
            )
        except errors.Unavailable as down:
            if not read_only or not self.shadows:
                raise
            for shadow in self.shadows:
                try:
                    reply = transport.call(
                        getattr(self.channels.master(shadow), method),
                        request,
                        target=f"shadow {shadow}",
                        timeout=self.timeout,
                    )
                    log.info("master down: %s answered by shadow %s", method, shadow)
                    return reply
                except errors.Unavailable:
                    continue
            raise errors.Unavailable(f"{down}; no shadow answered either") from None

    def mkdir(self, path: str, parents: bool = False) -> None:
        self._master("Mkdir", master_pb2.MkdirRequest(path=paths.normalize(path), parents=parents))

    def create(self, path: str, replication: int = 0) -> None:
        """A new empty file; `replication` 0: the cluster's default. The creates this client's
        threads ask at the same time go to the master in one call, and one commit there."""
        self._creates.submit("", (paths.normalize(path), replication))

    def _create_many(self, asked: list[tuple[str, int]]) -> list[BaseException | None]:
        outcomes: list[BaseException | None] = []
        for start in range(0, len(asked), limits.MAX_BATCH):
            batch = asked[start : start + limits.MAX_BATCH]
            files = [master_pb2.CreateRequest(path=p, replication=r) for p, r in batch]
            try:
                reply = self._master("CreateMany", master_pb2.CreateManyRequest(files=files))
                if len(reply.outcomes) != len(batch):
                    raise errors.GfsError(
                        f"the master answered {len(reply.outcomes)} of {len(batch)} creates"
                    )
            except errors.GfsError as err:  # the batches before it were answered
                return outcomes + [err] * (len(asked) - len(outcomes))
            self._chunk_size = reply.chunk_size or self._chunk_size
            for outcome in reply.outcomes:
                outcomes.append(
                    transport.named(outcome.kinds, outcome.error) if outcome.error else None
                )
        return outcomes

    def _create(self, path: str, replication: int, first_chunk: bool) -> None:
        """Creates the file; with `first_chunk`, the master adds its chunk 0 leased for
        writing too, and its location is cached for the write that follows."""
        request = master_pb2.CreateRequest(
            path=path, replication=replication, first_chunk=first_chunk
        )
        reply = self._master("Create", request)
        if reply.chunk_size:
            self._chunk_size = reply.chunk_size
        if reply.HasField("first_chunk"):
            info = dataclasses.replace(ChunkInfo.of(reply.first_chunk), writable=True)
            self.cache.put(path, info, time.monotonic())

    def setrep(self, path: str, replication: int) -> int:
        """Sets the replication of a file, or of every file under a directory; returns how
        many files. The master copies or trims their chunks in the background (`wait_replicated`
        waits for it)."""
        path = paths.normalize(path)
        request = master_pb2.SetReplicationRequest(path=path, replication=replication)
        files = int(self._master("SetReplication", request).files)
        self.cache.forget(path)
        return files

    def wait_replicated(self, path: str, timeout: float = 600.0, poll: float = 0.5) -> None:
        """Waits until every chunk of the file, or of every file under the directory, has
        exactly its file's replication of live replicas; Unavailable after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            short = [
                f"{stat.path} chunk {c.index}: {len(c.replicas)} of {stat.replication}"
                for stat in self.file_stats(path)
                for c in stat.chunks
                if len(c.replicas) != stat.replication
            ]
            if not short:
                return
            if time.monotonic() > deadline:
                raise errors.Unavailable(f"not replicated within {timeout:.0f}s: {short[0]}")
            time.sleep(poll)

    def file_stats(self, path: str) -> Iterator[FileStat]:
        """The stat of the file `path`, or of every file under the directory, in name order."""
        stat = self.stat(path)
        if not stat.is_dir:
            yield stat
            return
        for entry in self.ls(path):
            yield from self.file_stats(entry.path)

    def rm(self, path: str, recursive: bool = False, skip_trash: bool = False) -> None:
        """Deletes `path`: into the trash (restorable with `undelete` until the master's grace
        period ends), or for good with `skip_trash`."""
        path = paths.normalize(path)
        request = master_pb2.DeleteRequest(path=path, recursive=recursive, skip_trash=skip_trash)
        self._master("Delete", request)
        self.cache.forget(path)

    def undelete(self, path: str) -> None:
        self._master("Undelete", master_pb2.UndeleteRequest(path=paths.normalize(path)))

    def mv(self, src: str, dst: str) -> None:
        src, dst = paths.normalize(src), paths.normalize(dst)
        self._master("Rename", master_pb2.RenameRequest(src=src, dst=dst))
        self.cache.forget(src)

    def snapshot(self, src: str, dst: str) -> None:
        """Copies a file or directory in an instant: chunks are shared until written."""
        src, dst = paths.normalize(src), paths.normalize(dst)
        self._master("Snapshot", master_pb2.RenameRequest(src=src, dst=dst))
        self.cache.forget(src)

    def chmod(self, path: str, mode: int) -> None:
        """Sets the permission bits (0o000 to 0o777) of a path: its owner or a superuser may."""
        self._master("Chmod", master_pb2.ChmodRequest(path=paths.normalize(path), mode=mode))

    def chown(self, path: str, owner: str = "", group: str = "") -> None:
        """Gives a path to `owner` (a superuser may) and/or to `group` (its owner may, for a
        group of their own); an empty one is left as it is."""
        request = master_pb2.ChownRequest(path=paths.normalize(path), owner=owner, group=group)
        self._master("Chown", request)

    def ls(self, path: str) -> list[Entry]:
        request = master_pb2.ListRequest(path=paths.normalize(path))
        reply = self._master("List", request, read_only=True)
        return [Entry.of(e) for e in reply.entries]

    def stat(self, path: str) -> FileStat:
        """The file's or directory's entry and, for a file, where its chunks are. The stats
        this client's threads ask at the same time go to the master in one call."""
        return self._stats.submit("", paths.normalize(path))

    def _stat_many(self, asked: list[str]) -> list[FileStat | BaseException]:
        answers: list[FileStat | BaseException] = []
        while len(answers) < len(asked):
            batch = asked[len(answers) : len(answers) + limits.MAX_BATCH]
            request = master_pb2.StatManyRequest(paths=batch)
            results = self._master("StatMany", request, read_only=True).results
            if not results:
                raise errors.GfsError(f"the master answered none of {len(batch)} stats")
            answers += [self._stat_of(p, r) for p, r in zip(batch, results, strict=False)]
        return answers

    def _stat_of(self, path: str, result: master_pb2.StatResult) -> FileStat | errors.GfsError:
        if not result.HasField("info"):
            return transport.named(result.kinds, result.error)
        info = result.info
        chunks = tuple(ChunkInfo.of(c) for c in info.chunks)
        now = time.monotonic()
        for chunk in chunks:
            self.cache.put(path, chunk, now)
        self._chunk_size = info.chunk_size
        return FileStat(
            info.entry.path,
            info.entry.is_dir,
            info.entry.size,
            info.chunk_size,
            chunks,
            info.entry.replication,
        )

    def glob(self, pattern: str) -> list[str]:
        """The paths `pattern` matches (`*`, `?`, `[...]` within a component), sorted; a
        pattern without any is returned as it is. NotFound if nothing matches."""
        return globs.expand(
            pattern, lambda d: [(e.path, e.is_dir) for e in self.ls(d)], self.exists
        )

    def exists(self, path: str) -> bool:
        try:
            self.stat(path)
            return True
        except errors.NotFound:
            return False

    def _locate(self, path: str, index: int, for_write: bool) -> ChunkInfo:
        now = time.monotonic()
        cached = self.cache.get(path, index, now)
        if cached is not None and cached.replicas and (not for_write or self._writable(cached)):
            return cached
        request = master_pb2.GetChunkRequest(path=path, index=index, for_write=for_write)
        try:
            info = ChunkInfo.of(self._master("GetChunk", request, read_only=not for_write))
        except errors.OutOfRange:
            # A write past the end: the master adds chunks one at a time, so the hole's chunks
            # (zeros until written) are asked for first, in order.
            for hole in range(len(self.stat(path).chunks), index):
                self._locate(path, hole, for_write=True)
            info = ChunkInfo.of(self._master("GetChunk", request, read_only=not for_write))
        if for_write:
            info = dataclasses.replace(info, writable=True)
        self.cache.put(path, info, now)
        return info

    @staticmethod
    def _writable(chunk: ChunkInfo) -> bool:
        """Whether a cached location serves a write: it names a primary and, from a secure
        master, carries a token for writing (one from a read or a stat does not)."""
        return bool(chunk.primary) and (chunk.writable or not chunk.token)

    # --- writing ------------------------------------------------------------------------------

    def extend(self, path: str, length: int) -> None:
        """Makes the file at least `length` bytes long, as the master knows it (written bytes
        past the old end become visible)."""
        self._master("ExtendFile", master_pb2.ExtendFileRequest(path=path, length=length))

    def open(
        self,
        path: str,
        mode: str = "rb",
        encoding: str | None = None,
        newline: str | None = None,
    ) -> IO[Any]:
        """A file object, as the builtin open() gives: "rb" (seekable, buffered), "wb" (a new
        file, or the old one replaced), "xb" (new only), "ab" (appending); without "b", text
        in `encoding` (UTF-8 unless given)."""
        binary = mode if "b" in mode else mode + "b"
        raw = files.open_file(self, paths.normalize(path), binary.replace("t", ""))
        if "b" in mode:
            return raw  # type: ignore[return-value]  # a BufferedIOBase
        return io.TextIOWrapper(raw, encoding or "utf-8", newline=newline)

    def chunk_size_of(self, path: str) -> int:
        if self._chunk_size is None:
            self.stat(path)
        assert self._chunk_size is not None
        return self._chunk_size

    def write(self, path: str, offset: int, data: bytes) -> None:
        """Overwrites [offset, offset+len(data)) of an existing file, extending it if needed
        (a gap past the old end reads as zeros)."""
        path = paths.normalize(path)
        if offset < 0:
            raise errors.InvalidArgument(f"offset must be >= 0, not {offset}")
        size = self.chunk_size_of(path)
        pos, extended = 0, False
        while pos < len(data):
            index, within = divmod(offset + pos, size)
            take = min(size - within, len(data) - pos)
            last = pos + take == len(data)  # its primary has the master cover the whole write
            extended = self.io.write_chunk(path, index, within, data[pos : pos + take], extend=last)
            pos += take
        if data and not extended:
            self._master(
                "ExtendFile", master_pb2.ExtendFileRequest(path=path, length=offset + len(data))
            )

    def put(
        self,
        source: BinaryIO,
        path: str,
        progress: Progress | None = None,
        replication: int = 0,
    ) -> int:
        """Creates `path` from the stream `source`; returns its size. Chunks go over their own
        chains, a few at a time. If it fails, the half-written file is removed. A client that
        knows the chunk size reads the first chunk first: if there is one, the master adds it
        with the file."""
        path = paths.normalize(path)
        size = self._chunk_size
        data = _read_exactly(source, size) if size is not None else None
        self._create(path, replication, first_chunk=bool(data))
        try:
            size = self.chunk_size_of(path)
            if data is None:
                data = _read_exactly(source, size)
            total = len(data)
            if 0 < total < size:  # one chunk: no pool, no thread
                self.io.write_chunk(path, 0, 0, data, progress)
            elif data:
                total = self._put_chunks(path, source, size, data, progress)
            if total:
                self._master("ExtendFile", master_pb2.ExtendFileRequest(path=path, length=total))
            return total
        except BaseException:
            try:
                self.rm(path, skip_trash=True)  # half a file is nothing to restore
            except errors.GfsError as err:
                log.warning("could not remove the partial %s: %s", path, err)
            raise

    def _put_chunks(
        self, path: str, source: BinaryIO, size: int, data: bytes, progress: Progress | None
    ) -> int:
        """Writes `data` (the first chunk, full) and the rest of `source` as chunks 0, 1, ...,
        a few at once; returns the bytes written."""
        total = 0
        with ThreadPoolExecutor(self.parallel_chunks, thread_name_prefix="put") as pool:
            pending: list[Future[bool]] = []
            index = 0
            while data:
                if len(pending) >= self.parallel_chunks:
                    pending.pop(0).result()
                pending.append(pool.submit(self.io.write_chunk, path, index, 0, data, progress))
                total += len(data)
                index += 1
                if len(data) < size:
                    break
                data = _read_exactly(source, size)
            for future in pending:
                future.result()
        return total

    # --- record append ------------------------------------------------------------------------

    def append(self, path: str, data: bytes, record_id: str = "") -> int:
        """Appends `data` as one record at an offset the primary chooses, and returns that
        offset. A failed attempt is retried: without a `record_id` that may leave a duplicate
        (at least once, as in GFS); with one, a repeat is answered with the first offset
        (exactly once). A record is at most a quarter of the chunk size."""
        path = paths.normalize(path)
        size = self.chunk_size_of(path)
        if not data:
            raise errors.InvalidArgument("a record cannot be empty")
        if len(data) > size // 4:
            raise errors.InvalidArgument(
                f"a record is at most a quarter of the chunk size ({size // 4} bytes), "
                f"not {len(data)}"
            )
        limits.check_record_id(record_id)
        index = self._append_at.get(path)
        if index is None:
            index = max(0, len(self.stat(path).chunks) - 1)
        while True:
            reply = self.io.append_to_chunk(path, index, data, record_id)
            if not reply.padded:
                break
            index += 1  # the chunk was full: it is padded on every replica; on to the next
        self._append_at[path] = index
        offset = index * size + reply.offset
        if not reply.extended:  # the primary had the master cover it, or not
            self._master(
                "ExtendFile", master_pb2.ExtendFileRequest(path=path, length=offset + len(data))
            )
        return offset

    def append_record(self, path: str, payload: bytes, record_id: str = "") -> int:
        """Appends `payload` framed (see client.records), so `records` can read it back."""
        return self.append(path, records.frame(payload, record_id), record_id)

    def records(self, path: str) -> Iterator[records.Record]:
        """Every intact framed record of the file once, in file order: padding, fragments and
        repeats of a record id are skipped."""
        stat = self.stat(path)

        def scan() -> Iterator[records.Record]:
            for chunk in stat.chunks:
                data = b"".join(self.io.read_chunk(stat.path, chunk, 0, chunk.size))
                yield from records.parse(data, chunk.index * stat.chunk_size)

        return records.unique(scan())

    # --- reading ------------------------------------------------------------------------------

    def get(self, path: str, sink: BinaryIO, progress: Progress | None = None) -> int:
        """Streams the whole file into `sink`, chunk by chunk in order; returns its size."""
        stat = self.stat(path)
        if stat.is_dir:
            raise errors.IsADirectory(f"is a directory: {stat.path}")
        for info in stat.chunks:
            for data in self.io.read_chunk(stat.path, info, 0, info.size):
                sink.write(data)
                if progress is not None:
                    progress(len(data))
        return stat.size

    def read(self, path: str, offset: int, length: int) -> bytes:
        """Bytes [offset, offset+length) of a file, clipped to its size."""
        stat = self.stat(path)
        end = min(stat.size, offset + length)
        out = bytearray()
        pos = max(0, offset)
        while pos < end:
            index, within = divmod(pos, stat.chunk_size)
            take = min(stat.chunk_size - within, end - pos)
            out += self.io.read_striped(stat.path, stat.chunks[index], within, take)
            pos += take
        return bytes(out)


def _read_exactly(source: BinaryIO, size: int) -> bytes:
    """Up to `size` bytes, fewer only at the end of the stream (pipes return short reads)."""
    parts: list[bytes] = []
    got = 0
    while got < size:
        data = source.read(size - got)
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)
