"""Pushes placed past a replica's end while they arrive (chunkserver/staging.py): applied by a
sync and the metadata, given up whenever anything else changes the replica first, never read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chunkserver import staging as staging_module
from chunkserver.checksum import BLOCK
from chunkserver.staging import Staging
from chunkserver.storage import ChunkStore
from common import errors

CHUNK = 16 * BLOCK
START = BLOCK + 100  # the replica's end: mid-block, so the first staged block continues one


def read_all(store: ChunkStore, handle: int = 1, version: int = 1) -> bytes:
    return b"".join(store.read(handle, version, 0, CHUNK, piece=3 * BLOCK))


@pytest.fixture
def store(tmp_path: Path) -> ChunkStore:
    s = ChunkStore(tmp_path, CHUNK)
    s.set_version(1, 1, create=True)
    s.write(1, 1, 0, b"\x01" * START)
    return s


def push(staging: Staging, data: bytes, piece: int = 5000) -> None:
    for i in range(0, len(data), piece):
        staging.write(data[i : i + piece])
    staging.finish(len(data))


def staged(store: ChunkStore, data: bytes, offset: int = -1, data_id: str = "d") -> Staging:
    staging = store.stage(1, data_id, offset, now=0.0)
    assert staging is not None
    push(staging, data)
    return staging


def data_file_size(tmp_path: Path) -> int:
    return (tmp_path / "1.chunk").stat().st_size


def test_a_push_placed_at_the_end_is_applied_where_it_lies(
    store: ChunkStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(3 * BLOCK + 17)
    staged(store, data)
    assert store.metas[1].length == START, "placed, not yet applied: the replica claims nothing"
    assert read_all(store) == b"\x01" * START

    pwrite = os.pwrite

    def no_rewrite(fd: int, written: bytes, offset: int) -> int:
        assert len(written) < BLOCK, "the staged bytes were written again"
        return pwrite(fd, written, offset)  # the metadata

    monkeypatch.setattr("os.pwrite", no_rewrite)
    with store.lock(1):
        assert store.commit_staged(1, 1, START, "d", len(data)) == START + len(data)
    assert read_all(store) == b"\x01" * START + data
    assert read_all(ChunkStore(tmp_path, CHUNK)) == b"\x01" * START + data, "durable, checksums too"


def test_a_crash_before_the_apply_leaves_the_replica_as_it_was(
    store: ChunkStore, tmp_path: Path
) -> None:
    staged(store, os.urandom(2 * BLOCK))
    again = ChunkStore(tmp_path, CHUNK)  # the server restarts: the mutation never came
    assert again.metas[1].length == START and 1 not in again.corrupt
    assert read_all(again) == b"\x01" * START
    again.write(1, 1, START + 10, b"tail")
    assert read_all(again) == b"\x01" * START + bytes(10) + b"tail", "a gap reads as zeros"


@pytest.mark.parametrize(
    "other",
    [
        lambda s: s.write(1, 1, START, b"another writer got there first"),
        lambda s: s.write(1, 1, 0, b"an overwrite before the end"),
        lambda s: s.write(1, 1, START, bytes(CHUNK - START)),  # padding
    ],
    ids=["write-at-the-end", "overwrite", "padding"],
)
def test_any_other_mutation_first_ends_the_staging_and_trims_it(
    store: ChunkStore, tmp_path: Path, other: object
) -> None:
    data = os.urandom(2 * BLOCK)
    staging = store.stage(1, "d", -1, now=0.0)
    assert staging is not None
    staging.write(data[:BLOCK])
    with store.lock(1):
        other(store)  # type: ignore[operator]
    expected = read_all(store)
    assert data_file_size(tmp_path) == store.metas[1].length, "the staged bytes are trimmed"
    staging.write(data[BLOCK:])  # the rest of the push arrives: lands nowhere
    staging.finish(len(data))
    with store.lock(1):
        assert store.commit_staged(1, 1, START, "d", len(data)) is None
    assert read_all(store) == expected


def test_the_apply_of_another_push_or_offset_does_not_take_the_staged_bytes(
    store: ChunkStore,
) -> None:
    staged(store, os.urandom(BLOCK), data_id="d")
    with store.lock(1):
        assert store.commit_staged(1, 1, START, "other", BLOCK) is None
        assert store.commit_staged(1, 1, START + 1, "d", BLOCK) is None
        assert store.commit_staged(1, 1, START, "d", BLOCK - 1) is None
        with pytest.raises(errors.StaleReplica):
            store.commit_staged(1, 2, START, "d", BLOCK)
    assert store.metas[1].length == START


def test_only_a_push_for_the_end_of_a_written_replica_is_staged(
    store: ChunkStore, tmp_path: Path
) -> None:
    assert store.stage(1, "d", START - 1, now=0.0) is None, "an overwrite is merged at its apply"
    assert store.stage(2, "d", -1, now=0.0) is None, "no replica here"
    assert 2 not in store._locks, "a handle named at random leaves nothing behind"
    store.set_version(3, 1, create=True)
    assert store.stage(3, "d", 0, now=0.0) is None, "an empty replica takes its push by rename"
    with store.lock(1):
        assert store.stage(1, "d", -1, now=0.0) is None, "a mutation is under way"
    assert store.stage(1, "d", START, now=0.0) is not None


def test_one_push_at_a_time_is_staged_and_a_forgotten_one_gives_way(store: ChunkStore) -> None:
    first = staged(store, b"first", data_id="first")
    assert store.stage(1, "second", -1, now=1.0) is None, "the first push's mutation may come"
    later = staging_module.STALE_AFTER + 1
    second = store.stage(1, "second", -1, now=later)
    assert second is not None
    push(second, b"second")
    with store.lock(1):
        assert store.commit_staged(1, 1, START, "first", first.size) is None
        assert store.commit_staged(1, 1, START, "second", 6) == START + 6
    assert read_all(store).endswith(b"\x01second")


def test_a_failed_push_is_given_up_and_trimmed(store: ChunkStore, tmp_path: Path) -> None:
    staging = store.stage(1, "d", -1, now=0.0)
    assert staging is not None
    staging.write(os.urandom(BLOCK))
    store.unstage(staging)
    assert data_file_size(tmp_path) == START
    assert store.stage(1, "next", -1, now=0.0) is not None, "the end is free again"


def test_a_full_disk_while_placing_falls_back_to_the_spooled_copy(
    store: ChunkStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staging = store.stage(1, "d", -1, now=0.0)
    assert staging is not None
    staging.write(b"x" * BLOCK)

    def full(*args: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("chunkserver.staging.os.pwrite", full)
    staging.write(b"y" * BLOCK)
    staging.finish(2 * BLOCK)
    monkeypatch.undo()
    with store.lock(1):
        assert store.commit_staged(1, 1, START, "d", 2 * BLOCK) is None
        store.write(1, 1, START, b"x" * BLOCK + b"y" * BLOCK)  # what the servicer does then
    assert read_all(store) == b"\x01" * START + b"x" * BLOCK + b"y" * BLOCK


def test_nothing_is_placed_past_the_chunk(store: ChunkStore, tmp_path: Path) -> None:
    staging = staged(store, os.urandom(CHUNK - START + 1))
    assert not staging.complete
    assert data_file_size(tmp_path) <= CHUNK
