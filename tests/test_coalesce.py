"""A coalesced call: the asker never waits, and asks made during a call make one more call."""

from __future__ import annotations

import threading

from common.coalesce import CoalescedCall


def test_asks_during_a_call_are_served_by_one_more_call() -> None:
    started, release, done = threading.Event(), threading.Event(), threading.Event()
    calls: list[int] = []

    def call() -> None:
        calls.append(len(calls))
        started.set()
        release.wait(10)
        if len(calls) == 2:
            done.set()

    reports = CoalescedCall(call, "test")
    reports.ask()
    assert started.wait(10)
    for _ in range(5):  # while the first call is under way: returns at once
        reports.ask()
    release.set()
    assert done.wait(10)
    reports.close()
    assert calls == [0, 1]


def test_nothing_is_called_after_close() -> None:
    calls: list[int] = []
    reports = CoalescedCall(lambda: calls.append(1), "test")
    reports.close()
    reports.ask()
    reports._thread.join(10)
    assert not reports._thread.is_alive() and calls == []
