"""Channels, deadlines and retries. Every RPC the library makes goes through `call` (or
`translating` for streams), so a grpc.RpcError never escapes: it becomes a `GfsError`."""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from client import errors
from protos import chunkserver_pb2_grpc, master_pb2_grpc

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_MESSAGE = 16 * 1024 * 1024
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
    # Fail fast on a dead server rather than waiting out its reconnect backoff.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


class Channels:
    """One channel per address, shared by every thread; closed together."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._channels: dict[str, grpc.Channel] = {}

    def get(self, address: str) -> grpc.Channel:
        with self._lock:
            channel = self._channels.get(address)
            if channel is None:
                channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
                self._channels[address] = channel
            return channel

    def master(self, address: str) -> master_pb2_grpc.MasterStub:
        return master_pb2_grpc.MasterStub(self.get(address))  # type: ignore[no-untyped-call]

    def chunkserver(self, address: str) -> chunkserver_pb2_grpc.ChunkServerStub:
        return chunkserver_pb2_grpc.ChunkServerStub(self.get(address))  # type: ignore[no-untyped-call]

    def close(self) -> None:
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()


def call(method: Callable[..., T], request: Any, *, target: str, timeout: float) -> T:
    """A unary call with a deadline; gRPC errors become `GfsError`s naming `target`."""
    try:
        return method(request, timeout=timeout)
    except grpc.RpcError as err:
        raise errors.translate(err, target) from None


@contextlib.contextmanager
def translating(target: str) -> Iterator[None]:
    """For streaming calls: turns gRPC errors raised inside the block into `GfsError`s."""
    try:
        yield
    except grpc.RpcError as err:
        raise errors.translate(err, target) from None


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
