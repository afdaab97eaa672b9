"""The pool of new chunks (master/chunkpool.py): empty chunks made ahead, in one call a server,
for new files to take with no creation while their client waits; their handles issued in the
log first, their replicas never judged garbage while pooled, and dropped (their replicas
ordered removed) when a server of theirs is gone or came back. With a fake clock and the fake
chunkservers of tests/master_fakes.py."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from common import errors
from master.chunkpool import Pooled, Shelf
from master.chunkservers import Heartbeat, Report
from master.service import MasterService
from master.store import Store
from tests.master_fakes import DEAD_AFTER, FakeCluster, config, four_servers

POOL = 4


def _beat(address: str, reports: list[Report] | None = None, **more: Any) -> Heartbeat:
    """An incremental report (a full one drops the server's pooled chunks: it may have just
    started again without them)."""
    return Heartbeat(address, "r", 0, 10**12, reports or [], incremental=True, **more)


def _pooled(service: MasterService, count: int) -> list[Pooled]:
    """The pool's chunks once it holds `count` (it is filled in the background)."""
    deadline = time.monotonic() + 10
    while True:
        with service.metadata.core:
            ready = service.chunks.pool.shelf.ready()
            filling = bool(service.chunks.pool.shelf.filling)
        if len(ready) >= count and not filling:
            return ready
        assert time.monotonic() < deadline, f"the pool holds {len(ready)}, not {count}"
        time.sleep(0.01)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[MasterService, FakeCluster, list[float]]:
    """Four servers and a pool of four filled by `/f`'s first chunk (made on demand)."""
    service, fake, clock = four_servers(tmp_path, chunk_pool=POOL)
    service.get_chunk("/f", 0, for_write=True)
    _pooled(service, POOL)
    return service, fake, clock


def test_the_pool_is_made_in_one_call_a_server_after_its_handles_are_logged(setup) -> None:  # type: ignore[no-untyped-def]
    service, fake, _ = setup
    calls = [s for s in fake.sent if s.method == "CreateReplicas"]
    assert len(calls) == len({s.address for s in calls}) <= 4
    pooled = _pooled(service, POOL)
    for chunk in pooled:
        assert len(set(chunk.servers)) == 3
        for address in chunk.servers:
            assert fake.held[address][chunk.handle] == 2, "made at a new chunk's version"
    assert service.pooled() == sorted(c.handle for c in pooled), "what gfs report lists"
    highest = max(c.handle for c in pooled)
    assert all(s.logged_next_handle > highest for s in calls), "handles logged before replicas"
    # Placed apart: four servers, four chunks of three replicas, three on each.
    placed = [a for c in pooled for a in c.servers]
    assert sorted(placed.count(a) for a in set(placed)) == [3, 3, 3, 3]


def test_a_new_file_takes_a_pooled_chunk_with_no_creation_and_no_version_bump(setup) -> None:  # type: ignore[no-untyped-def]
    service, fake, _ = setup
    first = _pooled(service, POOL)[0]
    before, logged = len(fake.sent), service.store.head()
    view = service.create("/g", first_chunk=True)
    assert view is not None and view.handle == first.handle
    assert first.handle not in service.pooled()
    assert sorted(view.replicas) == sorted(first.servers)
    sent = fake.sent[before:]
    assert [s.method for s in sent if s.method != "CreateReplicas"] == ["GrantLease"]
    assert view.version == 2 and view.primary in first.servers
    (grant,) = [s for s in sent if s.method == "GrantLease"]
    assert grant.logged_holder == grant.address, "the lease is logged before the primary is told"
    entries = service.store.read_log(logged, 100)
    assert [e.op for e in entries] == ["create"], "the file, its chunk and its lease: one commit"
    assert f'"primary": "{grant.address}"' in entries[0].args_json
    assert service.stat("/g")[0].chunks == (first.handle,)
    # Its replicas count now: a report lists them as held, not as garbage.
    answer = service.heartbeat(_beat(first.servers[0], [Report(first.handle, 2, 0)]))
    assert answer.removals == []
    assert first.servers[0] in service.metadata.servers.locations[first.handle]


def test_a_put_whose_pooled_primary_refuses_its_lease_still_gets_its_file_and_a_primary(
    setup,
) -> None:  # type: ignore[no-untyped-def]
    """The file and its chunk are committed before the primary hears of the lease: a refused
    grant fails no create (a retried create would find its own file there), and the put's
    lookup then grants among the other replicas at once."""
    service, fake, _ = setup
    first = _pooled(service, POOL)[0]
    fake.refuse_grants = set(first.servers)  # whichever is chosen refuses
    view = service.create("/g", first_chunk=True)
    assert view is not None and view.handle == first.handle and not view.primary
    refused = next(s.address for s in reversed(fake.sent) if s.method == "GrantLease")
    fake.refuse_grants = {refused}
    again = service.get_chunk("/g", 0, True)
    assert again.primary and again.primary != refused
    assert again.version == 3 and refused not in again.replicas


