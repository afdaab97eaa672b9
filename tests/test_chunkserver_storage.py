"""Chunk replicas on disk: checksums per 64 KiB block, partial overwrites, crash leftovers."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from chunkserver import storage
from chunkserver.checksum import BLOCK, block_crcs
from chunkserver.metafile import ReplicaMeta
from chunkserver.storage import ChunkStore, CorruptReplica
from common import durable, errors

CHUNK = 16 * BLOCK


def read_all(
    store: ChunkStore, handle: int, version: int, offset: int = 0, length: int = CHUNK
) -> bytes:
    return b"".join(store.read(handle, version, offset, length, piece=3 * BLOCK))


@pytest.fixture
def store(tmp_path: Path) -> ChunkStore:
    s = ChunkStore(tmp_path, CHUNK)
    s.set_version(1, 1, create=True)
    return s


@pytest.mark.parametrize(
    ("offset", "size"),
    [
        (0, 1),
        (0, BLOCK),
        (0, BLOCK + 1),
        (BLOCK - 1, 2),
        (3 * BLOCK + 7, 2 * BLOCK + 11),
        (0, CHUNK),
    ],
)
def test_writes_at_any_alignment_read_back_exactly(
    store: ChunkStore, offset: int, size: int
) -> None:
    model = bytearray()
    for round_ in range(3):
        data = os.urandom(size)
        start = (offset + round_ * 5000) % (CHUNK - size + 1)
        store.write(1, 1, start, data)
        if start > len(model):
            model += bytes(start - len(model))
        model[start : start + size] = data
        assert read_all(store, 1, 1) == bytes(model)
        assert read_all(store, 1, 1, offset=start, length=size) == data


def test_a_write_past_the_end_leaves_a_zero_gap_with_valid_checksums(store: ChunkStore) -> None:
    store.write(1, 1, 0, b"abc")
    store.write(1, 1, 2 * BLOCK + 5, b"xyz")
    expected = b"abc" + bytes(2 * BLOCK + 2) + b"xyz"
    assert read_all(store, 1, 1) == expected


def test_peek_reads_verified_bytes_and_zeros_past_the_end(store: ChunkStore) -> None:
    store.write(1, 1, 0, b"abc")
    store.write(1, 1, BLOCK + 5, b"xyz")
    assert store.peek(1, 1, 1, 2) == b"bc"
    assert store.peek(1, 1, BLOCK, 8) == bytes(5) + b"xyz"
    assert store.peek(1, 1, BLOCK + 6, 6) == b"yz" + bytes(4), "zeros past the end"
    assert store.peek(1, 1, CHUNK - 4, 4) == bytes(4)
    with pytest.raises(errors.StaleReplica):
        store.peek(1, 2, 0, 1)


def test_a_flipped_bit_is_detected_and_never_returned(store: ChunkStore, tmp_path: Path) -> None:
    data = os.urandom(4 * BLOCK)
    store.write(1, 1, 0, data)
    path = tmp_path / "1.chunk"
    raw = bytearray(path.read_bytes())
    raw[2 * BLOCK + 100] ^= 0x01
    path.write_bytes(raw)
    assert read_all(store, 1, 1, 0, BLOCK) == data[:BLOCK], "untouched blocks still read"
    with pytest.raises(CorruptReplica):
        read_all(store, 1, 1)
    assert 1 in store.corrupt and 1 not in [h for h, _, _ in store.reports()]
    with pytest.raises(errors.DataLoss):  # a corrupt replica serves nothing afterwards
        read_all(store, 1, 1, 0, BLOCK)


def test_an_overwrite_verifies_the_blocks_it_merges_with(store: ChunkStore, tmp_path: Path) -> None:
    store.write(1, 1, 0, os.urandom(2 * BLOCK))
    raw = bytearray((tmp_path / "1.chunk").read_bytes())
    raw[5] ^= 0xFF
    (tmp_path / "1.chunk").write_bytes(raw)
    with pytest.raises(CorruptReplica):
        store.write(1, 1, 10, b"partial block")


def test_versions_must_match_and_never_go_back(store: ChunkStore) -> None:
    store.write(1, 1, 0, b"data")
    with pytest.raises(errors.StaleReplica):
        read_all(store, 1, 2)
    with pytest.raises(errors.StaleReplica):
        store.write(1, 2, 0, b"x")
    store.set_version(1, 3, create=False)
    assert read_all(store, 1, 3) == b"data"
    with pytest.raises(errors.FailedPrecondition):
        store.set_version(1, 2, create=False)


def test_writes_outside_the_chunk_are_refused(store: ChunkStore) -> None:
    with pytest.raises(errors.InvalidArgument):
        store.write(1, 1, CHUNK - 1, b"ab")


def test_restart_reloads_replicas_and_ignores_crash_leftovers(
    store: ChunkStore, tmp_path: Path
) -> None:
    data = os.urandom(BLOCK + 10)
    store.write(1, 1, 0, data)
    # A crash after the data was extended but before the metadata was renamed into place:
    with open(tmp_path / "1.chunk", "ab") as f:
        f.write(b"never acknowledged")
    (tmp_path / "1.meta.tmp").write_bytes(b"half-written metadata")
    again = ChunkStore(tmp_path, CHUNK)
    assert read_all(again, 1, 1) == data
    assert not (tmp_path / "1.meta.tmp").exists()


def test_metadata_claiming_missing_bytes_marks_the_replica_corrupt(
    store: ChunkStore, tmp_path: Path
) -> None:
    store.write(1, 1, 0, os.urandom(3 * BLOCK))
    os.truncate(tmp_path / "1.chunk", BLOCK)
    again = ChunkStore(tmp_path, CHUNK)
    assert 1 in again.corrupt
    with pytest.raises(errors.DataLoss):
        read_all(again, 1, 1)


def test_garbled_metadata_is_rejected() -> None:
    raw = bytearray(ReplicaMeta(3, 5, [123]).encode())
    assert ReplicaMeta.decode(bytes(raw)) == ReplicaMeta(3, 5, [123])
    raw[6] ^= 1
    with pytest.raises(ValueError):
        ReplicaMeta.decode(bytes(raw))


def test_delete_respects_the_version_bound(store: ChunkStore) -> None:
    store.set_version(1, 4, create=False)
    assert not store.delete(1, max_version=3), "a replica upgraded since the report stays"
    assert store.delete(1, max_version=4)
    assert store.reports() == []


def test_delete_many_syncs_each_directory_once(
    store: ChunkStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    for handle in (2, 3, 4):
        store.set_version(handle, 1, create=True)
    store.set_version(4, 2, create=False)
    synced: list[Path] = []
    monkeypatch.setattr(storage, "fsync_dir", synced.append)
    assert store.delete_many([(2, 1), (3, 1), (4, 1), (99, 1)]) == [2, 3]
    assert [h for h, _, _ in store.reports()] == [1, 4], "v2 is above the bound; 99 is no replica"
    assert len(synced) == 1, synced


def test_install_replaces_the_whole_replica_by_a_rename(store: ChunkStore, tmp_path: Path) -> None:
    store.write(1, 1, 0, b"old bytes")
    data = os.urandom(2 * BLOCK + 3)
    source = tmp_path / "pushed.spool"
    source.write_bytes(data)
    with pytest.raises(errors.InvalidArgument):
        store.install(1, 1, source, 4, tuple(block_crcs(data[:4])))  # would lose "old bytes"
    assert store.install(1, 1, source, len(data), tuple(block_crcs(data))) == len(data)
    assert not source.exists()
    assert read_all(store, 1, 1) == data
    assert read_all(ChunkStore(tmp_path, CHUNK), 1, 1) == data, "durable across a restart"


def test_record_ids_survive_a_restart_go_with_the_replica_and_travel_with_a_copy(
    store: ChunkStore, tmp_path: Path
) -> None:
    with store.lock(1):
        store.write(1, 1, 0, b"r1")
        store.record(1, "id-1", 0)
    assert ChunkStore(tmp_path, CHUNK).recorded(1, "id-1") == 0
    copy_dir = tmp_path / "copy"
    other = ChunkStore(copy_dir, CHUNK)
    source = copy_dir / "incoming"
    source.write_bytes(b"r1")
    other.adopt(1, 1, source, 2, tuple(block_crcs(b"r1")), {"id-1": 0})
    assert ChunkStore(copy_dir, CHUNK).recorded(1, "id-1") == 0
    store.delete(1, max_version=1)
    assert ChunkStore(tmp_path, CHUNK).recorded(1, "id-1") is None


def test_a_created_replica_survives_a_restart_before_its_first_write(tmp_path: Path) -> None:
    store = ChunkStore(tmp_path, CHUNK)
    store.set_version(7, 1, create=True)
    store.set_version(7, 2, create=False)  # its first lease
    again = ChunkStore(tmp_path, CHUNK)
    assert again.metas[7] == ReplicaMeta(2, 0)
    assert 7 not in again.corrupt
    assert read_all(again, 7, 2) == b""


def test_replicas_made_in_a_batch_survive_a_restart_with_one_sync_of_their_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The master's pool of new chunks asks for many empty replicas at once: all durable when
    the call returns, their directory synced once, not once a replica."""
    store = ChunkStore(tmp_path, CHUNK)
    synced: list[Path] = []
    real = durable.fsync_dir
    monkeypatch.setattr(durable, "fsync_dir", lambda p: (synced.append(p), real(p)))
    store.create([5, 6, 7], 2)
    assert len(synced) == 1, synced
    assert not list(tmp_path.rglob("*.tmp"))
    again = ChunkStore(tmp_path, CHUNK)
    assert {h: again.metas[h] for h in (5, 6, 7)} == dict.fromkeys((5, 6, 7), ReplicaMeta(2, 0))
    assert not again.corrupt
    again.write(6, 2, 0, b"first")
    assert read_all(again, 6, 2) == b"first"


