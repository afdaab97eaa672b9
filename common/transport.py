"""Channels, deadlines and retries, and the one table between gRPC statuses and `errors`.

Every RPC goes through `call` (or `translating` for streams), so a grpc.RpcError never escapes
the library: it becomes a `GfsError`. Servers answer errors through `abort`, the same table the
other way. A status code is coarse (NotADirectory and Compacted are both FAILED_PRECONDITION),
so `abort` also sends the error's class names, most specific first, in the trailing metadata
(`gfs-error`), and `translate` raises the first of them it knows: a subclass survives the wire
and nobody matches on message text.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from common import errors
from common.tls import TlsFiles
from protos import chunkserver_pb2_grpc, master_pb2_grpc

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_MESSAGE = 16 * 1024 * 1024
KEEPALIVE_MS = 2000
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
    # Fail fast on a dead server rather than waiting out its reconnect backoff.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    # Connections of one's own: gRPC otherwise lets every insecure channel of a process to the
    # same address share one connection (TLS ones each have their own), so two clients of one
    # process were one client to a server's per-client shares.
    ("grpc.use_local_subchannel_pool", 1),
    # Servers take their clients' keepalive pings (below) as often as they come, with or
    # without data flowing, and never count them as abuse.
    ("grpc.http2.min_recv_ping_interval_without_data_ms", KEEPALIVE_MS // 2),
    ("grpc.http2.max_ping_strikes", 0),
]
# Channels to a master: a replica that stops answering without closing its connection (a
# killed container, a machine gone, a frozen process) fails the calls waiting on it after
# about KEEPALIVE_MS x 2, not at their deadlines (a client's is 30 s), so they go on to the
# next replica: the connection is pinged after KEEPALIVE_MS without a frame from the peer and
# dropped if no answer comes within as long. A new connection to it (the next round of the
# replicas) fails as soon: its kernel still accepts, but no HTTP/2 settings come, and gRPC
# waits 20 s for them unless told. Not on channels to chunkservers: a ping queued behind
# megabytes of a push on a slow link would be taken for a dead peer.
MASTER_CHANNEL_OPTIONS = [
    *CHANNEL_OPTIONS,
    ("grpc.keepalive_time_ms", KEEPALIVE_MS),
    ("grpc.keepalive_timeout_ms", KEEPALIVE_MS),
    ("grpc.http2.ping_timeout_ms", KEEPALIVE_MS),  # what gRPC 1.85 waits for the answer by
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.min_reconnect_backoff_ms", 2 * KEEPALIVE_MS),  # what a connection attempt may take
]


class Channels:
    """One channel per address, shared by every thread; closed together. With `tls`, every
    channel is mutual TLS with this process's certificate. Stubs are kept too: making one
    makes a callable per method (93 us for the master's, 48 for a chunkserver's), which every
    call paid."""

    def __init__(self, tls: TlsFiles | None = None) -> None:
        self._lock = threading.Lock()
        self._channels: dict[tuple[str, bool, bool], grpc.Channel] = {}
        self._masters: dict[str, master_pb2_grpc.MasterStub] = {}
        self._chunkservers: dict[tuple[str, bool], chunkserver_pb2_grpc.ChunkServerStub] = {}
        self._credentials = tls.channel_credentials() if tls is not None else None

    def get(self, address: str, *, plain: bool = False) -> grpc.Channel:
        """The channel to `address`; `plain`: in clear even with TLS (a plain read port)."""
        with self._lock:
            return self._channel(address, plain)

    def _channel(self, address: str, plain: bool, master: bool = False) -> grpc.Channel:
        # Keyed by its options too: a channel opened by `get` (a health check) and then asked
        # for by `master` must not be a master's channel without the keepalive pings.
        channel = self._channels.get((address, plain, master))
        if channel is None:
            options = MASTER_CHANNEL_OPTIONS if master else CHANNEL_OPTIONS
            if self._credentials is None or plain:
                channel = grpc.insecure_channel(address, options=options)
            else:
                channel = grpc.secure_channel(address, self._credentials, options=options)
            self._channels[(address, plain, master)] = channel
        return channel

    def master(self, address: str) -> master_pb2_grpc.MasterStub:
        with self._lock:
            stub = self._masters.get(address)
            if stub is None:
                stub = master_pb2_grpc.MasterStub(self._channel(address, False, master=True))  # type: ignore[no-untyped-call]
                self._masters[address] = stub
            return stub

    def chunkserver(
        self, address: str, *, plain: bool = False
    ) -> chunkserver_pb2_grpc.ChunkServerStub:
        with self._lock:
            stub = self._chunkservers.get((address, plain))
            if stub is None:
                channel = self._channel(address, plain)
                stub = chunkserver_pb2_grpc.ChunkServerStub(channel)  # type: ignore[no-untyped-call]
                self._chunkservers[(address, plain)] = stub
            return stub

    def close(self) -> None:
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()
            self._masters.clear()
            self._chunkservers.clear()


# The one table, used both ways: each base kind's status code. Incoming codes not in it map
# to the nearest kind (_ALSO); a code nobody maps is a plain GfsError.
_CODES: dict[type[errors.GfsError], grpc.StatusCode] = {
    errors.GfsError: grpc.StatusCode.UNKNOWN,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.DataLoss: grpc.StatusCode.DATA_LOSS,
    errors.Aborted: grpc.StatusCode.ABORTED,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
}
_KINDS: dict[grpc.StatusCode, type[errors.GfsError]] = {
    **{code: kind for kind, code in _CODES.items()},
    grpc.StatusCode.OUT_OF_RANGE: errors.InvalidArgument,
    grpc.StatusCode.DEADLINE_EXCEEDED: errors.Unavailable,
    grpc.StatusCode.UNAUTHENTICATED: errors.PermissionDenied,
}
KIND_KEY = "gfs-error"
# Metadata of the master replicas' calls: a client that found no active replica takes a
# standby's view for a read (as a shadow's, it may lag); an active one names its term in each
# answer to a change.
STANDBY_READS = "gfs-standby-reads"
TERM = "gfs-term"


# The wire's vocabulary: the classes of common.errors (each takes one message). A server's own
# subclass (the chunkserver's CorruptReplica, say) arrives as the first of these it derives from.
_NAMED: dict[str, type[errors.GfsError]] = {
    name: kind
    for name, kind in vars(errors).items()
    if isinstance(kind, type) and issubclass(kind, errors.GfsError)
}


def status_of(err: errors.GfsError) -> tuple[grpc.StatusCode, str]:
    """The status code an error leaves a server with, and its class names for the metadata."""
    lineage = [
        k for k in type(err).__mro__ if isinstance(k, type) and issubclass(k, errors.GfsError)
    ]
    code = next(_CODES[k] for k in lineage if k in _CODES)
    return code, ",".join(k.__name__ for k in lineage)


def named(kinds: str, message: str) -> errors.GfsError:
    """The error of a batch's answer, from the class names `status_of` gave (the most specific
    this side knows); for the answers a batched call carries, each its own."""
    kind = next((_NAMED[n] for n in kinds.split(",") if n in _NAMED), errors.GfsError)
    return kind(message)


def abort(context: grpc.ServicerContext, err: errors.GfsError) -> None:
    """Ends the RPC with `err` (raises, as `context.abort` does)."""
    code, kinds = status_of(err)
    context.set_trailing_metadata(((KIND_KEY, kinds),))
    context.abort(code, str(err))


def translate(err: grpc.RpcError, target: str) -> errors.GfsError:
    """Turns a gRPC error from `target` into the library's exception, with a one-line message."""
    code = err.code() if isinstance(err, grpc.Call) else grpc.StatusCode.UNKNOWN
    details = (err.details() if isinstance(err, grpc.Call) else None) or str(code)
    first = details.splitlines()[0] if details else str(code)
    kind = _KINDS.get(code, errors.GfsError)
    if kind is errors.Unavailable:
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return errors.Unavailable(f"{target} did not answer in time")
        lowered = first.lower()
        if "handshake failed" in lowered:
            causes = [c for c in first.split(": ") if c and c.upper() != "OK"]
            return errors.Unavailable(
                f"cannot reach {target}: TLS handshake failed ({causes[-1].lower()}); "
                "is --tls-ca the CA that signed this cluster's certificates?"
            )
        if any(sign in lowered for sign in _TRANSPORT_FAILURES):
            # gRPC's detail is a chain of causes ("failed to connect ...: ...: Connection
            # refused"); the last one is what the user can act on.
            cause = first.rsplit(": ", 1)[-1].lower()
            if cause == "socket closed":
                cause += " (a secure cluster closes a connection without a certificate of its CA)"
            return errors.Unavailable(f"cannot reach {target}: {cause}")
        return _named_kind(err, kind)(first)  # a server's own words (Busy, say): it was reached
    return _named_kind(err, kind)(first)


