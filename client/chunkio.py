"""The data path: bytes to and from chunkservers, directly (GFS section 2.3: the master hands
out locations, never data). Writes push their bytes along the chain of replicas and then ask
the primary to apply them, retried until a call's deadline; reads go to the nearest replica,
fail over to the next on an error or a checksum mismatch, and a long read is striped over
equally near replicas."""

from __future__ import annotations

import itertools
import logging
import random
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from client.locations import LocationCache
from client.models import ChunkInfo
from client.pieces import PushSpeed, piece_for
from common import errors, limits, tokens, transport
from protos import chunkserver_pb2, chunkserver_pb2_grpc

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
Locate = Callable[[str, int, bool], ChunkInfo]
T = TypeVar("T")


def _local_hosts() -> set[str]:
    hosts = {"127.0.0.1", "localhost", "::1"}
    try:
        name = socket.gethostname()
        hosts.add(name)
        hosts.update(info[4][0] for info in socket.getaddrinfo(name, None))  # type: ignore[misc]
    except OSError:
        pass
    return hosts


# A read of at least two of these within a chunk is spread over its replicas, a part each.
READ_STRIPE = 1024 * 1024
# How long a read waits for the master to list a replica of a chunk (seconds).
UNLISTED_WAIT = 5.0


@dataclass(frozen=True)
class Acknowledged:
    """A mutation a primary acknowledged: which chunk, at which version, which primary, and
    when (wall clock) the request left and the answer came."""

    handle: int
    version: int
    primary: str
    sent: float
    answered: float


