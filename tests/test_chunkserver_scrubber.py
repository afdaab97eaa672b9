"""The scrubber's schedule (pure) and its verification of a replica on disk."""

from __future__ import annotations

import os
from pathlib import Path

from chunkserver.checksum import BLOCK
from chunkserver.scrubber import Scrubber, ScrubSchedule
from chunkserver.storage import ChunkStore


def test_idle_replicas_are_verified_least_recently_verified_first_once_per_period() -> None:
    schedule = ScrubSchedule(period=100.0, idle=10.0)
    written = {1: 0.0, 2: 0.0, 3: 95.0}
    assert schedule.next(written, now=100.0) == 1, "3 was written 5 s ago: not idle"
    schedule.done(1, now=100.0)
    assert schedule.next(written, now=101.0) == 2
    schedule.done(2, now=101.0)
    assert schedule.next(written, now=150.0) == 3
    schedule.done(3, now=150.0)
    assert schedule.next(written, now=180.0) is None, "all verified within the period"
    assert schedule.next(written, now=200.5) == 1


def test_the_scrubber_finds_a_flipped_bit_a_truncation_and_a_missing_file(tmp_path: Path) -> None:
    store = ChunkStore(tmp_path, 16 * BLOCK)
    for handle in (1, 2, 3, 4):
        store.set_version(handle, 1, create=True)
        with store.lock(handle):
            store.write(handle, 1, 0, os.urandom(3 * BLOCK))
    raw = bytearray((tmp_path / "1.chunk").read_bytes())
    raw[2 * BLOCK + 9] ^= 0x10
    (tmp_path / "1.chunk").write_bytes(raw)
    os.truncate(tmp_path / "2.chunk", BLOCK)
    (tmp_path / "3.chunk").unlink()
    scrubber = Scrubber(store, period=0.0, idle=0.0, rate=1 << 30)
    assert [scrubber.verify(h) for h in (1, 2, 3, 4)] == [False, False, False, True]
    assert store.corrupt == {1, 2, 3}
    assert sorted(h for h, _, _ in store.reports()) == [4], (
        "corrupt replicas are not reported as held"
    )
