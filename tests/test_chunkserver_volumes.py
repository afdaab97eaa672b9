"""Several data directories per chunkserver (HDFS's volumes): new replicas spread over them,
a directory whose disk fails is taken out with its replicas while the rest keep serving, and
more failures than tolerated make the store give up. Failures here are directories removed or
replaced by a file (what an unmounted disk looks like without root); the fault suite remounts
real filesystems read-only."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

from chunkserver.checksum import BLOCK, block_crcs
from chunkserver.storage import ChunkStore, CorruptReplica
from chunkserver.volumes import Volume
from common import errors

CHUNK = 16 * BLOCK


def dirs(tmp_path: Path, n: int) -> list[Path]:
    return [tmp_path / f"disk{i}" / "chunks" for i in range(n)]


def make(store: ChunkStore, handles: range, data: bytes = b"x" * 100) -> None:
    for handle in handles:
        store.set_version(handle, 1, create=True)
        with store.lock(handle):
            store.write(handle, 1, 0, data)


def where(paths: list[Path]) -> list[set[int]]:
    return [{int(p.stem) for p in path.glob("*.meta")} for path in paths]


def test_new_replicas_spread_over_the_directories_and_are_found_again(tmp_path: Path) -> None:
    paths = dirs(tmp_path, 2)
    store = ChunkStore(paths, CHUNK)
    make(store, range(1, 7))
    first, second = where(paths)
    assert len(first) == len(second) == 3, "one disk: the directory with fewer replicas"
    again = ChunkStore(paths, CHUNK)
    assert sorted(h for h, _, _ in again.reports()) == list(range(1, 7))
    assert all(b"".join(again.read(h, 1, 0, 100, BLOCK)) == b"x" * 100 for h in range(1, 7))


def test_a_failed_directory_is_taken_out_and_the_rest_serve_on(tmp_path: Path) -> None:
    paths = dirs(tmp_path, 2)
    store = ChunkStore(paths, CHUNK, tolerated=1)
    make(store, range(1, 7))
    lost, kept = where(paths)
    shutil.rmtree(paths[0])  # the disk is gone

    victim = min(lost)
    with store.lock(victim), pytest.raises(errors.Unavailable, match=r"data directory .* failed"):
        store.write(victim, 1, 100, b"more")
    assert {h for h, _, _ in store.reports()} == kept, "its replicas are no longer reported"
    assert store.volumes.failed_dirs() == [
        f"{paths[0]}: the directory is gone (unmounted or removed)"
    ]
    assert not store.volumes.gave_up
    for handle in kept:
        assert b"".join(store.read(handle, 1, 0, 100, BLOCK)) == b"x" * 100
    with pytest.raises(errors.NotFound):
        b"".join(store.read(victim, 1, 0, 100, BLOCK))

    make(store, range(10, 13))  # new replicas go to the directory that works
    assert where(paths[1:])[0] == kept | {10, 11, 12}

    shutil.rmtree(paths[1])
    store.check_volumes()  # found idle, by the periodic probe
    assert "2 of 2 data directories failed (1 tolerated)" in store.volumes.gave_up
    with pytest.raises(errors.Unavailable, match="no data directory"):
        store.set_version(20, 1, create=True)


def test_one_failure_more_than_tolerated_gives_up(tmp_path: Path) -> None:
    paths = dirs(tmp_path, 3)
    store = ChunkStore(paths, CHUNK, tolerated=0)
    make(store, range(1, 4))
    shutil.rmtree(paths[2])
    store.check_volumes()
    assert store.volumes.gave_up == "1 of 3 data directories failed (0 tolerated)"
    assert len(store.reports()) == 2


def test_a_directory_that_fails_at_start_counts_against_the_tolerated(tmp_path: Path) -> None:
    paths = dirs(tmp_path, 2)
    paths[1].parent.mkdir(parents=True)
    paths[1].write_bytes(b"a file where a directory should be")
    with pytest.raises(errors.FailedPrecondition, match="cannot start: 1 of 2"):
        ChunkStore(paths, CHUNK)
    store = ChunkStore(paths, CHUNK, tolerated=1)
    assert len(store.volumes.failed_dirs()) == 1
    make(store, range(1, 3))
    assert where(paths[:1])[0] == {1, 2}


def test_a_missing_file_on_a_working_disk_is_the_replicas_fault_not_the_disks(
    tmp_path: Path,
) -> None:
    paths = dirs(tmp_path, 2)
    store = ChunkStore(paths, CHUNK)
    make(store, range(1, 3))
    handle = min(where(paths)[0])
    (paths[0] / f"{handle}.chunk").unlink()
    with pytest.raises(CorruptReplica, match="data file is missing"):
        b"".join(store.read(handle, 1, 0, 100, BLOCK))
    assert handle in store.corrupt
    assert store.volumes.failed_dirs() == [] and not store.volumes.gave_up


def test_a_full_disk_is_not_a_failed_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    volume = Volume(tmp_path)

    def fsync(error: int) -> None:
        def fail(fd: int) -> None:
            raise OSError(error, os.strerror(error))

        monkeypatch.setattr(os, "fsync", fail)

    fsync(errno.ENOSPC)
    assert volume.probe() == ""
    fsync(errno.EIO)
    assert volume.probe() == os.strerror(errno.EIO)
    fsync(errno.EROFS)
    assert volume.probe() == os.strerror(errno.EROFS)


def test_a_directory_whose_probe_is_slow_is_reported_slow_not_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = dirs(tmp_path, 2)
    store = ChunkStore(paths, 4 * BLOCK, tolerated=1, slow_after=0.05)
    store.check_volumes()
    assert store.volumes.slow_dirs() == [] and store.volumes.failed_dirs() == []
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        time.sleep(0.1)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    store.check_volumes()
    slow = store.volumes.slow_dirs()
    assert [s.split(": ")[0] for s in slow] == [str(p) for p in paths]
    assert all(s.split(": ")[1].startswith("a probe took ") for s in slow)
    assert store.volumes.failed_dirs() == [], "slow is not failed: it serves on"
    monkeypatch.setattr(os, "fsync", real_fsync)
    store.check_volumes()
    assert store.volumes.slow_dirs() == [], "fast again, no longer reported"


def test_a_chunk_found_in_two_directories_keeps_the_newer(tmp_path: Path) -> None:
    """A directory that failed, whose replicas were copied to another meanwhile, comes back."""
    paths = dirs(tmp_path, 2)
    store = ChunkStore(paths[:1], CHUNK)
    make(store, range(1, 2), b"old")
    shutil.copytree(paths[0], paths[1])
    newer = ChunkStore(paths[1:], CHUNK)
    newer.set_version(1, 2, create=False)
    with newer.lock(1):
        newer.write(1, 2, 0, b"new")
    both = ChunkStore(paths, CHUNK)
    assert both.reports() == [(1, 2, 3)]
    assert b"".join(both.read(1, 2, 0, 3, BLOCK)) == b"new"
    assert where(paths) == [set(), {1}], "the older replica's files are removed"


def test_probes_at_once_never_fail_a_working_directory(tmp_path: Path) -> None:
    """The periodic check and a request's disk error may probe together (one removed the
    other's probe file, and a full disk's directory was taken out for it)."""
    volume = Volume(tmp_path)
    found: list[str] = []

    def probe() -> None:
        found.extend(volume.probe() for _ in range(100))

    threads = [threading.Thread(target=probe) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert found == [""] * 600


def test_a_copy_made_on_another_disk_is_kept_in_the_replicas_directory(tmp_path: Path) -> None:
    """Copies and first pushes are made in the spool, on the first disk, and renamed into the
    replica's directory; renamed across disks, that failed (EXDEV) and the copy never landed."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another filesystem than the test's tmp directory")
    other = Path(tempfile.mkdtemp(dir=shm))
    try:
        store = ChunkStore([other / "chunks"], CHUNK)
        source = tmp_path / "spooled"
        source.write_bytes(b"y" * 1000)
        store.adopt(7, 3, source, 1000, tuple(block_crcs(b"y" * 1000)), {"rec": 0})
        assert b"".join(store.read(7, 3, 0, 1000, BLOCK)) == b"y" * 1000
        assert not source.exists() and not list((other / "chunks").glob("*.tmp"))
        again = ChunkStore([other / "chunks"], CHUNK)
        assert again.reports() == [(7, 3, 1000)] and again.recorded(7, "rec") == 0
    finally:
        shutil.rmtree(other)


def test_a_disk_failing_under_an_append_record_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fault suite's EIO under a primary's append met noting the record's id, and the
    append failed with an unexpected error (a traceback in the server's log)."""
    paths = dirs(tmp_path, 2)
    store = ChunkStore(paths, CHUNK, tolerated=1)
    make(store, range(1, 3))

    def eio(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "fsync", eio)  # the probe too: the whole disk fails
    with store.lock(1), pytest.raises(errors.Unavailable, match=r"data directory .* failed"):
        store.record_many(1, [("r1", 0)])
    assert len(store.volumes.failed_dirs()) == 1
