"""The one table between gRPC statuses and the library's errors, used both ways over a real
gRPC server: a subclass survives the wire, a server's own subclass arrives as the nearest
shared one, and an unexpected exception is INTERNAL, never a crash."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest

from common import errors, transport
from common.serving import aborting
from protos import master_pb2
from tests.conftest import wait_until

log = logging.getLogger(__name__)


class ServerOnly(errors.DataLoss):
    """A server's own subclass with its own constructor (as the chunkserver's CorruptReplica)."""

    def __init__(self, handle: int, detail: str) -> None:
        super().__init__(f"replica of chunk {handle} is corrupt: {detail}")


RAISED: dict[str, Exception] = {
    "not-a-directory": errors.NotADirectory("not a directory: /a"),
    "compacted": errors.Compacted("log entries 1..9 were compacted"),
    "stale": errors.StaleReplica("replica of chunk 1 is at version 2, not 3"),
    "server-only": ServerOnly(1, "checksum mismatch in block 0"),
    "invalid-path": errors.InvalidPath("path must be absolute"),
    "bug": ValueError("an unexpected failure"),
}


class Raiser:
    @aborting(log)
    def Call(self, request: master_pb2.StatRequest, context: grpc.ServicerContext) -> Any:
        raise RAISED[request.path]


@pytest.fixture(scope="module")
def stub() -> Iterator[Any]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    handler = grpc.unary_unary_rpc_method_handler(
        Raiser().Call,
        request_deserializer=master_pb2.StatRequest.FromString,
        response_serializer=master_pb2.Empty.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("t.T", {"Call": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield channel.unary_unary(
        "/t.T/Call",
        request_serializer=master_pb2.StatRequest.SerializeToString,
        response_deserializer=master_pb2.Empty.FromString,
    )
    channel.close()
    server.stop(0)


@pytest.mark.parametrize(
    ("case", "kind", "code"),
    [
        ("not-a-directory", errors.NotADirectory, grpc.StatusCode.FAILED_PRECONDITION),
        ("compacted", errors.Compacted, grpc.StatusCode.FAILED_PRECONDITION),
        ("stale", errors.StaleReplica, grpc.StatusCode.ABORTED),
        ("server-only", errors.DataLoss, grpc.StatusCode.DATA_LOSS),
        ("invalid-path", errors.InvalidPath, grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
def test_an_error_crosses_the_wire_as_its_own_kind(
    stub: Any, case: str, kind: type[errors.GfsError], code: grpc.StatusCode
) -> None:
    with pytest.raises(kind) as caught:
        transport.call(stub, master_pb2.StatRequest(path=case), target="t", timeout=5)
    assert type(caught.value) is kind
    assert str(caught.value) == str(RAISED[case])
    assert transport.status_of(RAISED[case])[0] == code  # type: ignore[arg-type]


def test_an_unexpected_exception_is_internal_and_the_server_goes_on(stub: Any) -> None:
    with pytest.raises(errors.GfsError, match="an unexpected failure") as caught:
        transport.call(stub, master_pb2.StatRequest(path="bug"), target="t", timeout=5)
    assert type(caught.value) is errors.GfsError
    with pytest.raises(errors.Compacted):
        transport.call(stub, master_pb2.StatRequest(path="compacted"), target="t", timeout=5)


def test_a_server_that_cannot_be_reached_is_unavailable_in_one_line() -> None:
    channel = grpc.insecure_channel("127.0.0.1:1")
    method = channel.unary_unary(
        "/t.T/Call",
        request_serializer=master_pb2.StatRequest.SerializeToString,
        response_deserializer=master_pb2.Empty.FromString,
    )
    with pytest.raises(errors.Unavailable, match=r"cannot reach master 127\.0\.0\.1:1") as caught:
        transport.call(
            method, master_pb2.StatRequest(path="x"), target="master 127.0.0.1:1", timeout=5
        )
    assert "\n" not in str(caught.value)
    channel.close()


SILENT_PEER = """
import sys, time
from concurrent import futures
import grpc
from common import transport
from protos import master_pb2
server = grpc.server(futures.ThreadPoolExecutor(2), options=transport.CHANNEL_OPTIONS)
handler = grpc.unary_unary_rpc_method_handler(
    lambda request, context: master_pb2.Empty(),
    request_deserializer=master_pb2.StatRequest.FromString,
    response_serializer=master_pb2.Empty.SerializeToString,
)
server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("t.T", {"Call": handler}),))
print(server.add_insecure_port("127.0.0.1:0"), flush=True)
server.start()
time.sleep(300)
"""


def answers(method: Any, request: master_pb2.StatRequest, address: str) -> bool:
    try:
        transport.call(method, request, target=address, timeout=10)
    except errors.Unavailable:
        return False  # the channel waits out its backoff before connecting again
    return True


def test_a_master_that_falls_silent_fails_the_calls_on_it_long_before_their_deadline() -> None:
    """A killed container or a machine gone closes no connection: a call on it used to wait
    out its whole deadline (a client's is 30 s) before the client tried another replica. The
    keepalive pings of a channel to a master find the silence (a stopped process here) and
    fail the call as Unavailable; a new connection to it (the client's next round of the
    replicas) fails as soon, not after gRPC's 20 s wait for a connection's settings (a
    deadline of 15 s would end the call first); the connection is made again once the peer
    answers."""
    peer = subprocess.Popen(
        [sys.executable, "-c", SILENT_PEER], stdout=subprocess.PIPE, cwd=os.getcwd()
    )
    channel: grpc.Channel | None = None
    try:
        assert peer.stdout is not None
        address = f"127.0.0.1:{int(peer.stdout.readline())}"
        channel = grpc.insecure_channel(address, options=transport.MASTER_CHANNEL_OPTIONS)
        method = channel.unary_unary(
            "/t.T/Call",
            request_serializer=master_pb2.StatRequest.SerializeToString,
            response_deserializer=master_pb2.Empty.FromString,
        )
        request = master_pb2.StatRequest(path="x")
        transport.call(method, request, target=address, timeout=10)  # connected
        peer.send_signal(signal.SIGSTOP)
        with pytest.raises(errors.Unavailable, match="ping timeout"):
            transport.call(method, request, target=address, timeout=120)
        with pytest.raises(errors.Unavailable, match="before receiving settings frame"):
            transport.call(method, request, target=address, timeout=15)
        peer.send_signal(signal.SIGCONT)
        wait_until(lambda: answers(method, request, address), 10, "the woken peer answers")
    finally:
        if channel is not None:
            channel.close()
        peer.kill()
        peer.wait()
        if peer.stdout is not None:
            peer.stdout.close()
