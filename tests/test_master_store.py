"""Durability: what was committed comes back on restart; the log and the state agree."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from common import errors
from master import namespace
from master.config import MasterConfig
from master.metadata import Metadata
from master.state import Chunk, MasterState, Mutation, PutChunk
from master.store import Store
from tests.conftest import wait_until


def test_a_clean_restart_finds_namespace_chunks_and_handle_counter(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.db")
    state = store.load()
    for mutation in [
        namespace.mkdir(state, "/d", parents=False, now=1.0),
    ]:
        store.commit(mutation)
        state.apply(mutation)
    for planner in (
        lambda: namespace.create(state, "/d/f", now=2.0),
        lambda: namespace.add_chunks(state, "/d/f", 2, now=3.0),
        lambda: namespace.extend(state, "/d/f", 12345, now=4.0),
        lambda: namespace.create(state, "/gone", now=5.0),
        lambda: namespace.add_chunks(state, "/gone", 0, now=5.0),
        lambda: namespace.delete(state, "/gone", recursive=False),
    ):
        mutation = planner()
        store.commit(mutation)
        state.apply(mutation)
    store.close()

    again = Store(tmp_path / "m.db").load()
    assert again.nodes == state.nodes
    assert again.chunks == state.chunks
    assert again.children == state.children
    assert again.next_handle == state.next_handle == 5


def test_every_mutation_is_one_oplog_row_with_its_changes(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.db")
    state = store.load()
    mutation = namespace.mkdir(state, "/a/b", parents=True, now=1.0)
    seq = store.commit(mutation)
    rows = list(store.db["oplog"].rows)
    assert [r["seq"] for r in rows] == [seq]
    assert rows[0]["op"] == "mkdir"
    assert [c["put_node"]["path"] for c in json.loads(rows[0]["changes"])] == ["/a", "/a/b"]
    assert store.commit(namespace.mkdir(state, "/", parents=True, now=2.0)) == 0, (
        "no-op is not logged"
    )


def test_a_failed_transaction_leaves_neither_log_nor_state(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.db")
    state = store.load()
    mutation = namespace.create(state, "/f", now=1.0)
    store.db.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON nodes BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
    )
    try:
        store.commit(mutation)
    except Exception as err:
        assert "disk on fire" in str(err)
    else:
        raise AssertionError("the commit should have failed")
    assert list(store.db["oplog"].rows) == []
    assert store.db.execute("SELECT count(*) FROM nodes WHERE path = '/f'").fetchone()[0] == 0


def test_concurrent_commits_share_one_transaction(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.db")
    state = store.load()
    mutations = [namespace.create(state, f"/f{i}", now=1.0) for i in range(40)]
    seqs: list[int] = []
    with store._lock:  # hold the writer back while every commit queues up
        threads = [
            threading.Thread(target=lambda m=m: seqs.append(store.commit(m))) for m in mutations
        ]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while store._commits.queued(None) < 39:  # the first batch may already wait for the lock
            assert time.monotonic() < deadline, "commits did not queue up"
            time.sleep(0.01)
    for t in threads:
        t.join(10)
    assert sorted(seqs) == list(range(1, 41)), "every commit landed once, with its own entry"
    assert store.transactions <= 2, f"{store.transactions} fsyncs for 40 concurrent commits"
    assert Store(tmp_path / "m.db").load().nodes.keys() >= {f"/f{i}" for i in range(40)}


def test_the_log_reads_in_order_and_compacts_to_the_newest_entries(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.db")
    state = store.load()
    for i in range(10):
        mutation = namespace.create(state, f"/f{i}", now=float(i))
        store.commit(mutation)
        state.apply(mutation)
    assert [e.seq for e in store.read_log(since=7, limit=100)] == [8, 9, 10]
    assert [e.args["path"] for e in store.read_log(since=0, limit=2)] == ["/f0", "/f1"]
    assert store.compact(keep=3) == 7
    assert [e.seq for e in store.read_log(since=0, limit=100)] == [8, 9, 10]
    assert len(store.load().nodes) == 11, "compaction keeps the state: the tables hold it"


def test_a_checkpoint_rebuilds_the_state_and_the_log_goes_on_from_it(tmp_path: Path) -> None:
    source = Store(tmp_path / "a.db")
    meta = Metadata(MasterConfig(data_dir=tmp_path), source)
    state = meta.state
    for planner in (
        lambda: namespace.mkdir(state, "/d", parents=False, now=1.0),
        lambda: namespace.create(state, "/d/f", now=2.0),
        lambda: namespace.add_chunks(state, "/d/f", 1, now=3.0),
    ):
        meta.commit(meta.plan(planner))
    seq, paged = meta.checkpoint(page=2)
    pages = list(paged)
    assert seq == 3 and len(pages) > 1 and all(len(p) <= 2 for p in pages)
    copy = Store(tmp_path / "b.db")
    copy.install_checkpoint(seq, [row for page in pages for row in page])
    again = copy.load()
    assert (again.nodes, again.chunks, again.next_handle) == (
        state.nodes,
        state.chunks,
        state.next_handle,
    )
    assert copy.last_seq == 3
    mutation = namespace.create(state, "/d/g", now=4.0)
    assert source.commit(mutation) == 4
    copy.replay(source.read_log(since=copy.last_seq, limit=10))
    assert "/d/g" in copy.load().nodes and copy.last_seq == 4


def test_a_database_from_before_the_floor_column_opens_and_takes_it(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE chunks (handle INTEGER PRIMARY KEY, version INTEGER, refcount INTEGER,"
        " lease_holder TEXT, lease_expiry FLOAT)"
    )
    old.execute("INSERT INTO chunks VALUES (7, 3, 1, '', 0.0)")
    old.commit()
    old.close()
    store = Store(path)
    assert store.load().chunks == {7: Chunk(7, 3)}
    mutation = Mutation("version_untaken", {}, (PutChunk(Chunk(7, 4, floor=3)),))
    store.commit(mutation)
    store.close()
    assert Store(path).load().chunks == {7: Chunk(7, 4, floor=3)}


def test_owners_groups_and_modes_survive_a_restart_and_a_replay(tmp_path: Path) -> None:
    from master.permissions import Caller

    alice = Caller("alice", frozenset({"alice", "staff"}))
    store = Store(tmp_path / "m.db")
    state = store.load()
    for planner in (
        lambda: namespace.mkdir(state, "/d", parents=False, now=1.0),
        lambda: namespace.chmod(state, "/d", 0o777),
        lambda: namespace.create(state, "/d/f", now=2.0, caller=alice),
        lambda: namespace.chown(state, "/d/f", "", "staff", caller=alice),
        lambda: namespace.chmod(state, "/d/f", 0o640, caller=alice),
    ):
        mutation = planner()
        store.commit(mutation)
        state.apply(mutation)
    replayed = MasterState()  # a follower's state, from the log alone
    for entry in store.read_log(0, 100):
        replayed.apply(entry.mutation())
    store.close()
    f = Store(tmp_path / "m.db").load().nodes["/d/f"]
    assert (f.owner, f.group, f.mode) == ("alice", "staff", 0o640)
    assert replayed.nodes["/d/f"] == f


def test_a_database_from_before_groups_opens_and_takes_them(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE nodes (path TEXT PRIMARY KEY, is_dir INTEGER, ctime FLOAT, mtime FLOAT,"
        " mode INTEGER, owner TEXT, size INTEGER, chunks TEXT)"
    )
    old.execute("INSERT INTO nodes VALUES ('/f', 0, 1.0, 1.0, 420, 'alice', 0, '[]')")
    old.commit()
    old.close()
    store = Store(path)
    assert store.load().nodes["/f"].group == ""
    state = store.load()
    store.commit(namespace.chown(state, "/f", "", "staff"))
    store.close()
    assert Store(path).load().nodes["/f"].group == "staff"


def test_entries_written_together_leave_each_row_as_its_last_change_left_it(
    tmp_path: Path,
) -> None:
    """A batch (a group commit, a follower's replay) writes a row changed several times once:
    made, changed, deleted and made again in one batch, it ends as the last change left it."""
    source = Store(tmp_path / "a.db")
    state = source.load()
    planners = [
        lambda: namespace.mkdir(state, "/d", parents=False, now=1.0),
        lambda: namespace.create(state, "/d/f", now=2.0),
        lambda: namespace.add_chunks(state, "/d/f", 1, now=3.0),
        lambda: namespace.extend(state, "/d/f", 100, now=4.0),
        lambda: namespace.delete(state, "/d/f", recursive=False),  # the node and its chunks
        lambda: namespace.create(state, "/d/f", now=5.0),  # the same path again
        lambda: namespace.add_chunks(state, "/d/f", 0, now=6.0),
    ]
    for planner in planners:
        mutation = planner()
        source.commit(mutation)
        state.apply(mutation)
    copy = Store(tmp_path / "b.db")
    replayed = copy.replay(source.read_log(since=0, limit=100))  # one batch, one transaction
    follower = MasterState()
    for mutation in replayed:
        follower.apply(mutation)
    again = copy.load()
    assert (
        (again.nodes, again.chunks)
        == (state.nodes, state.chunks)
        == (
            follower.nodes,
            follower.chunks,
        )
    )
    assert again.next_handle == state.next_handle


def test_recent_entries_read_from_memory_are_the_entries_the_store_holds(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.db")
    state = store.load()
    threads = [
        threading.Thread(target=store.commit, args=(namespace.create(state, f"/f{i}", now=1.0),))
        for i in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    store.begin_epoch(2, "m1:1")
    follower = Store(tmp_path / "f.db")
    follower.replay(store.read_log(since=0, limit=100))

    for copy in (store, follower):
        from_memory = copy.read_log(since=5, limit=10)
        from_disk = copy.db.execute(
            "SELECT seq, ts, op, args, changes FROM oplog WHERE seq > 5 ORDER BY seq LIMIT 10"
        ).fetchall()
        assert copy.tail.after(5, 10) == from_memory, "served from memory"
        assert [(e.seq, e.ts, e.op, e.args_json, e.changes_json) for e in from_memory] == [
            tuple(row) for row in from_disk
        ]
        assert [e.digest() for e in from_memory] == [copy.digest(e.seq) for e in from_memory]
    assert [e.seq for e in follower.read_log(since=19, limit=10)] == [20, 21]


def test_a_failed_commit_leaves_no_entry_for_a_follower_to_read(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.db")
    state = store.load()
    store.commit(namespace.create(state, "/kept", now=1.0))
    store.db.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON nodes BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
    )
    try:
        store.commit(namespace.create(state, "/lost", now=2.0))
    except Exception as err:
        assert "disk on fire" in str(err)
    else:
        raise AssertionError("the commit should have failed")
    assert [e.args["path"] for e in store.read_log(since=0, limit=10)] == ["/kept"]


class HeldCommit:
    """A store's connection whose COMMIT waits for `go`, then fails with `error` if given: a
    sync that takes its time, or a disk that fails it."""

    def __init__(self, conn: sqlite3.Connection, error: Exception | None = None) -> None:
        self.conn, self.error = conn, error
        self.reached, self.go = threading.Event(), threading.Event()

    @classmethod
    def install(cls, store: Store, error: Exception | None = None) -> HeldCommit:
        """Puts one in place of `store`'s connection."""
        held = cls(store.db.conn, error)
        store.db.conn = held  # type: ignore[assignment]
        return held

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT":
            self.reached.set()
            self.go.wait(10)
            if self.error is not None:
                raise self.error
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


def on_a_thread(work: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Runs `work` on a thread of its own; the list gets its result or its error."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(work())
        except Exception as err:
            outcome.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def committing(store: Store, path: str) -> tuple[threading.Thread, list[object]]:
    """Commits the creation of `path` on a thread of its own."""
    return on_a_thread(lambda: store.commit(namespace.create(store.load(), path, now=1.0)))


def publishing_early(tmp_path: Path) -> tuple[Store, list[str]]:
    """A store holding entry 1 that hands entries out early; the list gets what it lost."""
    store = Store(tmp_path / "m.db")
    store.commit(namespace.create(store.load(), "/before", now=1.0))
    lost: list[str] = []
    store.publish_early(lost.append)
    return store, lost


def test_followers_read_entries_while_their_transaction_is_made_durable(tmp_path: Path) -> None:
    store, lost = publishing_early(tmp_path)
    held = HeldCommit.install(store)
    thread, outcome = committing(store, "/early")
    assert held.reached.wait(10)

    store.wait_for_entries(1, timeout=10, durable=False)  # returns at once: entry 2 is sent
    assert [e.args["path"] for e in store.read_log(1, 10, durable=False)] == ["/early"]
    assert store.read_log(1, 10) == [] and store.head() == 1, "others read durable entries only"
    assert outcome == [], "the commit is not answered before its sync"
    held.go.set()
    thread.join(10)
    assert outcome == [2] and store.head() == 2 and not lost
    assert [e.args["path"] for e in store.read_log(1, 10)] == ["/early"]
    assert "/early" in Store(tmp_path / "m.db").load().nodes


def test_entries_sent_early_whose_sync_fails_end_the_term(tmp_path: Path) -> None:
    store, lost = publishing_early(tmp_path)
    held = HeldCommit.install(store, sqlite3.OperationalError("disk I/O error"))
    thread, outcome = committing(store, "/lost")
    assert held.reached.wait(10)
    assert [e.seq for e in store.read_log(1, 10, durable=False)] == [2], "a follower has it"
    held.go.set()
    thread.join(10)

    assert len(outcome) == 1 and isinstance(outcome[0], errors.Unavailable)
    assert "not acknowledged" in str(outcome[0])
    assert lost == [
        "log entries 2..2, sent to the other replicas, could not be made durable here "
        "(disk I/O error)"
    ], "told once, before the caller heard"
    assert store.read_log(1, 10, durable=False) == [] and store.head(durable=False) == 1
    assert "/lost" not in Store(tmp_path / "m.db").load().nodes
    # Its number could be given again: nothing more is logged here, the disk well or not.
    store.db.conn = held.conn  # type: ignore[assignment]
    with pytest.raises(errors.Unavailable, match=r"logs nothing more.*nothing was changed"):
        store.commit(namespace.create(store.load(), "/later", now=3.0))
    assert store.head(durable=False) == 1 and len(lost) == 1


def test_a_group_waits_for_the_followers_to_hold_the_one_before_and_those_arriving_join_it(
    tmp_path: Path,
) -> None:
    store, lost = publishing_early(tmp_path)
    asked: list[int] = []
    go = threading.Event()

    def followers_hold(seq: int) -> None:
        asked.append(seq)
        go.wait(10)

    store.publish_early(lost.append, followers_hold)
    before = store.transactions
    leader = committing(store, "/a")
    wait_until(lambda: asked == [1], 10, "the leader waits for the followers to hold entry 1")
    joining = [committing(store, f"/b{i}") for i in range(3)]
    wait_until(lambda: store._commits.queued(None) == 3, 10, "the others queue behind it")
    go.set()
    for thread, _ in (leader, *joining):
        thread.join(10)
    assert leader[1] == [2] and sorted(o for _, out in joining for o in out) == [3, 4, 5]
    assert store.transactions == before + 1, "the four in one transaction"
    assert asked == [1], "one group: one wait"


def test_without_early_sending_followers_wait_for_the_sync(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.db")
    held = HeldCommit.install(store)
    thread, outcome = committing(store, "/f")
    assert held.reached.wait(10)
    store.wait_for_entries(0, timeout=0.2, durable=False)
    assert store.head(durable=False) == 0, "nothing sent before the sync"
    held.go.set()
    thread.join(10)
    assert outcome == [1] and [e.seq for e in store.read_log(0, 10, durable=False)] == [1]