class ChunkIO:
    def __init__(
        self,
        channels: transport.Channels,
        cache: LocationCache,
        locate: Locate,
        timeout: float,
        piece_size: int = 0,
        encrypted_reads: bool = False,
    ) -> None:
        self.channels = channels
        self.cache = cache
        self.locate = locate  # (path, chunk index, for_write) -> where the chunk lives
        self.timeout = timeout
        self.piece_size = piece_size  # of a push; 0: by its size and how fast pushes went
        self.push_speed = PushSpeed()
        self.local = _local_hosts()
        # Read over TLS even where a replica serves reads in clear (proved by the token).
        self.encrypted_reads = encrypted_reads
        self.plain_unreachable: set[str] = set()  # plain read ports that failed to answer
        # Told of every acknowledged mutation (the fault suite checks one primary at a time).
        self.on_acknowledged: Callable[[Acknowledged], None] | None = None
        # Told each time a mutation is asked of a primary, answered or not: a record appended
        # without an id may be applied once an ask (the fault suite bounds duplicates by it).
        self.on_asking: Callable[[], None] | None = None

    def is_local(self, address: str) -> bool:
        return address.rsplit(":", 1)[0] in self.local

    def nearest_first(
        self, replicas: tuple[str, ...], first: str = "", slow: tuple[str, ...] = ()
    ) -> list[str]:
        """Replicas on a server with a slow disk (`slow`) last, even this host's (a network
        hop costs less than a disk taking its time); else this host's first; among equals a
        random order, so that many clients reading one chunk spread over its replicas instead
        of all taking the first (`first`, if given, leads)."""
        shuffled = random.sample(replicas, len(replicas))
        return sorted(shuffled, key=lambda a: (a != first, a in slow, not self.is_local(a)))

    # --- writing ---------------------------------------------------------------------------

    def push(
        self,
        chain: list[str],
        data_id: str,
        target: tuple[int, int],
        data: bytes,
        progress: Progress | None = None,
        token: bytes = b"",
    ) -> None:
        """Pushes `data` along `chain`; `target` is the chunk and offset it is for (-1: the end),
        `token` the chunk's write token on a secure cluster."""
        step = self.piece_size or piece_for(len(data), self.push_speed.bytes_per_second)
        handle, offset = target

        def pieces() -> Iterator[chunkserver_pb2.DataPiece]:
            for i in range(0, max(len(data), 1), step):
                piece = data[i : i + step]
                if i == 0:
                    yield chunkserver_pb2.DataPiece(
                        data_id=data_id,
                        chain=chain[1:],
                        data=piece,
                        handle=handle,
                        offset=offset,
                        token=token,
                    )
                else:
                    yield chunkserver_pb2.DataPiece(data=piece)
                if progress is not None:
                    progress(len(piece))

        started = time.monotonic()
        with transport.translating(chain[0]):
            self.channels.chunkserver(chain[0]).PushData(pieces(), timeout=self.timeout)
        self.push_speed.record(len(data), time.monotonic() - started)

    def mutate_chunk(
        self,
        path: str,
        index: int,
        offset: int,
        data: bytes,
        apply: Callable[[ChunkInfo, str, bytes], T],
        progress: Progress | None = None,
    ) -> T:
        """Pushes `data`, meant for `offset` of chunk `index` (-1: a record append), along the
        chunk's chain (primary first, then nearest), then has `apply(info, data_id, b"")` ask
        the primary to apply it; data of at most `limits.MAX_INLINE` bytes is not pushed but
        handed to `apply` to send with the request. Retried for as long as a call may take:
        long enough to outlast a dead replica's detection and the lease revocation that follows
        it; each retry re-asks the master and pushes again. `progress` hears of the bytes pushed
        on the first attempt."""
        first = [True]
        inline = data if len(data) <= limits.MAX_INLINE else b""

        def attempt() -> T:
            info = self.locate(path, index, True)
            if not info.primary:
                raise errors.Unavailable(f"chunk {index} of {path} has no primary")
            others = tuple(r for r in info.replicas if r != info.primary)
            data_id = uuid.uuid4().hex
            try:
                if not inline:
                    self.push(
                        [info.primary, *self.nearest_first(others, slow=info.slow)],
                        data_id,
                        (info.handle, offset),
                        data,
                        progress if first[0] else None,
                        info.token,
                    )
                elif progress is not None and first[0]:
                    progress(len(data))
                first[0] = False
                sent = time.time()
                if self.on_asking is not None:
                    self.on_asking()
                result = apply(info, data_id, inline)
                if self.on_acknowledged is not None:
                    acked = Acknowledged(info.handle, info.version, info.primary, sent, time.time())
                    self.on_acknowledged(acked)
                return result
            except errors.PermissionDenied as refused:
                # A token a chunkserver no longer takes (signed before the master restarted,
                # say): the master's lookup, not the chunkserver, says what this user may do.
                raise errors.Aborted(f"{refused}; asking the master again") from None

        return transport.retry(
            attempt, within=self.timeout, on_retry=lambda _: self.cache.forget(path, index)
        )

    def write_chunk(
        self,
        path: str,
        index: int,
        offset: int,
        data: bytes,
        progress: Progress | None = None,
        extend: bool = False,
    ) -> bool:
        """Writes `data` at `offset` within chunk `index`, on every replica. With `extend`, the
        primary has the master's length of the file cover it meanwhile; returns whether it
        did."""

        def write(info: ChunkInfo, data_id: str, inline: bytes) -> bool:
            reply = transport.call(
                self.channels.chunkserver(info.primary or "").Write,
                chunkserver_pb2.WriteRequest(
                    handle=info.handle,
                    version=info.version,
                    offset=offset,
                    data_id=data_id,
                    token=info.token,
                    data=inline,
                    path=path if extend else "",
                ),
                target=info.primary or "",
                timeout=self.timeout,
            )
            return bool(reply.extended)

        return self.mutate_chunk(path, index, offset, data, write, progress)

    def append_to_chunk(
        self, path: str, index: int, data: bytes, record_id: str
    ) -> chunkserver_pb2.AppendResponse:
        def append(info: ChunkInfo, data_id: str, inline: bytes) -> chunkserver_pb2.AppendResponse:
            reply: chunkserver_pb2.AppendResponse = transport.call(
                self.channels.chunkserver(info.primary or "").Append,
                chunkserver_pb2.AppendRequest(
                    handle=info.handle,
                    version=info.version,
                    data_id=data_id,
                    record_id=record_id,
                    token=info.token,
                    data=inline,
                    path=path,
                ),
                target=info.primary or "",
                timeout=self.timeout,
            )
            return reply

        return self.mutate_chunk(path, index, -1, data, append)

    # --- reading ---------------------------------------------------------------------------

    def read_chunk(
        self, path: str, info: ChunkInfo, offset: int, length: int, first: str = ""
    ) -> Iterator[bytes]:
        """Yields bytes [offset, offset+length) of a chunk from the nearest replica (or `first`)
        that serves them, resuming on the next replica where one fails; a replica shorter than
        asked (a hole never written) reads as zeros. After the cached listing, a fresh one; while
        that names no replica (a version change no replica has acknowledged yet, or a lost
        chunk), it is asked again for a few seconds."""
        pos, end = offset, offset + length
        failures: list[str] = []
        refused = False  # every replica of the last round refused the caller's token
        give_up, delay = time.monotonic() + min(self.timeout, UNLISTED_WAIT), 0.05
        for attempt in itertools.count():
            if attempt > 1:
                if time.monotonic() + delay > give_up:
                    break
                time.sleep(delay)
                delay = min(1.0, 2 * delay)
            if attempt > 0:
                self.cache.forget(path, info.index)
                info = self.locate(path, info.index, False)
            refused = bool(info.replicas)
            for replica in self.nearest_first(info.replicas, first, info.slow):
                target, stub, request = self._reader(info, replica, pos, end - pos)
                try:
                    with transport.translating(target):
                        for piece in stub.Read(request, timeout=self.timeout):
                            pos += len(piece.data)
                            yield piece.data
                except (
                    errors.Unavailable,
                    errors.DataLoss,
                    errors.Aborted,
                    errors.NotFound,
                    errors.PermissionDenied,  # a token from before a master restart: ask again
                ) as err:
                    log.info("replica %s failed reading chunk %d: %s", target, info.handle, err)
                    if target != replica and isinstance(err, errors.Unavailable):
                        self.plain_unreachable.add(target)  # read over TLS from now on
                    failures.append(f"{replica}: {err}")
                    refused = refused and isinstance(err, errors.PermissionDenied)
                    continue
                if pos < end:
                    yield bytes(end - pos)
                return
            if attempt > 0 and info.replicas:
                break  # every replica of a fresh listing failed
        detail = "; ".join(failures[-3:]) or "no live replica"
        if refused:  # the bytes are there: what the replicas would not take is the token
            raise errors.PermissionDenied(
                f"chunk {info.index} of {path}: every replica refused to serve it ({detail})"
            )
        raise errors.DataLoss(
            f"chunk {info.index} of {path} could not be read from any replica ({detail})"
        )

    def _reader(
        self, info: ChunkInfo, replica: str, offset: int, length: int
    ) -> tuple[str, chunkserver_pb2_grpc.ChunkServerStub, chunkserver_pb2.ReadRequest]:
        """Whom to ask for a range of `replica`, how, and what: its plain read port if it has
        one (the token shown without its signature, with a proof of holding it), else the
        replica itself, with the token as it is."""
        request = chunkserver_pb2.ReadRequest(
            handle=info.handle, version=info.version, offset=offset, length=length
        )
        plain = "" if self.encrypted_reads else info.plain_read_port(replica)
        if not plain or plain in self.plain_unreachable:
            request.token = info.token
            return replica, self.channels.chunkserver(replica), request
        request.token = info.token[tokens.MAC :]
        claim = tokens.read_claim(info.handle, info.version, offset, length)
        request.proof = tokens.prove(info.token, claim)
        return plain, self.channels.chunkserver(plain, plain=True), request

    def read_striped(self, path: str, info: ChunkInfo, offset: int, length: int) -> bytes:
        """Bytes [offset, offset+length) of a chunk. A range of at least two stripes is read in
        parts from as many equally near replicas at once, so that each replica's link carries
        a share: readers that picked one replica each would often meet on one server and halve
        each other (the paper's reason for its read curve bending), while the load of parts
        evens out. Each part fails over to the other replicas on its own."""
        order = self.nearest_first(info.replicas, slow=info.slow)
        near = [
            a
            for a in order
            if (a in info.slow, self.is_local(a))
            == (order[0] in info.slow, self.is_local(order[0]))
        ]
        parts = min(len(near), length // READ_STRIPE)
        if parts < 2:
            return b"".join(self.read_chunk(path, info, offset, length))
        bounds = [offset + length * i // parts for i in range(parts + 1)]

        def part(i: int) -> bytes:
            start, end = bounds[i], bounds[i + 1]
            return b"".join(self.read_chunk(path, info, start, end - start, first=near[i]))

        with ThreadPoolExecutor(parts, thread_name_prefix="read") as pool:
            return b"".join(pool.map(part, range(parts)))
