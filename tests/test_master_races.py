"""Races between the master's concurrent operations, each made to happen on purpose.

Each test stops one operation at a chosen point (a commit held at a gate, an RPC to a fake
chunkserver that blocks) and runs another through that window, then checks the invariant that
the interleaving used to break: every chunk's reference count equals the files that hold it,
no pool waits on itself, no lookup waits on another file's RPC."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from common import errors
from master import replication
from master.chunkservers import Heartbeat, Report
from master.service import MasterService
from master.state import Mutation, Node, PutNode, put_chunk
from master.store import Store
from tests.master_fakes import BlockingCluster, Gate, config

SERVERS = ("a:1", "b:1", "c:1", "d:1")


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[MasterService, BlockingCluster, list[float]]]:
    clock = [1000.0]
    store = Store(tmp_path / "m.db")
    fake = BlockingCluster(store)
    service = MasterService(config(tmp_path), store, clock=lambda: clock[0], channels=fake)  # type: ignore[arg-type]
    for address in SERVERS:
        service.heartbeat(Heartbeat(address, "r", 0, 10**12))
    service.create("/f")
    yield service, fake, clock
    service.close()


def hold_commit(service: MasterService, op: str) -> Gate:
    """The next commit of a mutation named `op` waits at the returned gate (before the store
    sees it), so other operations can run while it is planned but not yet durable."""
    gate = Gate()
    commit_all = service.store.commit_all

    def held(mutations: list[Mutation]) -> int:
        if any(m.op == op for m in mutations) and not gate.entered.is_set():
            gate.pass_through()
        return commit_all(mutations)

    service.store.commit_all = held  # type: ignore[method-assign]
    return gate


def started(target: Callable[..., object], *args: object) -> threading.Thread:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target(*args)
        except BaseException as err:  # reported by the test that joins it
            errors.append(err)
            raise

    thread = threading.Thread(target=run, daemon=True)
    thread.errors = errors  # type: ignore[attr-defined]
    thread.start()
    return thread


def finished(thread: threading.Thread, timeout: float = 30) -> None:
    thread.join(timeout)
    assert not thread.is_alive(), "the operation never finished"
    assert not thread.errors, thread.errors  # type: ignore[attr-defined]


def assert_references_counted(service: MasterService) -> None:
    """Every chunk's refcount is the number of files holding it, in memory and on disk."""
    for state in (service.state, service.store.load()):
        held: dict[int, int] = {}
        for node in state.nodes.values():
            for handle in node.chunks:
                held[handle] = held.get(handle, 0) + 1
        counts = {h: c.refcount for h, c in state.chunks.items()}
        assert counts == held


# --- 1. a chunk's row is written only under its chunk lock -----------------------------------


def test_a_snapshot_racing_a_copy_on_write_keeps_every_reference_counted(setup) -> None:  # type: ignore[no-untyped-def]
    """/f and /g share a chunk; /f is snapshotted to /h while /g's first write copies the
    chunk. Planned on the same row, one update used to overwrite the other: a refcount of 1
    for two files (deleting one deleted the other's data) or one too many (a leak)."""
    service, _, _ = setup
    service.get_chunk("/f", 0, for_write=True)
    service.snapshot("/f", "/g")
    gate = hold_commit(service, "snapshot")
    snapshot = started(service.snapshot, "/f", "/h")
    assert gate.entered.wait(10)
    write = started(service.get_chunk, "/g", 0, True)
    write.join(1.0)  # with the chunk's lock held by the snapshot, the copy waits for it
    gate.release()
    finished(snapshot)
    finished(write)
    assert_references_counted(service)


def test_a_version_adopted_from_a_report_does_not_undo_a_snapshot(setup) -> None:  # type: ignore[no-untyped-def]
    """A replica reports a higher version (the master's log was rolled back, here by one
    version) while the chunk is snapshotted: the adoption wrote back the whole row it had
    read, reference count and lease included."""
    service, _, _ = setup
    view = service.get_chunk("/f", 0, for_write=True)
    row = service.chunk(view.handle)
    rolled_back = row._replace(version=view.version - 1, issued=view.version)
    service.metadata.commit(put_chunk("roll_back", rolled_back))
    gate = hold_commit(service, "adopt_versions")
    higher = Report(view.handle, view.version, 0)
    beat = started(service.heartbeat, Heartbeat(view.replicas[0], "r", 0, 10**12, [higher]))
    assert gate.entered.wait(10)
    snapshot = started(service.snapshot, "/f", "/g")
    snapshot.join(1.0)
    gate.release()
    finished(beat)
    finished(snapshot)
    assert_references_counted(service)
    chunk = service.store.load().chunks[view.handle]
    assert chunk.version == view.version
    assert not chunk.lease_holder, "the snapshot's revocation stands"


# --- 2. background work never waits on the pool it runs in ------------------------------------


