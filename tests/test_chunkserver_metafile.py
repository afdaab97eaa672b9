"""A replica's metadata file: two slots written in turn, so a crash mid-write keeps the last
metadata; files in the format before slots still read."""

from __future__ import annotations

from pathlib import Path

import pytest

from chunkserver import metafile
from chunkserver.checksum import BLOCK
from chunkserver.metafile import ReplicaMeta, Slots
from chunkserver.storage import ChunkStore

CHUNK = 16 * BLOCK


def meta(version: int, blocks: int) -> ReplicaMeta:
    return ReplicaMeta(version, blocks * BLOCK, list(range(blocks)))


def test_changes_overwrite_the_slots_in_turn_in_a_file_whose_size_stays(tmp_path: Path) -> None:
    path = tmp_path / "1.meta"
    slots = metafile.save(path, meta(1, 0), Slots(), CHUNK)
    size = path.stat().st_size
    assert size % 4096 == 0 and slots.size == size // 2
    for version in range(2, 7):
        before = path.read_bytes()
        slots = metafile.save(path, meta(version, version), slots, CHUNK)
        after = path.read_bytes()
        assert len(after) == size, "overwritten in place"
        older = (slots.generation + 1) % 2 * slots.size
        assert after[older : older + slots.size] == before[older : older + slots.size]
        assert metafile.load(path) == (meta(version, version), slots)


def test_a_write_cut_short_leaves_the_metadata_from_before_it(tmp_path: Path) -> None:
    path = tmp_path / "1.meta"
    slots = metafile.save(path, meta(1, 2), Slots(), CHUNK)
    slots = metafile.save(path, meta(2, 3), slots, CHUNK)
    raw = bytearray(path.read_bytes())
    newest = slots.generation % 2 * slots.size
    raw[newest + 40] ^= 0xFF  # the newest slot torn by a crash
    path.write_bytes(bytes(raw))
    loaded, at = metafile.load(path)
    assert loaded == meta(1, 2) and at.generation == slots.generation - 1
    # The next change goes to the torn slot's turn after the one it fell back to: never over
    # the intact one.
    metafile.save(path, meta(3, 4), at, CHUNK)
    assert metafile.load(path)[0] == meta(3, 4)
    raw = bytearray(path.read_bytes())
    raw[at.generation % 2 * at.size + 40] ^= 0xFF
    path.write_bytes(bytes(raw))
    assert metafile.load(path)[0] == meta(3, 4)


def test_a_file_with_no_intact_slot_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "1.meta"
    metafile.save(path, meta(1, 1), Slots(), CHUNK)
    path.write_bytes(bytes(path.stat().st_size))
    with pytest.raises(ValueError):
        metafile.load(path)


def test_a_replica_in_the_format_before_slots_is_read_and_rewritten_in_slots(
    tmp_path: Path,
) -> None:
    store = ChunkStore(tmp_path, CHUNK)
    store.set_version(1, 1, create=True)
    store.write(1, 1, 0, b"kept across the upgrade")
    (tmp_path / "1.meta").write_bytes(store.metas[1].encode())  # what the old code wrote
    again = ChunkStore(tmp_path, CHUNK)
    assert b"".join(again.read(1, 1, 0, CHUNK, piece=BLOCK)) == b"kept across the upgrade"
    again.write(1, 1, 4, b"!")
    assert metafile.load(tmp_path / "1.meta")[1].size > 0, "in slots after its first change"
    final = ChunkStore(tmp_path, CHUNK)
    assert b"".join(final.read(1, 1, 0, CHUNK, piece=BLOCK)) == b"kept!across the upgrade"
