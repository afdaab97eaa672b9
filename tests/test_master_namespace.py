"""The namespace planners, on an in-memory state: no I/O, no threads."""

from __future__ import annotations

import pytest

from common import errors
from master import namespace, trash
from master.state import MasterState


@pytest.fixture
def state() -> MasterState:
    return MasterState()


def test_create_needs_an_existing_parent_directory(state: MasterState) -> None:
    with pytest.raises(errors.NotFound):
        namespace.create(state, "/d/f", now=1.0)
    state.apply(namespace.mkdir(state, "/d", parents=False, now=1.0))
    state.apply(namespace.create(state, "/d/f", now=2.0))
    assert [n.path for n in namespace.list_dir(state, "/d")] == ["/d/f"]
    with pytest.raises(errors.AlreadyExists):
        namespace.create(state, "/d/f", now=3.0)
    with pytest.raises(errors.NotADirectory):
        namespace.create(state, "/d/f/g", now=3.0)


def test_mkdir_p_creates_missing_parents_and_is_idempotent(state: MasterState) -> None:
    state.apply(namespace.mkdir(state, "/a/b/c", parents=True, now=1.0))
    assert {"/a", "/a/b", "/a/b/c"} <= set(state.nodes)
    assert namespace.mkdir(state, "/a/b/c", parents=True, now=2.0).changes == ()
    with pytest.raises(errors.AlreadyExists):
        namespace.mkdir(state, "/a/b/c", parents=False, now=2.0)


def test_planning_changes_nothing_until_applied(state: MasterState) -> None:
    mutation = namespace.mkdir(state, "/x", parents=False, now=1.0)
    assert "/x" not in state.nodes
    state.apply(mutation)
    assert state.nodes["/x"].is_dir


def test_delete_of_a_non_empty_directory_needs_recursive(state: MasterState) -> None:
    state.apply(namespace.mkdir(state, "/d", parents=False, now=1.0))
    state.apply(namespace.create(state, "/d/f", now=1.0))
    state.apply(namespace.add_chunks(state, "/d/f", 1, now=1.0))
    handles = state.nodes["/d/f"].chunks
    with pytest.raises(errors.DirectoryNotEmpty):
        namespace.delete(state, "/d", recursive=False)
    state.apply(namespace.delete(state, "/d", recursive=True))
    assert "/d" not in state.nodes and "/d/f" not in state.nodes
    assert not state.children["/"]
    assert all(h not in state.chunks for h in handles), "chunks of deleted files leave the table"


def test_rename_moves_a_whole_subtree_and_refuses_cycles(state: MasterState) -> None:
    state.apply(namespace.mkdir(state, "/a/b", parents=True, now=1.0))
    state.apply(namespace.create(state, "/a/b/f", now=1.0))
    with pytest.raises(errors.InvalidArgument):
        namespace.rename(state, "/a", "/a/b/c", now=2.0)
    state.apply(namespace.rename(state, "/a", "/z", now=2.0))
    assert {"/z", "/z/b", "/z/b/f"} <= set(state.nodes)
    assert not any(p.startswith("/a") for p in state.nodes)
    assert state.children["/z/b"] == {"/z/b/f"}
    state.apply(namespace.create(state, "/y", now=3.0))
    with pytest.raises(errors.AlreadyExists):
        namespace.rename(state, "/z", "/y", now=3.0)


def test_add_chunks_fills_holes_and_issues_fresh_handles(state: MasterState) -> None:
    state.apply(namespace.create(state, "/f", now=1.0))
    state.apply(namespace.add_chunks(state, "/f", 2, now=1.0))
    assert state.nodes["/f"].chunks == (1, 2, 3)
    new = [state.chunks[h] for h in (1, 2, 3)]
    assert all((c.version, c.floor, c.issued) == (2, 1, 2) and c.never_written for c in new)
    state.apply(namespace.delete(state, "/f", recursive=False))
    state.apply(namespace.create(state, "/g", now=2.0))
    state.apply(namespace.add_chunks(state, "/g", 0, now=2.0))
    assert state.nodes["/g"].chunks == (4,), "handles are never reused after a delete"
    assert namespace.add_chunks(state, "/g", 0, now=3.0).changes == ()


def test_extend_only_grows_a_file(state: MasterState) -> None:
    state.apply(namespace.create(state, "/f", now=1.0))
    state.apply(namespace.extend(state, "/f", 100, now=2.0))
    assert namespace.extend(state, "/f", 50, now=3.0).changes == ()
    assert state.nodes["/f"].size == 100
    with pytest.raises(errors.IsADirectory):
        namespace.extend(state, "/", 10, now=3.0)


def test_only_a_chunks_lease_holder_extends_its_file_and_only_within_the_chunk(
    state: MasterState,
) -> None:
    state.apply(namespace.create(state, "/f", now=1.0))
    state.apply(namespace.add_chunks(state, "/f", 2, now=1.0))
    state.apply(namespace.create(state, "/other", now=1.0))
    first, last = state.nodes["/f"].chunks[0], state.nodes["/f"].chunks[2]
    state.chunks[last] = state.chunks[last]._replace(lease_holder="cs:1")
    size = 1000

    def extend(path: str, handle: int, primary: str, end: int) -> None:
        state.apply(namespace.extend_for_primary(state, path, handle, primary, end, size, 2.0))

    extend("/f", last, "cs:1", 300)
    assert state.nodes["/f"].size == 2 * size + 300, "the chunk's index places the end"
    extend("/f", last, "cs:1", 100)
    assert state.nodes["/f"].size == 2 * size + 300, "never shrinks"
    with pytest.raises(errors.PermissionDenied):
        extend("/f", last, "cs:2", 400)  # not the holder
    with pytest.raises(errors.PermissionDenied):
        extend("/f", first, "cs:1", 400)  # holds no lease on that chunk
    with pytest.raises(errors.InvalidArgument):
        extend("/other", last, "cs:1", 400)  # not a chunk of that file
    for end in (0, size + 1):
        with pytest.raises(errors.InvalidArgument):
            extend("/f", last, "cs:1", end)
    assert state.nodes["/f"].size == 2 * size + 300