def test_many_chunks_recreated_at_once_do_not_deadlock_the_master(setup) -> None:  # type: ignore[no-untyped-def]
    """Repair re-creates never-written chunks that lost every replica. Each re-creation ran
    on the master's pool and fanned its SetVersions out on the same pool: with every worker
    busy re-creating, the fan-outs waited forever (holding the chunks' locks)."""
    service, fake, _ = setup
    fake.down = set(SERVERS)
    files = [f"/e{i}" for i in range(40)]
    for path in files:
        service.create(path)
        with pytest.raises(Exception, match="replica"):
            service.get_chunk(path, 0, for_write=True)  # allocated, created nowhere
    fake.down = set()
    service.repair()
    deadline = time.monotonic() + 20
    while not all(len(service.stat(p)[1][0].replicas) == 3 for p in files):
        assert time.monotonic() < deadline, "re-creating the chunks never finished"
        time.sleep(0.02)


# --- 4. no lookup waits on another chunk's RPC --------------------------------------------------


def test_a_slow_copy_on_write_does_not_stop_other_files_from_growing(setup) -> None:  # type: ignore[no-untyped-def]
    """The copy-on-write of a shared chunk used to hold the master-wide allocation lock across
    its CopyLocal RPCs (up to a minute): no file anywhere could get a new chunk meanwhile."""
    service, fake, _ = setup
    service.get_chunk("/f", 0, for_write=True)
    service.snapshot("/f", "/g")
    fake.copy_gate = Gate()
    copying = started(service.get_chunk, "/g", 0, True)
    assert fake.copy_gate.entered.wait(10)
    service.create("/other")
    other = started(service.get_chunk, "/other", 0, True)
    other.join(10)
    alive = other.is_alive()
    fake.copy_gate.release()
    finished(copying)
    finished(other)
    assert not alive, "a new chunk of another file waited for the copy"
    assert_references_counted(service)


def test_a_slow_clone_does_not_hold_its_chunk_and_counts_only_if_nothing_moved(setup) -> None:  # type: ignore[no-untyped-def]
    """Re-replication held the chunk's lock through the whole CloneFrom: no write could be
    leased, no heartbeat of its primary extend a lease, while 64 MiB crossed the network. A
    write leased meanwhile moves the version, and then the copy must not count."""
    service, fake, _ = setup
    view = service.get_chunk("/f", 0, for_write=True)
    target = next(a for a in SERVERS if a not in view.replicas)
    fake.clone_gate = Gate()
    clone = replication.Clone(view.handle, view.version, view.replicas[0], target)
    service.repairs.cloning[view.handle] = clone
    cloning = started(service.repairs.clone, clone)
    assert fake.clone_gate.entered.wait(10)
    write = started(service.get_chunk, "/f", 0, True)
    write.join(10)
    alive = write.is_alive()
    fake.clone_gate.release()
    finished(cloning)
    finished(write)
    assert not alive, "a write lease waited for the copy"
    (now,) = service.stat("/f")[1]
    assert now.version > view.version
    assert target not in now.replicas, "a copy of an older version was counted"


# --- 3 and 5: loops that survive, tables shared by threads -------------------------------------


def test_a_stray_name_in_the_trash_is_not_an_internal_error(setup) -> None:  # type: ignore[no-untyped-def]
    """Found as a new user: `gfs mkdir /.trash/junk`, then `gfs undelete /x`, answered
    INTERNAL, and the master's timer loop died on the same name when it purged the trash."""
    service, _, clock = setup
    with pytest.raises(errors.InvalidArgument, match="reserved for deleted files"):
        service.mkdir("/.trash/junk", parents=True)
    # As a store made before the trash was reserved may hold it:
    junk = [Node(p, True, 0.0, 0.0, 0o755) for p in ("/.trash", "/.trash/junk")]
    service.metadata.commit(Mutation("mkdir", {}, tuple(PutNode(n) for n in junk)))
    with pytest.raises(Exception) as caught:
        service.undelete("/x")
    assert type(caught.value).__name__ == "NotFound"
    clock[0] += 10 * 86400
    service.purge_trash()


def test_followers_registering_while_the_log_is_compacted_break_nothing(tmp_path: Path) -> None:
    """Log streams (one thread each) recorded their followers in a plain dict that compaction
    iterated on the timer thread: 'dictionary changed size during iteration' killed the loop."""
    from master.config import MasterConfig

    service = MasterService(
        MasterConfig(data_dir=tmp_path, oplog_retain=5), Store(tmp_path / "m.db")
    )
    service.create("/f")
    stop = threading.Event()

    def follow(prefix: str) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            for _ in service.stream_log(0, False, 1, lambda: True, f"{prefix}-{n}"):
                pass

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads interleave as often as the interpreter allows
    threads = [started(follow, f"shadow{i}") for i in range(3)]
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            service.compact_log()
    finally:
        stop.set()
        sys.setswitchinterval(switch)
        for thread in threads:
            finished(thread)
