"""Admission control's two parts, alone: a bounded share of a server's workers per kind of
long call, and the server's own deadline for each."""

from __future__ import annotations

import threading
import time

import pytest

from common import errors
from common.admission import Admission, Deadlines


def test_calls_past_the_limit_are_refused_at_once_not_queued() -> None:
    pushes = Admission("pushes", 2)
    with pushes.admit(), pushes.admit():
        started = time.monotonic()
        with pytest.raises(errors.Busy, match="2 pushes under way"), pushes.admit():
            pass
        assert time.monotonic() - started < 1.0
    with pushes.admit():
        pass  # the slots came back


class FakeCall:
    def __init__(self) -> None:
        self.cancelled = threading.Event()

    def cancel(self) -> None:
        self.cancelled.set()


def test_a_call_past_the_servers_deadline_is_cancelled_and_one_that_ends_is_not() -> None:
    deadlines = Deadlines()
    slow, quick = FakeCall(), FakeCall()
    with deadlines.bounded(slow, 0.05):  # type: ignore[arg-type]
        with deadlines.bounded(quick, 0.05):  # type: ignore[arg-type]
            pass
        assert slow.cancelled.wait(5), "the endless call was never cancelled"
    time.sleep(0.1)
    assert not quick.cancelled.is_set()


def test_one_client_gets_its_share_and_vital_calls_always_find_a_worker() -> None:
    """A server of 8 workers, 2 kept for vital calls, 4 calls per client: one client's fifth
    call and anyone's seventh are refused at once as busy; the vital call is answered."""
    from concurrent.futures import ThreadPoolExecutor

    import grpc

    from common import transport
    from common.admission import Shares

    release, entered = threading.Event(), threading.Semaphore(0)

    def slow(request: bytes, context: grpc.ServicerContext) -> bytes:
        entered.release()
        release.wait(30)
        return b"done"

    def vital(request: bytes, context: grpc.ServicerContext) -> bytes:
        return b"alive"

    handlers = grpc.method_handlers_generic_handler(
        "t.S",
        {
            "Slow": grpc.unary_unary_rpc_method_handler(slow),
            "Vital": grpc.unary_unary_rpc_method_handler(vital),
        },
    )
    shares = Shares(workers=8, reserved=2, per_client=4, vital=frozenset({"/t.S/Vital"}))
    server = grpc.server(ThreadPoolExecutor(8), interceptors=[shares])
    server.add_generic_rpc_handlers((handlers,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    own = [("grpc.use_local_subchannel_pool", 1)]  # a connection each: two clients
    first = grpc.insecure_channel(f"127.0.0.1:{port}", options=own)
    second = grpc.insecure_channel(f"127.0.0.1:{port}", options=own)

    def admitted(channel: grpc.Channel, count: int) -> list[grpc.Future]:
        calls = [channel.unary_unary("/t.S/Slow").future(b"", timeout=30) for _ in range(count)]
        for _ in range(count):
            assert entered.acquire(timeout=10)
        return calls

    def refusal(channel: grpc.Channel, method: str = "/t.S/Slow") -> errors.GfsError | None:
        try:
            channel.unary_unary(method)(b"", timeout=10)
            return None
        except grpc.RpcError as err:
            return transport.translate(err, "test server")

    try:
        running = admitted(first, 4)
        busy = refusal(first)
        assert isinstance(busy, errors.Busy) and "this client has 4 calls" in str(busy)
        running += admitted(second, 2)
        busy = refusal(second)
        assert isinstance(busy, errors.Busy) and "this server has 6 calls" in str(busy)
        assert first.unary_unary("/t.S/Vital")(b"", timeout=10) == b"alive"
        release.set()
        assert [call.result() for call in running] == [b"done"] * 6
        assert refusal(first) is None, "the shares came back when the calls ended"
    finally:
        release.set()
        first.close()
        second.close()
        server.stop(None)


class FakeContext:
    """A call's context on an insecure server, from connection `peer`; counts the askings."""

    def __init__(self, peer: str) -> None:
        self._peer = peer
        self.asked = 0

    def peer_identities(self) -> None:
        return None

    def auth_context(self) -> dict[str, list[bytes]]:
        return {}

    def peer(self) -> str:
        self.asked += 1
        return self._peer

    def set_trailing_metadata(self, metadata: object) -> None:
        pass

    def abort(self, code: object, details: str) -> None:
        raise errors.Busy(details)


def test_shares_ask_who_calls_only_once_the_server_is_busy_and_then_count_every_call() -> None:
    """Per client 4: three calls of A and one of B are admitted without asking who makes
    them; A's fourth call names all five, A's fifth is refused, B still gets a call, and an
    ended call gives its client's share back."""
    from collections.abc import Iterator

    from common.admission import Shares

    shares = Shares(workers=20, reserved=2, per_client=4, vital=frozenset())
    held = shares.wrapper("/t.S/Slow")

    def streaming(request: object, context: object) -> Iterator[bytes]:
        yield b"done"

    assert held is not None
    call = held(streaming)  # type: ignore[arg-type]

    def start(who: str) -> tuple[Iterator[bytes], FakeContext]:
        context = FakeContext(who)
        return call(b"", context), context  # holds its share until the stream ends

    first = [start("A") for _ in range(3)] + [start("B")]
    assert [context.asked for _, context in first] == [0, 0, 0, 0]
    a4 = start("A")
    assert [context.asked for _, context in [*first, a4]] == [1, 1, 1, 1, 1]
    with pytest.raises(errors.Busy, match="this client has 4 calls"):
        start("A")
    b2 = start("B")
    assert [context.asked for _, context in first] == [1, 1, 1, 1], "each named once"
    for stream, _ in [*first[:3], a4]:
        assert list(stream) == [b"done"]
    a5 = start("A")  # A's calls ended: B's two are under way, so it goes unasked
    assert a5[1].asked == 0
    for stream, _ in [first[3], b2, a5]:
        assert list(stream) == [b"done"]
    assert not shares._by_client and not shares._unnamed and shares._total == 0