def test_a_batch_with_a_replica_held_already_makes_none(store: ChunkStore, tmp_path: Path) -> None:
    with pytest.raises(errors.FailedPrecondition, match="chunk 1 has a replica here already"):
        store.create([8, 1, 9], 2)
    assert 8 not in store.metas and 9 not in store.metas
    assert not list(tmp_path.rglob("8.*")) and not list(tmp_path.rglob("9.*"))
    with pytest.raises(errors.InvalidArgument, match="distinct"):
        store.create([8, 8], 2)
    with pytest.raises(errors.InvalidArgument, match="a chunk handle"):
        store.create([0], 2)


def test_data_a_crash_left_without_metadata_is_removed_on_restart(tmp_path: Path) -> None:
    store = ChunkStore(tmp_path, CHUNK)
    store.set_version(1, 1, create=True)
    store.write(1, 1, 0, b"kept")
    (tmp_path / "9.chunk").write_bytes(b"a copy cut short before its metadata")
    (tmp_path / "9.ids").write_text("0 some-record\n")
    again = ChunkStore(tmp_path, CHUNK)
    assert sorted(p.name for p in tmp_path.glob("*.chunk")) == ["1.chunk"]
    assert not (tmp_path / "9.ids").exists()
    assert read_all(again, 1, 1) == b"kept"


