"""Permission checks of the namespace planners (HDFS's rules), on an in-memory state."""

from __future__ import annotations

import pytest

from common import errors
from master import namespace, trash
from master.permissions import SUPERGROUP, SUPERUSER, Caller
from master.state import MasterState

ALICE = Caller("alice", frozenset({"alice", "analysts"}))
BOB = Caller("bob", frozenset({"bob"}))
ADMIN = Caller("admin", frozenset({"admin", SUPERGROUP}), superuser=True)


@pytest.fixture
def state() -> MasterState:
    """/home/alice belongs to alice (0755) and holds her file /home/alice/f (0644)."""
    s = MasterState()
    s.apply(namespace.mkdir(s, "/home/alice", parents=True, now=1.0, caller=ADMIN))
    s.apply(namespace.chown(s, "/home/alice", "alice", "alice", caller=ADMIN))
    s.apply(namespace.create(s, "/home/alice/f", now=2.0, caller=ALICE))
    return s


def denied(planner: object, *args: object, **kwargs: object) -> str:
    assert callable(planner)
    with pytest.raises(errors.PermissionDenied) as refused:
        planner(*args, **kwargs)
    return str(refused.value)


def test_new_entries_belong_to_their_maker_and_take_the_directorys_group(
    state: MasterState,
) -> None:
    f = state.nodes["/home/alice/f"]
    assert (f.owner, f.group, f.mode) == ("alice", "alice", 0o644)
    state.apply(namespace.mkdir(state, "/home/alice/a/b", parents=True, now=3.0, caller=ALICE))
    assert {
        (state.nodes[p].owner, state.nodes[p].group) for p in ("/home/alice/a", "/home/alice/a/b")
    } == {("alice", "alice")}
    assert state.nodes["/home"].group == SUPERGROUP  # made by the admin under the root


def test_others_read_but_do_not_change_a_users_files(state: MasterState) -> None:
    namespace.check_read(state, "/home/alice/f", BOB)  # 0644: others read
    message = denied(namespace.extend, state, "/home/alice/f", 10, 3.0, caller=BOB)
    assert message == (
        'permission denied: user=bob, access=WRITE, inode="/home/alice/f":alice:alice:-rw-r--r--'
    )
    denied(namespace.create, state, "/home/alice/g", 3.0, caller=BOB)
    denied(namespace.mkdir, state, "/home/alice/d", False, 3.0, caller=BOB)
    denied(namespace.mkdir, state, "/home/alice/d/e", True, 3.0, caller=BOB)
    denied(namespace.delete, state, "/home/alice/f", False, caller=BOB)
    denied(trash.move_to_trash, state, "/home/alice/f", False, 3.0, caller=BOB)
    denied(namespace.rename, state, "/home/alice/f", "/home/f", 3.0, caller=BOB)
    denied(namespace.chmod, state, "/home/alice/f", 0o666, caller=BOB)
    # Nothing about the file changed; its owner does all of it.
    assert state.nodes["/home/alice/f"].size == 0
    state.apply(namespace.extend(state, "/home/alice/f", 10, 3.0, caller=ALICE))
    state.apply(namespace.rename(state, "/home/alice/f", "/home/alice/g", 4.0, caller=ALICE))
    assert state.nodes["/home/alice/g"].size == 10


def test_a_closed_directory_hides_what_is_inside(state: MasterState) -> None:
    state.apply(namespace.chmod(state, "/home/alice", 0o700, caller=ALICE))
    assert "EXECUTE" in denied(namespace.check_read, state, "/home/alice/f", BOB)
    assert "READ_EXECUTE" in denied(namespace.list_dir, state, "/home/alice", BOB)
    # A path that does not exist is refused the same way: nothing leaks about what is there.
    denied(namespace.check_read, state, "/home/alice/nothing", BOB)
    assert [n.path for n in namespace.list_dir(state, "/home/alice", ALICE)] == ["/home/alice/f"]
    assert namespace.list_dir(state, "/home", BOB)  # the parent is still open


