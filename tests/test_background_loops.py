"""Every background loop outlives an unexpected exception in one of its rounds: it logs it,
counts it and goes on (a loop that stopped silently left a master with no liveness checks, no
repair and no trash purge until a restart; a chunkserver that stopped heartbeating)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from chunkserver.config import ChunkserverConfig
from chunkserver.heartbeat import Heartbeater
from chunkserver.removals import Removals
from chunkserver.scrubber import Scrubber
from chunkserver.servicer import ChunkServicer
from chunkserver.storage import ChunkStore
from common import transport
from master.config import MasterConfig
from master.server import MasterServer


class FailsOnce:
    """A stand-in for one step of a loop: raises the first time, then counts calls."""

    def __init__(self, then: Callable[[], object] = lambda: None) -> None:
        self.calls = 0
        self.then = then
        self.more = threading.Event()

    def __call__(self, *args: object, **kwargs: object) -> object:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("injected into a background loop")
        if self.calls >= 3:
            self.more.set()
        return self.then()


def test_the_master_timer_loop_survives_an_exception(tmp_path: Path) -> None:
    config = MasterConfig(data_dir=tmp_path, listen="127.0.0.1:0", heartbeat_interval=0.02)
    server = MasterServer(config)
    step = FailsOnce()
    server.service.repairs.repair = step  # type: ignore[method-assign,union-attr]
    server.start()
    try:
        assert step.more.wait(10), "the timer loop stopped after the exception"
    finally:
        server.stop()
    assert server.loop_failures() >= 1


def test_a_round_that_meets_its_closed_store_while_the_master_stops_is_no_failure(
    tmp_path: Path,
) -> None:
    """A replica elected or stepping down stops one server while its timer may be mid-round
    (a standby's waits on the stalled active it polls): stop does not wait for it, and the
    round that then meets the closed database is not logged as a failing loop ("a round
    failed" in the new active's log)."""
    config = MasterConfig(data_dir=tmp_path, listen="127.0.0.1:0", heartbeat_interval=0.02)
    server = MasterServer(config)
    in_round, go_on = threading.Event(), threading.Event()

    def slow_round() -> None:
        in_round.set()
        go_on.wait(10)
        server.store.log_bounds()  # what a round reads after its wait

    server.service.repairs.repair = slow_round  # type: ignore[method-assign,union-attr]
    server.start()
    assert in_round.wait(10)
    server.stop(grace=0)
    go_on.set()
    for thread in server._threads:
        thread.join(10)
        assert not thread.is_alive()
    assert server.loop_failures() == 0


def test_a_shadows_log_follower_survives_an_exception(tmp_path: Path) -> None:
    config = MasterConfig(data_dir=tmp_path, listen="127.0.0.1:0", heartbeat_interval=0.02)
    server = MasterServer(config, shadow_of="127.0.0.1:1")
    assert server.shadow is not None
    step = FailsOnce()
    server.shadow.follow = step  # type: ignore[method-assign]
    server.start()
    try:
        assert step.more.wait(10), "the follower stopped after the exception"
    finally:
        server.stop()
    assert server.loop_failures() >= 1


def test_the_heartbeat_loop_survives_an_exception(tmp_path: Path) -> None:
    config = ChunkserverConfig(data_dir=tmp_path, heartbeat_interval=0.02)
    store = ChunkStore(tmp_path / "chunks", config.max_chunk_size)
    channels = transport.Channels()
    servicer = ChunkServicer(config, store, channels)
    removals = Removals(store, config.heartbeat_interval)
    heartbeater = Heartbeater(
        config, "127.0.0.1:1", store, servicer.mutations, channels, removals, servicer.term
    )
    step = FailsOnce()
    heartbeater.beat = step  # type: ignore[method-assign]
    heartbeater.start()
    try:
        assert step.more.wait(10), "the heartbeat loop stopped after the exception"
    finally:
        heartbeater.stop()
        servicer.close()
        channels.close()
    assert heartbeater.loop.failures >= 1


def test_the_scrubber_survives_an_exception(tmp_path: Path) -> None:
    store = ChunkStore(tmp_path, 1 << 20)
    scrubber = Scrubber(store, period=0.02, idle=0.0, rate=1 << 30)
    step = FailsOnce(then=lambda: None)
    scrubber.schedule.next = step  # type: ignore[method-assign]
    scrubber.start()
    try:
        assert step.more.wait(10), "the scrubber stopped after the exception"
    finally:
        scrubber.stop()
    assert scrubber.loop.failures >= 1


@pytest.mark.parametrize("repeats", [1, 5])
def test_a_failing_round_is_logged_with_its_traceback_once(
    caplog: pytest.LogCaptureFixture, repeats: int
) -> None:
    from common.loops import Loop

    stop = threading.Event()
    rounds = 0

    def round_() -> None:
        nonlocal rounds
        rounds += 1
        if rounds > repeats:
            stop.set()
            return
        raise ValueError("the same fault each time")

    loop = Loop("test-loop", round_, interval=lambda: 0.0, stop=stop)
    thread = threading.Thread(target=loop.run)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    assert loop.failures == repeats
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1, "a fault that repeats is counted, not logged again in full"