@pytest.mark.parametrize("fails", ["ids", "meta"])
def test_a_copy_that_cannot_be_kept_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails: str
) -> None:
    """A full disk while a verified copy is put in place (its record ids, or its metadata after
    the data was renamed in): a clear error, and no file of it left for nobody to remove (the
    fault suite found a `.chunk` without metadata on a full server, never reclaimed)."""
    store = ChunkStore(tmp_path / "s", CHUNK)
    source = tmp_path / "incoming"
    source.write_bytes(b"copy")

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    if fails == "meta":
        monkeypatch.setattr(store, "_save_meta", full)
    else:
        monkeypatch.setattr("chunkserver.storage.os.replace", full)
    with pytest.raises(errors.ResourceExhausted, match="No space left"):
        store.adopt(1, 1, source, 4, tuple(block_crcs(b"copy")), {"id": 0})
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == []
    assert not source.exists() and store.reports() == []


def test_a_write_the_disk_fills_up_during_fails_saying_so_and_changes_nothing(
    store: ChunkStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk that fills up takes part of a write and refuses the rest: the client is told
    the disk is full (it said "short write of chunk 1"), and the replica is as it was."""
    store.write(1, 1, 0, b"a" * 100)
    pwrite, calls = os.pwrite, []

    def filling_up(fd: int, data: bytes, offset: int) -> int:
        calls.append(len(data))
        if len(calls) > 1:
            raise OSError(28, "No space left on device")
        return pwrite(fd, bytes(data)[: len(data) // 2], offset)

    monkeypatch.setattr(durable.os, "pwrite", filling_up)
    with pytest.raises(errors.ResourceExhausted, match="chunk 1: No space left on device"):
        store.write(1, 1, 100, b"b" * (3 * BLOCK))
    monkeypatch.undo()
    assert len(calls) == 2, "the rest of the write was tried, and refused"
    assert store.length(1) == 100 and read_all(store, 1, 1) == b"a" * 100


def test_a_thread_waiting_on_a_replica_being_deleted_still_excludes_the_next_one(
    store: ChunkStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock table dropped a replica's lock when the replica was deleted, while another
    thread waited on it: that thread then held a lock nobody else would ever take again, and
    the next writer of the handle got a fresh one. Two holders of one replica's lock."""
    dropping, go_on = threading.Event(), threading.Event()
    drop = store._drop

    def slow_drop(handle: int, sync: bool = True) -> Path:
        dropping.set()
        assert go_on.wait(10)
        return drop(handle, sync)

    monkeypatch.setattr(store, "_drop", slow_drop)
    deleting = threading.Thread(target=store.delete, args=(1, 1))
    deleting.start()
    assert dropping.wait(10)
    holding, let_go, third_in = threading.Event(), threading.Event(), threading.Event()

    def hold() -> None:
        with store.lock(1):
            holding.set()
            assert let_go.wait(10)

    def take() -> None:
        with store.lock(1):
            third_in.set()

    waiter = threading.Thread(target=hold)
    waiter.start()
    time.sleep(0.2)  # the waiter is now waiting on the lock the delete holds
    go_on.set()
    deleting.join(10)
    assert holding.wait(10)
    third = threading.Thread(target=take)
    third.start()
    overlapped = third_in.wait(0.5)
    let_go.set()
    waiter.join(10)
    third.join(10)
    assert not overlapped, "a second thread took the lock the waiter holds"
    assert third_in.is_set()


def test_a_damaged_id_file_marks_its_replica_corrupt_and_the_server_still_starts(
    tmp_path: Path,
) -> None:
    store = ChunkStore(tmp_path, CHUNK)
    for handle in (1, 2, 3):
        store.set_version(handle, 1, create=True)
        store.write(handle, 1, 0, b"r" * 10)
        store.record(handle, f"id-{handle}", 0)
    (tmp_path / "2.ids").write_bytes(b"0 fine\nnot-an-offset x\n")
    with open(tmp_path / "3.ids", "ab") as f:
        f.write(b"10 cut-short-by-a-cra")  # a crash mid-line: that append was never answered
    restarted = ChunkStore(tmp_path, CHUNK)
    assert restarted.corrupt == {2}, "a damaged id file: the replica is re-copied from another"
    assert restarted.ids_of(1) == {"id-1": 0}
    assert restarted.ids_of(3) == {"id-3": 0}, "the torn last line is no record"


def test_a_record_id_that_would_break_the_id_file_is_never_written(store: ChunkStore) -> None:
    with pytest.raises(errors.InvalidArgument, match="record id"):
        store.record(1, "two\nlines", 0)
    assert store.ids_of(1) == {}


def test_every_change_of_a_replica_is_marked_for_the_next_incremental_report(
    store: ChunkStore, tmp_path: Path
) -> None:
    """An incremental heartbeat lists what `changes` marked: a replica missing from it would
    be judged only by the next full report, an hour later."""
    store.changes.take()
    assert store.reports_of(store.changes.take()) == ([], [])
    store.set_version(2, 1, create=True)  # made
    store.write(1, 1, 0, b"x" * 100)  # a new length
    assert store.reports_of(store.changes.take()) == ([(1, 1, 100), (2, 1, 0)], [])
    store.set_version(1, 2, create=False)  # a new version
    assert store.reports_of(store.changes.take()) == ([(1, 2, 100)], [])
    store.delete(2, max_version=1)  # removed
    assert store.reports_of(store.changes.take()) == ([], [2])
    (tmp_path / "1.chunk").write_bytes(b"y" * 100)  # damaged on disk, found by a read
    with pytest.raises(CorruptReplica):
        read_all(store, 1, 2)
    assert store.changes.take() == {1}
    assert store.reports_of({1}) == ([], []), "corrupt: in the corrupt list, neither here nor gone"


def test_the_bytes_used_are_kept_as_replicas_change_not_summed_each_beat(tmp_path: Path) -> None:
    """usage() is in every heartbeat: it summed every replica's length (a million replicas, a
    million additions a second); its running total must match that sum whatever happens."""
    dirs = [tmp_path / "a", tmp_path / "b"]
    store = ChunkStore(dirs, CHUNK, tolerated=1)

    def summed(s: ChunkStore) -> int:
        return sum(m.length for m in s.metas.values())

    for handle in range(1, 7):
        store.set_version(handle, 1, create=True)
        store.write(handle, 1, 0, b"x" * (handle * 1000))
    store.write(2, 1, 500, b"y" * 10)  # inside: no growth
    store.write(3, 1, 5000, b"z" * 100)  # past the end: growth and a gap
    store.set_version(4, 2, create=False)
    store.delete(5, max_version=1)
    assert store.usage()[0] == summed(store) > 0
    store.fail(store.volumes[0], "gone")  # its replicas are forgotten with it
    assert store.usage()[0] == summed(store)
    again = ChunkStore(dirs, CHUNK, tolerated=1)  # loaded from disk
    assert again.usage()[0] == summed(again) > 0