def test_a_create_that_fails_takes_nothing_from_the_pool(setup) -> None:  # type: ignore[no-untyped-def]
    service, _, _ = setup
    pooled = _pooled(service, POOL)
    with pytest.raises(errors.AlreadyExists):
        service.create("/f", first_chunk=True)
    with pytest.raises(errors.NotFound):
        service.create("/no/such/dir/g", first_chunk=True)
    assert service.pooled() == sorted(c.handle for c in pooled)
    assert service.create("/g", first_chunk=True).handle == pooled[0].handle  # type: ignore[union-attr]


def test_pooled_replicas_are_neither_garbage_nor_listed_again_while_pooled(setup) -> None:  # type: ignore[no-untyped-def]
    service, _, _ = setup
    chunk = _pooled(service, POOL)[-1]
    answer = service.heartbeat(_beat(chunk.servers[0], [Report(chunk.handle, 2, 0)]))
    assert answer.removals == []
    assert chunk.handle not in answer.recheck, "a heartbeat lists what changed, not the pool"
    assert chunk.servers[0] not in service.metadata.servers.locations.get(chunk.handle, ())


def test_a_chunk_with_a_dead_server_is_dropped_and_its_replicas_removed(setup) -> None:  # type: ignore[no-untyped-def]
    service, _, clock = setup
    pooled = _pooled(service, POOL)
    dead = pooled[0].servers[0]
    clock[0] += DEAD_AFTER + 1
    for address in ("a:1", "b:1", "c:1", "d:1"):
        if address != dead:
            service.heartbeat(_beat(address))
    service.replicas.check_liveness()
    view = service.create("/g", first_chunk=True)
    assert view is not None and dead not in view.replicas
    skipped = pooled[0]  # the oldest: taken first, were its servers all alive
    assert view.handle != skipped.handle
    alive = next(a for a in skipped.servers if a != dead)
    answer = service.heartbeat(_beat(alive, [Report(skipped.handle, 2, 0)]))
    assert skipped.handle in {r.handle for r in answer.removals}


def test_a_server_that_rejoins_takes_its_pooled_chunks_with_it(setup) -> None:  # type: ignore[no-untyped-def]
    """A server back from the dead may have come back without its disk: no pooled chunk on it
    is handed out, and the others' replicas of those chunks go."""
    service, _, clock = setup
    pooled = _pooled(service, POOL)
    back = pooled[0].servers[0]
    clock[0] += DEAD_AFTER + 1
    service.replicas.check_liveness()  # every server silent: all dead
    answer = service.heartbeat(Heartbeat(back, "r", 0, 10**12))  # joins again
    with service.metadata.core:
        left = service.chunks.pool.shelf.ready()
    assert all(back not in c.servers for c in left)
    on_it = [c for c in pooled if back in c.servers]
    assert on_it
    assert {c.handle for c in on_it} <= {r.handle for r in answer.removals}
    with service.metadata.core:
        ordered = service.metadata.servers.ordered()
    others = [(a, c.handle) for c in on_it for a in c.servers if a != back]
    assert others and all(o in ordered for o in others)


def test_a_full_report_or_a_lost_replica_takes_the_pooled_chunks_with_it(setup) -> None:  # type: ignore[no-untyped-def]
    """A server that restarted (its data directory failed meanwhile, say) reports in full; one
    whose directory failed under pooled replicas says they are lost: either way no pooled
    chunk on it that it may not hold is handed out."""
    service, _, _ = setup
    pooled = _pooled(service, POOL)
    server = pooled[0].servers[0]
    on_it = [c for c in pooled if server in c.servers]
    answer = service.heartbeat(_beat(server, lost=(on_it[0].handle,)))
    left = {c.handle for c in service.chunks.pool.shelf.ready()}
    assert on_it[0].handle not in left and on_it[0].handle in {r.handle for r in answer.removals}
    assert {c.handle for c in on_it[1:]} <= left, "only the one it lost"
    service.heartbeat(Heartbeat(server, "r", 0, 10**12))  # started again: a full report
    left = {c.handle for c in service.chunks.pool.shelf.ready()}
    assert not left & {c.handle for c in on_it}
    assert left == {c.handle for c in pooled if server not in c.servers}


