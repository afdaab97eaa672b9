"""The watch on a long stream: a stream that keeps hearing is left alone, one that falls silent
is cancelled once, and a stopped watch cancels nothing."""

from __future__ import annotations

import time

from common.silence import Silence
from tests.conftest import wait_until


class Call:
    def __init__(self) -> None:
        self.cancelled = 0

    def cancel(self) -> bool:
        self.cancelled += 1
        return True


def test_a_stream_that_keeps_hearing_is_left_alone_and_a_silent_one_is_cancelled() -> None:
    call = Call()
    watch = Silence(call, 1.0, "a test stream")
    for _ in range(15):  # 1.5 s, never 1 s silent
        time.sleep(0.1)
        watch.heard()
    assert call.cancelled == 0 and not watch.broke
    wait_until(lambda: call.cancelled == 1, 5, "the silent stream is cancelled")
    time.sleep(0.5)
    assert call.cancelled == 1 and watch.broke


def test_a_stopped_watch_cancels_nothing() -> None:
    call = Call()
    Silence(call, 0.2, "a test stream").stop()
    time.sleep(0.5)
    assert call.cancelled == 0