def _named_kind(err: grpc.RpcError, kind: type[errors.GfsError]) -> type[errors.GfsError]:
    """The most specific class the server named that this side knows, if it fits the code."""
    metadata: Any = err.trailing_metadata() if isinstance(err, grpc.Call) else None
    named = next((str(value) for key, value in metadata or () if key == KIND_KEY), "")
    for name in named.split(","):
        candidate = _NAMED.get(name)
        if candidate is not None and issubclass(candidate, kind):
            return candidate
    return kind


# What gRPC itself says when a server could not be reached (as opposed to a server answering
# UNAVAILABLE about something else, such as a replica it forwards to).
_TRANSPORT_FAILURES = (
    "failed to connect",
    "connection refused",
    "connection reset",
    "socket closed",
    "stream removed",
    "dns resolution failed",
    "connect failed",
    "network is unreachable",
    "broken pipe",
)


def call(method: Callable[..., T], request: Any, *, target: str, timeout: float) -> T:
    """A unary call with a deadline; gRPC errors become `GfsError`s naming `target`."""
    try:
        return method(request, timeout=timeout)
    except grpc.RpcError as err:
        raise translate(err, target) from None


def call_with_metadata(
    method: Any, request: Any, *, target: str, timeout: float, metadata: tuple[tuple[str, str], ...]
) -> tuple[Any, dict[str, str]]:
    """`call` sending `metadata`; the answer and its trailing metadata."""
    try:
        reply, rpc = method.with_call(request, timeout=timeout, metadata=metadata or None)
    except grpc.RpcError as err:
        raise translate(err, target) from None
    return reply, {str(k): str(v) for k, v in rpc.trailing_metadata() or ()}