def test_a_server_being_drained_takes_its_pooled_chunks_with_it(setup) -> None:  # type: ignore[no-untyped-def]
    service, _, _ = setup
    pooled = _pooled(service, POOL)
    drained = pooled[0].servers[0]
    service.decommission(drained)
    with service.metadata.core:
        left = service.chunks.pool.shelf.ready()
        ordered = service.metadata.servers.ordered()
    assert all(drained not in c.servers for c in left)
    assert all((drained, c.handle) in ordered for c in pooled if drained in c.servers)


def test_a_restarted_master_never_issues_a_pooled_handle_again(tmp_path: Path) -> None:
    """The pool is not persisted; its handles are: the next master's chunks get new ones, and
    the old pool's replicas are garbage to it."""
    service, _, _ = four_servers(tmp_path, chunk_pool=POOL)
    service.get_chunk("/f", 0, for_write=True)
    pooled = _pooled(service, POOL)
    service.close()
    service.store.close()
    store = Store(tmp_path / "m.db")
    fake = FakeCluster(store)
    again = MasterService(config(tmp_path), store, clock=lambda: 2000.0, channels=fake)  # type: ignore[arg-type]
    servers = sorted({a for c in pooled for a in c.servers})
    for address in servers:
        again.heartbeat(Heartbeat(address, "r", 0, 10**12))
    again.replicas.set_safe_mode("leave")
    view = again.create("/g", first_chunk=True)
    assert view is not None and view.handle > max(c.handle for c in pooled)
    answer = again.heartbeat(
        Heartbeat(servers[0], "r", 0, 10**12, [Report(pooled[0].handle, 2, 0)], [], [])
    )
    assert pooled[0].handle in {r.handle for r in answer.removals}


def test_a_server_that_fails_its_batch_leaves_its_chunks_out(tmp_path: Path) -> None:
    service, fake, _ = four_servers(tmp_path, chunk_pool=POOL)
    fake.down.add("d:1")
    service.get_chunk("/f", 0, for_write=True)  # made on demand without d, then the pool
    deadline = time.monotonic() + 10
    while not any(s.method == "CreateReplicas" and s.address == "d:1" for s in fake.sent):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    ready = _pooled(service, 0)
    assert all("d:1" not in c.servers for c in ready)
    failed = {
        h
        for s in fake.sent
        if s.method == "CreateReplicas" and s.address == "d:1"
        for h in s.request.handles
    }
    assert failed and not failed & {c.handle for c in ready}
    with service.metadata.core:
        ordered = service.metadata.servers.ordered()
        reserved = set(service.chunks.busy())
    for handle in failed:
        others = [a for a in ("a:1", "b:1", "c:1") if handle in fake.held.get(a, {})]
        assert all((a, handle) in ordered for a in others)
        assert handle not in reserved, "its handle is released: reports judge it garbage"


def test_the_shelf_hands_out_only_chunks_on_usable_servers() -> None:
    shelf = Shelf(4)
    assert shelf.wanted(3) == 4
    shelf.add(
        3, [Pooled(1, ("a", "b", "c")), Pooled(2, ("b", "c", "d")), Pooled(3, ("a", "c", "d"))]
    )
    assert shelf.wanted(3) == 0, "more than half the shelf's size left: no batch yet"
    assert shelf.placed["c"] == 3
    taken, dropped = shelf.take(3, {"b", "c", "d"})
    assert taken == Pooled(2, ("b", "c", "d")) and dropped == [Pooled(1, ("a", "b", "c"))]
    assert len(shelf.ready()) == 1 and shelf.placed["b"] == 0 and shelf.placed["c"] == 1
    assert shelf.wanted(3) == 3
    shelf.filling.add(3)
    assert shelf.wanted(3) == 0, "one batch at a time"
    assert shelf.take(2, {"a"}) == (None, [])


def test_a_shelf_that_runs_out_keeps_more_ready_from_then_on() -> None:
    shelf = Shelf(4, most=12)
    assert shelf.take(3, {"a", "b", "c"}) == (None, [])
    assert shelf.wanted(3) == 4, "never filled yet is no miss"
    shelf.add(3, [Pooled(1, ("a", "b", "c"))])
    assert shelf.take(3, {"a", "b", "c"})[0] == Pooled(1, ("a", "b", "c"))
    assert shelf.wanted(3) == 4, "taking what it had is no miss"
    assert shelf.take(3, {"a", "b", "c"}) == (None, [])
    assert shelf.wanted(3) == 8
    shelf.take(3, {"a", "b", "c"})
    shelf.take(3, {"a", "b", "c"})
    assert shelf.wanted(3) == 12, "never past `most`"
    assert shelf.wanted(2) == 4, "each replication's own"