def test_a_deleted_tree_goes_to_the_trash_and_comes_back_whole(state: MasterState) -> None:
    state.apply(namespace.mkdir(state, "/d/e", parents=True, now=1.0))
    state.apply(namespace.create(state, "/d/e/f", now=1.0))
    state.apply(namespace.add_chunks(state, "/d/e/f", 0, now=1.0))
    handles = state.nodes["/d/e/f"].chunks
    with pytest.raises(errors.DirectoryNotEmpty):
        trash.move_to_trash(state, "/d", recursive=False, now=2.0)
    state.apply(trash.move_to_trash(state, "/d", recursive=True, now=2.0))
    assert "/d" not in state.nodes and all(h in state.chunks for h in handles), "chunks kept"
    state.apply(namespace.mkdir(state, "/d", parents=False, now=3.0))  # a new /d meanwhile
    with pytest.raises(errors.AlreadyExists):
        trash.undelete(state, "/d", now=4.0)
    state.apply(namespace.delete(state, "/d", recursive=True))
    state.apply(trash.undelete(state, "/d", now=5.0))
    assert state.nodes["/d/e/f"].chunks == handles
    with pytest.raises(errors.NotFound, match="still in the trash"):
        trash.undelete(state, "/d", now=6.0)


def test_the_newest_deletion_is_restored_and_old_ones_expire(state: MasterState) -> None:
    for now, size in ((10.0, 1), (20.0, 2)):
        state.apply(namespace.create(state, "/f", now=now))
        state.apply(namespace.extend(state, "/f", size, now=now))
        state.apply(trash.move_to_trash(state, "/f", recursive=False, now=now))
    assert len(trash.expired_trash(state, now=25.0, grace=10.0)) == 1
    assert len(trash.expired_trash(state, now=30.0, grace=10.0)) == 2
    state.apply(trash.undelete(state, "/f", now=26.0))
    assert state.nodes["/f"].size == 2
    trashed = trash.expired_trash(state, now=100.0, grace=0.0)
    state.apply(trash.move_to_trash(state, trashed[0], recursive=False, now=101.0))
    assert trashed[0] not in state.nodes, "deleting inside the trash is for good"


def test_a_snapshot_shares_chunks_and_a_split_gives_one_side_its_own(state: MasterState) -> None:
    state.apply(namespace.mkdir(state, "/d", parents=False, now=1.0))
    state.apply(namespace.create(state, "/d/f", now=1.0))
    state.apply(namespace.add_chunks(state, "/d/f", 2, now=1.0))
    handles = state.nodes["/d/f"].chunks
    with pytest.raises(errors.InvalidArgument):
        namespace.snapshot(state, "/d", "/d/inside", now=2.0)
    state.apply(namespace.snapshot(state, "/d", "/s", now=2.0))
    assert state.nodes["/s/f"].chunks == handles
    assert all(state.chunks[h].refcount == 2 for h in handles)
    state.apply(namespace.split_chunk(state, "/s/f", 1, now=3.0))
    mine = state.nodes["/s/f"].chunks
    assert mine[0] == handles[0] and mine[2] == handles[2] and mine[1] not in handles
    assert state.chunks[handles[1]].refcount == 1 and state.chunks[mine[1]].refcount == 1
    state.apply(namespace.delete(state, "/d", recursive=True))
    assert handles[1] not in state.chunks, "the original's own copy goes with it"
    assert state.chunks[handles[0]].refcount == 1, "shared chunks live on in the snapshot"


@pytest.mark.parametrize(
    "plan",
    [
        lambda s: namespace.mkdir(s, "/.trash/x", parents=True, now=1.0),
        lambda s: namespace.create(s, "/.trash/1@%2Ff", now=1.0),
        lambda s: namespace.rename(s, "/d", "/.trash/d", now=1.0),
        lambda s: namespace.snapshot(s, "/d", "/.trash/d", now=1.0),
        lambda s: trash.undelete(s, "/.trash", now=1.0),
    ],
)
def test_only_deletion_puts_names_in_the_trash(state: MasterState, plan: object) -> None:
    state.apply(namespace.mkdir(state, "/d", parents=False, now=0.0))
    with pytest.raises(errors.InvalidArgument, match="reserved for deleted files"):
        plan(state)  # type: ignore[operator]


def test_one_request_moves_a_bounded_number_of_entries(state: MasterState) -> None:
    """Every entry moved is a row of the request's one log entry: past the limit, a rename,
    a move to the trash or a snapshot is refused and changes nothing."""
    state.apply(namespace.mkdir(state, "/t/a/b", parents=True, now=1.0))
    state.apply(namespace.create(state, "/t/a/b/f", now=1.0))  # /t and 3 entries below it
    for attempt in (
        lambda: namespace.rename(state, "/t", "/u", 2.0, limit=3),
        lambda: trash.move_to_trash(state, "/t", True, 2.0, limit=3),
        lambda: namespace.snapshot(state, "/t", "/u", 2.0, limit=3),
    ):
        with pytest.raises(errors.ResourceExhausted, match="would rewrite 4 entries"):
            attempt()
    assert "/t/a/b/f" in state.nodes and "/u" not in state.nodes
    state.apply(namespace.rename(state, "/t", "/u", 2.0, limit=4))
    assert "/u/a/b/f" in state.nodes
