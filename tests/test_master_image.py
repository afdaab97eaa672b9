"""The image: a start reads the state from `master.image` and the log after it, exactly the
state the tables hold; an image that is not whole, not this store's, or older than the log is
passed over with one warning line for the tables; a cut taken while changes land is exactly the
state as of its log entry; the timer writes a new image when one is due."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest

from master import image, namespace
from master.config import MasterConfig
from master.service import MasterService
from master.state import MasterState
from master.store import Store
from master.storecheck import StoreDamaged


def service(data: Path, every: int = 0, retain: int = 1_000_000) -> MasterService:
    config = MasterConfig(data_dir=data, image_every=every, oplog_retain=retain)
    return MasterService(config, Store(data / "master.db"))


def fill(svc: MasterService, first: int, count: int, top: str = "/d") -> None:
    meta = svc.metadata
    for i in range(first, first + count):
        path = f"{top}{i % 3}/f{i}"
        svc.mkdir(f"{top}{i % 3}", parents=True)
        svc.create(path)
        meta.commit(meta.plan(lambda p=path: namespace.add_chunks(meta.state, p, 0, 1.0)))
        svc.extend(path, 100 + i)
        if i % 4 == 0:
            svc.set_replication(path, 2)  # the chunk's row rewritten


def same(a: MasterState, b: MasterState) -> None:
    assert a.nodes == b.nodes
    assert a.children == b.children
    assert a.chunks == b.chunks
    assert a.next_handle == b.next_handle


def written(svc: MasterService) -> image.Cut:
    cut = svc.images.write()
    assert cut is not None
    return cut


def reopened(data: Path) -> Store:
    return Store(data / "master.db")


def test_a_start_reads_the_image_and_replays_the_log_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = service(tmp_path)
    fill(svc, 0, 20)
    cut = written(svc)
    svc.delete("/d1", recursive=True, skip_trash=True)  # after the image: replayed at start
    svc.rename("/d2", "/moved")
    fill(svc, 20, 5, top="/e")
    svc.store.close()
    assert cut.seq < reopened(tmp_path).last_seq

    def no_tables(self: Store) -> MasterState:
        raise AssertionError("the tables were read")

    store = reopened(tmp_path)
    with monkeypatch.context() as patched:
        patched.setattr(Store, "load", no_tables)
        loaded = image.load_state(store)
    same(loaded, store.load())
    assert "/moved" in loaded.children and "/d1" not in loaded.nodes
    assert len(loaded.chunks) == 25 - 7 and loaded.next_handle == 26


@pytest.mark.parametrize(
    "damage",
    ["torn", "flipped bit", "another store's", "entries compacted", "checkpoint installed"],
)
def test_an_image_that_cannot_be_used_is_passed_over_for_the_tables(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    svc = service(tmp_path, retain=3)
    fill(svc, 0, 10)
    written(svc)
    fill(svc, 10, 5)
    path = image.path_of(svc.store)
    if damage == "torn":
        os.truncate(path, path.stat().st_size // 2)
    elif damage == "flipped bit":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x10
        path.write_bytes(bytes(data))
    elif damage == "another store's":  # a store restored from elsewhere, with its own image
        other = service(tmp_path / "other")
        fill(other, 0, 3)
        written(other)
        path.write_bytes(image.path_of(other.store).read_bytes())
    elif damage == "entries compacted":
        svc.compact_log()
        assert svc.images.due(), "an image the log no longer reaches is due to be replaced"
    else:
        rows = [row for page in svc.metadata.checkpoint()[1] for row in page]
        svc.store.install_checkpoint(svc.store.last_seq, rows)
    svc.store.close()
    store = reopened(tmp_path)
    with caplog.at_level(logging.WARNING, logger="master.image"):
        loaded = image.load_state(store)
    same(loaded, store.load())
    if damage == "checkpoint installed":  # the store names no image: nothing to warn of
        assert store.image is None and not caplog.records
    else:
        assert [r.getMessage() for r in caplog.records if "not used" in r.getMessage()]


def test_a_damaged_store_is_refused_even_with_a_good_image(tmp_path: Path) -> None:
    svc = service(tmp_path)
    fill(svc, 0, 300)
    written(svc)
    svc.store.close()
    db = tmp_path / "master.db"
    os.truncate(db, db.stat().st_size // 2)
    with pytest.raises(StoreDamaged, match="is damaged"):
        image.load_state(reopened(tmp_path))


def test_a_cut_is_the_state_as_of_its_entry_while_changes_land(tmp_path: Path) -> None:
    """Eight threads create files while images are cut: each cut holds exactly the files whose
    create entries are at or before its sequence number."""
    svc = service(tmp_path)
    svc.mkdir("/d", parents=False)
    stop = threading.Event()
    failures: list[BaseException] = []

    def create(worker: int) -> None:
        i = 0
        while not stop.is_set():
            try:
                svc.create(f"/d/w{worker}-{i}")
            except BaseException as err:
                failures.append(err)
                return
            i += 1

    threads = [threading.Thread(target=create, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    cuts = []
    try:
        while len(cuts) < 5:
            if svc.store.last_seq > 50 * (len(cuts) + 1):
                cuts.append(svc.metadata.cut())
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not failures
    log = [e for page in svc.stream_log(0, False, 0, lambda: True) for e in page]
    for cut in cuts:
        logged = {e.args["path"] for e in log if e.op == "create" and e.seq <= cut.seq}
        files = {p for p, n in cut.nodes.items() if not n.is_dir}
        assert files == logged, f"the cut as of entry {cut.seq}"
    assert len({c.seq for c in cuts}) == 5


def test_the_timer_writes_an_image_when_one_is_due_and_a_restart_uses_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    svc = service(tmp_path, every=20)
    fill(svc, 0, 2)
    svc.tick(balance=False)
    assert svc.store.image is None, "not due: fewer than 20 entries"
    fill(svc, 2, 10)
    with caplog.at_level(logging.INFO, logger="master.image"):
        svc.tick(balance=False)
        for thread in threading.enumerate():
            if thread.name == "image-writer":
                thread.join()
    assert svc.store.image is not None and svc.store.image[1] >= 20
    assert any("image written" in r.getMessage() for r in caplog.records)
    assert not svc.images.due()
    svc.store.close()
    again = service(tmp_path, every=20)  # the image and the entries after it
    same(again.metadata.state, again.store.load())


def test_an_image_that_cannot_be_written_leaves_the_last_one_standing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    svc = service(tmp_path, every=1)
    fill(svc, 0, 5)
    first = written(svc)
    fill(svc, 5, 5)

    def full(path: Path, parts: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(image, "replace_file", full)
    with caplog.at_level(logging.WARNING, logger="master.image"):
        svc.images._write_quietly()
    assert any("image not written" in r.getMessage() for r in caplog.records)
    assert svc.store.image is not None and svc.store.image[1] == first.seq
    svc.store.close()
    store = reopened(tmp_path)
    same(image.load_state(store), store.load())  # the first image and the log after it
