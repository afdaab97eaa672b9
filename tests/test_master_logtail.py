"""The op log's newest entries in memory: an unbroken run ending at the newest, or nothing."""

from __future__ import annotations

from master.logtail import LogTail
from master.rows import LogEntry


def entries(*seqs: int) -> list[LogEntry]:
    return [LogEntry(seq, float(seq), "mkdir", "{}", "[]") for seq in seqs]


def test_the_tail_answers_only_what_it_holds_without_a_gap() -> None:
    tail = LogTail(kept=4)
    assert tail.after(0, 10) is None, "empty: the store answers"
    tail.add(entries(1, 2, 3))
    tail.add(entries(4, 5))
    assert [e.seq for e in tail.after(2, 10) or []] == [3, 4, 5]
    assert [e.seq for e in tail.after(2, 1) or []] == [3]
    assert tail.after(0, 10) is None, "entry 1 fell out (4 kept): the store answers"
    assert tail.after(5, 10) == [], "nothing past the newest, here or in the store"
    tail.add(entries(9))  # not after 5 (a checkpoint, say): the run starts again
    assert tail.after(5, 10) is None and tail.after(9, 10) == []
    assert [e.seq for e in tail.after(8, 10) or []] == [9]
    tail.clear()
    assert tail.after(8, 10) is None