@contextlib.contextmanager
def translating(target: str) -> Iterator[None]:
    """For streaming calls: turns gRPC errors raised inside the block into `GfsError`s."""
    try:
        yield
    except grpc.RpcError as err:
        raise translate(err, target) from None


def retry(
    attempt: Callable[[], T],
    *,
    attempts: int = 5,
    within: float | None = None,
    base_delay: float = 0.05,
    max_delay: float = 1.0,
    retry_on: tuple[type[errors.GfsError], ...] = errors.RETRYABLE,
    on_retry: Callable[[errors.GfsError], None] | None = None,
) -> T:
    """Calls `attempt` until it succeeds: at most `attempts` times, or, with `within`, for as
    long as the next try would start within that many seconds. Jittered exponential backoff
    between tries; the last error is raised as it is."""
    give_up = time.monotonic() + within if within is not None else None
    n = 0
    while True:
        try:
            return attempt()
        except retry_on as err:
            n += 1
            delay = min(max_delay, base_delay * 2 ** min(n - 1, 20))
            out_of_time = give_up is not None and time.monotonic() + delay > give_up
            if (give_up is None and n >= attempts) or out_of_time:
                raise
            log.debug("retrying after %s", err)
            if on_retry is not None:
                on_retry(err)
            time.sleep(delay * (0.5 + random.random() / 2))
