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
