"""Group commit (common.grouping): callers that queue while a batch runs share the next one,
each gets its own result, and keys never mix."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from common.grouping import Groups


def test_callers_queued_behind_a_batch_share_the_next_and_get_their_own_results() -> None:
    batches: list[tuple[str, list[int]]] = []
    first_running = threading.Event()
    release = threading.Event()

    def carry_out(key: str, items: list[int]) -> list[int | BaseException]:
        batches.append((key, list(items)))
        if len(batches) == 1:
            first_running.set()
            release.wait(5)
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]

    groups: Groups[str, int, int] = Groups(carry_out)
    with ThreadPoolExecutor(12) as pool:
        lead = pool.submit(groups.submit, "a", 0)
        assert first_running.wait(5)
        queued = {i: pool.submit(groups.submit, "a", i) for i in range(1, 9)}
        other = pool.submit(groups.submit, "b", 100)  # another key: not held up by "a"
        assert other.result(5) == 1000
        time.sleep(0.2)  # let the 8 callers queue behind the running batch
        release.set()
        assert lead.result(5) == 0
        for i, future in queued.items():
            if i % 2:
                with pytest.raises(ValueError, match=f"odd {i}"):
                    future.result(5)
            else:
                assert future.result(5) == i * 10
    a_batches = [items for key, items in batches if key == "a"]
    assert a_batches[0] == [0]
    assert sorted(i for items in a_batches[1:] for i in items) == list(range(1, 9))
    assert len(a_batches) == 2  # the eight shared one batch
    assert ("b", [100]) in batches


def test_a_batch_that_raises_fails_each_of_its_callers_and_the_next_batch_still_runs() -> None:
    calls: list[list[str]] = []

    def carry_out(_: None, items: list[str]) -> list[str | BaseException]:
        calls.append(items)
        if "boom" in items:
            raise OSError("disk gone")
        return [item.upper() for item in items]

    groups: Groups[None, str, str] = Groups(carry_out)
    with pytest.raises(OSError, match="disk gone"):
        groups.submit(None, "boom")
    assert groups.submit(None, "fine") == "FINE"
    groups.closed = True
    with pytest.raises(RuntimeError):
        groups.submit(None, "late")
    assert calls == [["boom"], ["fine"]]


def test_many_threads_every_item_answered_once() -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def carry_out(key: int, items: list[int]) -> list[int | BaseException]:
        time.sleep(0.001)
        with lock:
            seen.extend(items)
        return [item + key for item in items]

    groups: Groups[int, int, int] = Groups(carry_out)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda i: groups.submit(i % 3, i), range(600)))
    assert results == [i + i % 3 for i in range(600)]
    assert sorted(seen) == list(range(600))


def test_the_next_batch_is_carried_out_while_the_last_ones_then_still_runs() -> None:
    second_carried_out = threading.Event()
    first_then_running = threading.Event()

    def carry_out(_: None, items: list[int]) -> list[int | BaseException]:
        if 2 in items:
            second_carried_out.set()
        return list(items)

    def then(
        _: None, items: list[int], results: list[int | BaseException]
    ) -> list[int | BaseException]:
        if 1 in items:
            first_then_running.set()
            assert second_carried_out.wait(5), "the next batch waited for this one's `then`"
        return [r * 10 if isinstance(r, int) else r for r in results]

    groups: Groups[None, int, int] = Groups(carry_out, then=then)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(groups.submit, None, 1)
        assert first_then_running.wait(5)
        second = pool.submit(groups.submit, None, 2)
        assert second.result(5) == 20
        assert first.result(5) == 10


def _loops(groups: Groups[str, int, int], threads: int, rounds: int) -> None:
    """`threads` threads each handing in `rounds` items one after another; every answer
    checked."""
    start = threading.Barrier(threads)

    def run(t: int) -> None:
        start.wait()
        for r in range(rounds):
            assert groups.submit("k", t * 1000 + r) == t * 1000 + r

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(run, range(threads)))


def test_with_a_linger_threads_asking_one_after_another_go_together() -> None:
    batches: list[list[int]] = []

    def carry_out(_: str, items: list[int]) -> list[int | BaseException]:
        batches.append(list(items))
        time.sleep(0.002)  # a round trip
        return list(items)

    # Threads come back within a millisecond: the linger runs out only at the end, where a
    # thread that went ahead at the start (alone, before the others queued) has finished.
    groups: Groups[str, int, int] = Groups(carry_out, linger=2.0)
    _loops(groups, threads=4, rounds=30)
    everything = [t * 1000 + r for t in range(4) for r in range(30)]
    assert sorted(i for b in batches for i in b) == everything
    sizes = [len(b) for b in batches]
    first_full = sizes.index(4)  # they came together...
    assert first_full <= 2
    assert sizes[first_full:-1] == [4] * (len(sizes) - 1 - first_full)  # ...and stayed so


def test_a_linger_waits_for_no_thread_that_is_not_coming_back_and_never_for_oneself() -> None:
    groups: Groups[str, int, int] = Groups(lambda _, items: list(items), linger=60.0)
    start = time.monotonic()
    _loops(groups, threads=1, rounds=5)  # alone: each of its batches was its own
    assert time.monotonic() - start < 30

    groups = Groups(lambda _, items: list(items), linger=0.2)
    first = threading.Thread(target=groups.submit, args=("k", 1))
    first.start()  # answered once, then gone
    first.join(10)
    start = time.monotonic()
    _loops(groups, threads=1, rounds=5)  # waits for the gone thread once, at most 0.2 s
    assert time.monotonic() - start < 30