def test_mode_bits_apply_as_owner_then_group_then_others(state: MasterState) -> None:
    state.apply(namespace.chmod(state, "/home/alice/f", 0o064, caller=ALICE))
    denied(namespace.check_read, state, "/home/alice/f", ALICE)  # owner bits: none
    state.apply(namespace.chown(state, "/home/alice/f", "", "analysts", caller=ALICE))
    carol = Caller("carol", frozenset({"carol", "analysts"}))
    namespace.check_read(state, "/home/alice/f", carol)
    namespace.check_write(state, "/home/alice/f", carol)  # group bits: rw
    namespace.check_read(state, "/home/alice/f", BOB)  # other bits: r
    denied(namespace.check_write, state, "/home/alice/f", BOB)


def test_only_a_superuser_gives_a_path_away(state: MasterState) -> None:
    assert "only a superuser" in denied(
        namespace.chown, state, "/home/alice/f", "bob", "", caller=ALICE
    )
    assert "not in group" in denied(
        namespace.chown, state, "/home/alice/f", "", "bob", caller=ALICE
    )
    denied(namespace.chown, state, "/home/alice/f", "", "bob", caller=BOB)
    state.apply(namespace.chown(state, "/home/alice/f", "bob", "bob", caller=ADMIN))
    node = state.nodes["/home/alice/f"]
    assert (node.owner, node.group) == ("bob", "bob")
    with pytest.raises(errors.InvalidArgument):
        namespace.chown(state, "/home/alice/f", "", "", caller=ADMIN)
    with pytest.raises(errors.InvalidArgument):
        namespace.chmod(state, "/home/alice/f", 0o1777, caller=ADMIN)


def test_a_recursive_delete_needs_every_directory_inside(state: MasterState) -> None:
    state.apply(namespace.mkdir(state, "/home/alice/shared", False, 3.0, caller=ALICE))
    state.apply(namespace.chmod(state, "/home/alice/shared", 0o777, caller=ALICE))
    state.apply(namespace.mkdir(state, "/home/alice/shared/bobs", False, 3.0, caller=BOB))
    denied(namespace.delete, state, "/home/alice/shared", True, caller=ALICE)
    denied(trash.move_to_trash, state, "/home/alice/shared", True, 4.0, caller=ALICE)
    state.apply(namespace.chmod(state, "/home/alice/shared/bobs", 0o777, caller=BOB))
    state.apply(trash.move_to_trash(state, "/home/alice/shared", True, 4.0, caller=ALICE))
    assert "/home/alice/shared" not in state.nodes


def test_only_the_owner_restores_from_the_trash(state: MasterState) -> None:
    state.apply(namespace.chmod(state, "/home/alice", 0o777, caller=ALICE))
    state.apply(trash.move_to_trash(state, "/home/alice/f", False, 3.0, caller=ALICE))
    denied(trash.undelete, state, "/home/alice/f", 4.0, caller=BOB)
    state.apply(trash.undelete(state, "/home/alice/f", 4.0, caller=ALICE))
    assert state.nodes["/home/alice/f"].owner == "alice"
    # The trash itself is the superuser's: nobody else lists or purges it.
    denied(namespace.list_dir, state, namespace.TRASH, ALICE)


def test_a_snapshot_takes_reading_everything_and_belongs_to_its_taker(
    state: MasterState,
) -> None:
    state.apply(namespace.mkdir(state, "/tmp", False, 1.0, caller=ADMIN))
    state.apply(namespace.chmod(state, "/tmp", 0o777, caller=ADMIN))
    state.apply(namespace.snapshot(state, "/home/alice/f", "/tmp/copy", 3.0, caller=BOB))
    assert state.nodes["/tmp/copy"].owner == "bob"
    state.apply(namespace.mkdir(state, "/home/alice/private", False, 3.0, caller=ALICE))
    state.apply(namespace.chmod(state, "/home/alice/private", 0o700, caller=ALICE))
    denied(namespace.snapshot, state, "/home/alice", "/tmp/all", 4.0, caller=BOB)
    denied(namespace.snapshot, state, "/home/alice/f", "/home/alice/g", 4.0, caller=BOB)
    state.apply(namespace.snapshot(state, "/home/alice", "/tmp/all", 4.0, caller=ADMIN))
    assert state.nodes["/tmp/all/f"].owner == "alice"  # a superuser's copy keeps its owners


def test_the_master_itself_and_an_insecure_cluster_check_nothing(state: MasterState) -> None:
    state.apply(namespace.chmod(state, "/home/alice", 0o000, caller=ALICE))
    state.apply(namespace.extend(state, "/home/alice/f", 5, 3.0, caller=SUPERUSER))
    assert state.nodes["/home/alice/f"].size == 5
