"""A stream of the newest word: asks made before the stream takes a request make one request."""

from __future__ import annotations

import threading
import time

from common.newest import Newest


def test_asks_made_before_the_stream_takes_a_request_make_one_request() -> None:
    state = {"seq": 0}
    reports = Newest(lambda: state["seq"])
    requests = iter(reports)
    for seq in (1, 2, 3):  # three reports before the stream could send any
        state["seq"] = seq
        reports.ask()
    assert next(requests) == 3
    taken: list[int] = []
    reader = threading.Thread(target=lambda: taken.extend(requests))
    reader.start()  # waits for news
    state["seq"] = 4
    reports.ask()
    deadline = time.monotonic() + 10
    while not taken and time.monotonic() < deadline:
        time.sleep(0.01)
    assert taken == [4]
    reports.close()
    reader.join(10)
    assert not reader.is_alive(), "closing ends the stream"
    assert taken == [4]


def test_nothing_to_send_sends_nothing_and_a_closed_stream_ends() -> None:
    reports: Newest[int] = Newest(lambda: None)
    requests = iter(reports)
    reports.ask()
    reports.close()
    assert list(requests) == []
