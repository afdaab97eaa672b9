"""Per-file replication (GFS: "users can designate different replication levels for different
parts of the file namespace"; HDFS's setrep), on in-memory state and the store: a file's level
reaches its chunks, a chunk a snapshot shares keeps the highest level of its files, the
planners copy and trim to each chunk's own target, and it all survives a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from common import errors
from master import namespace
from master.permissions import Caller
from master.placement import Candidate
from master.replication import plan_clones, plan_trims
from master.state import Chunk, MasterState
from master.store import Store

ALICE = Caller("alice", frozenset({"alice"}))
BOB = Caller("bob", frozenset({"bob"}))
DEFAULT = 3


def file_with_chunks(state: MasterState, path: str, chunks: int, replication: int = 0) -> None:
    state.apply(namespace.create(state, path, 1.0, ALICE, replication))
    state.apply(namespace.add_chunks(state, path, chunks - 1, 1.0))


@pytest.fixture
def state() -> MasterState:
    s = MasterState()
    s.apply(namespace.mkdir(s, "/d", parents=False, now=1.0))
    s.apply(namespace.chmod(s, "/d", 0o777))
    return s


def test_a_files_level_reaches_its_chunks_and_copies_on_write(state: MasterState) -> None:
    file_with_chunks(state, "/d/one", 2, replication=1)
    node = state.nodes["/d/one"]
    assert node.replication == 1
    assert [state.chunks[h].target(DEFAULT) for h in node.chunks] == [1, 1]
    file_with_chunks(state, "/d/default", 1)
    assert state.chunks[state.nodes["/d/default"].chunks[0]].target(DEFAULT) == DEFAULT
    state.apply(namespace.snapshot(state, "/d/one", "/d/copy", 2.0))
    state.apply(namespace.split_chunk(state, "/d/copy", 0, 3.0))
    assert state.nodes["/d/copy"].replication == 1
    assert state.chunks[state.nodes["/d/copy"].chunks[0]].replication == 1
    with pytest.raises(errors.InvalidArgument, match="between 1 and 64"):
        namespace.create(state, "/d/bad", 1.0, ALICE, replication=65)


def test_setrep_covers_a_tree_and_a_shared_chunk_keeps_the_highest_level(
    state: MasterState,
) -> None:
    state.apply(namespace.mkdir(state, "/d/tree/deep", parents=True, now=1.0, caller=ALICE))
    file_with_chunks(state, "/d/tree/a", 1)
    file_with_chunks(state, "/d/tree/deep/b", 2)
    state.apply(namespace.snapshot(state, "/d/tree/a", "/d/kept", 2.0))  # shares a's chunk
    mutation = namespace.set_replication(state, "/d/tree", 2, DEFAULT, ALICE)
    assert mutation.args["files"] == 2
    state.apply(mutation)
    assert state.nodes["/d/tree/a"].replication == 2
    assert state.nodes["/d/tree/deep/b"].replication == 2
    shared = state.nodes["/d/tree/a"].chunks[0]
    assert state.chunks[shared].target(DEFAULT) == DEFAULT, "/d/kept still wants the default"
    assert {state.chunks[h].target(DEFAULT) for h in state.nodes["/d/tree/deep/b"].chunks} == {2}
    state.apply(namespace.set_replication(state, "/d/kept", 5, DEFAULT, ALICE))
    assert state.chunks[shared].target(DEFAULT) == 5
    state.apply(namespace.set_replication(state, "/d/kept", 1, DEFAULT, ALICE))
    assert state.chunks[shared].target(DEFAULT) == 2, "now /d/tree/a's level is the highest"


def test_setrep_needs_write_on_every_file(state: MasterState) -> None:
    file_with_chunks(state, "/d/alices", 1)
    with pytest.raises(errors.PermissionDenied, match="access=WRITE"):
        namespace.set_replication(state, "/d/alices", 1, DEFAULT, BOB)
    with pytest.raises(errors.InvalidArgument):
        namespace.set_replication(state, "/d/alices", 0, DEFAULT, ALICE)
    with pytest.raises(errors.NotFound):
        namespace.set_replication(state, "/d/none", 2, DEFAULT, ALICE)


def test_levels_survive_a_restart_and_reach_a_follower(tmp_path: Path) -> None:
    store, state = Store(tmp_path / "m.db"), MasterState()
    for plan in (
        lambda: namespace.mkdir(state, "/d", parents=False, now=1.0),
        lambda: namespace.create(state, "/d/f", 1.0, replication=2),
        lambda: namespace.add_chunks(state, "/d/f", 0, 2.0),
    ):
        mutation = plan()
        store.commit(mutation)
        state.apply(mutation)
    follower = MasterState()
    for entry in store.read_log(0, 100):
        follower.apply(entry.mutation())
    store.close()
    again = Store(tmp_path / "m.db")
    for loaded in (again.load(), follower):
        assert loaded.nodes["/d/f"].replication == 2
        assert loaded.chunks[loaded.nodes["/d/f"].chunks[0]].replication == 2
    again.close()


def test_the_planners_copy_and_trim_to_each_chunks_own_target() -> None:
    chunks = {1: Chunk(1, 1, replication=1), 2: Chunk(2, 1), 3: Chunk(3, 1, replication=5)}
    live = {1: ["a", "b"], 2: ["a", "b"], 3: ["a", "b", "c", "d"]}
    candidates = [Candidate(x, "r", 10**12, 0) for x in "abcde"]
    clones = plan_clones(chunks, live, candidates, {}, DEFAULT, 100, {}, per_server=10)
    assert sorted(c.handle for c in clones) == [2, 3], "chunk 1 has its one replica and more"
    trims = plan_trims(chunks, live, {}, {}, DEFAULT, now=0.0)
    assert [r.handle for removals in trims.values() for r in removals] == [1]
