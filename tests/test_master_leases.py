"""Lease and version rules of the master, with a fake clock and fake chunkservers
(tests/master_fakes.py) that record what the store held when each RPC was sent."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from common import errors
from master import leases, replication
from master import store as store_module
from master.chunkservers import Heartbeat, Report
from master.service import MasterService
from master.state import Chunk, PutChunk
from master.store import Store
from tests.master_fakes import (
    DEAD_AFTER,
    LEASE,
    MARGIN,
    FakeCluster,
    beat_all,
    config,
    four_servers,
)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[MasterService, FakeCluster, list[float]]:
    return four_servers(tmp_path)


def test_a_valid_lease_is_reused_without_any_rpc(setup) -> None:  # type: ignore[no-untyped-def]
    service, fake, clock = setup
    first = service.get_chunk("/f", 0, for_write=True)
    fake.sent.clear()
    clock[0] += LEASE - 1
    beat_all(service, fake)
    assert service.get_chunk("/f", 0, for_write=True).primary == first.primary
    assert fake.sent == []


def test_after_expiry_the_version_is_logged_before_any_replica_hears_of_it(setup) -> None:  # type: ignore[no-untyped-def]
    service, fake, clock = setup
    first = service.get_chunk("/f", 0, for_write=True)
    fake.sent.clear()
    clock[0] += LEASE + MARGIN
    beat_all(service, fake)
    view = service.get_chunk("/f", 0, for_write=True)
    new = first.version + 1
    assert view.version == new
    bumps = [s for s in fake.sent if s.method == "SetVersion"]
    assert len(bumps) == 3
    assert all(
        s.request.version == new and s.logged_version == new and not s.request.create for s in bumps
    )
    assert fake.sent[-1].method == "GrantLease", "the primary is named last"


def test_a_dead_primarys_lease_is_waited_out_and_a_replica_that_misses_the_bump_is_stale(
    setup,
) -> None:  # type: ignore[no-untyped-def]
    service, fake, clock = setup
    first = service.get_chunk("/f", 0, for_write=True)
    dead = first.primary
    clock[0] += DEAD_AFTER + 1  # the primary stopped heartbeating; its lease is still valid
    beat_all(service, fake, except_=dead)
    with pytest.raises(errors.Unavailable, match="unreachable; its lease ends in"):
        service.get_chunk("/f", 0, for_write=True)
    assert not [s for s in fake.sent if s.method == "GrantLease" and s.address != dead]

    clock[0] = 1000.0 + LEASE + MARGIN  # master-side expiry: now a new primary may be named
    beat_all(service, fake, except_=dead)
    survivors = sorted(set(first.replicas) - {dead})
    fake.down.add(survivors[1])  # this one misses the bump
    fake.sent.clear()
    view = service.get_chunk("/f", 0, for_write=True)
    assert view.version == first.version + 1
    assert view.primary == survivors[0]
    assert view.replicas == [survivors[0]], "the dead and the one that missed the bump are stale"


def test_a_primary_that_refuses_its_lease_as_not_held_is_passed_over_at_once(setup) -> None:  # type: ignore[no-untyped-def]
    """A server that came back without the replica (its data directory replaced) before any
    report said so refuses the grant, logged already. It took no lease: the record is cleared
    and its replica no longer counts, so the next lookup grants among the others at once,
    bumping the version; writers no longer wait the lease out on a primary that refuses them."""
    service, fake, clock = setup
    fake.refuse_grants = {"a:1", "b:1", "c:1", "d:1"}
    with pytest.raises(errors.StaleReplica):
        service.get_chunk("/f", 0, for_write=True)
    refused = fake.sent[-1]
    assert refused.method == "GrantLease" and refused.logged_holder == refused.address
    fake.refuse_grants = {refused.address}
    clock[0] += 1  # well within the refused lease
    view = service.get_chunk("/f", 0, for_write=True)
    assert view.primary and view.primary != refused.address
    assert refused.address not in view.replicas and len(view.replicas) == 2
    assert view.version == refused.request.version + 1  # a bump fences whatever it holds
    assert 1 in service.metadata.servers.servers[refused.address].recheck


def test_while_a_version_bump_travels_only_replicas_that_took_it_are_listed(setup) -> None:  # type: ignore[no-untyped-def]
    """The new version is logged before the replicas hear of it; meanwhile the master must not
    list a replica at a version it does not hold yet (found by the fault suite: a bump stuck on
    a server just killed listed two restarted servers at the new version for seconds)."""
    service, fake, clock = setup
    first = service.get_chunk("/f", 0, for_write=True)
    clock[0] += LEASE + MARGIN
    beat_all(service, fake)
    seen: list[tuple[int, list[str]]] = []

    def look(address: str) -> None:
        (view,) = service.stat("/f")[1]
        seen.append((view.version, view.replicas))
        for listed in view.replicas:
            assert fake.held[listed][view.handle] == view.version, f"{listed} listed too early"

    fake.on_set_version = look
    view = service.get_chunk("/f", 0, for_write=True)
    assert view.version == first.version + 1 and len(view.replicas) == 3
    assert [v for v, _ in seen] == [view.version] * 3, "the bump was logged before it was sent"


def test_repair_copies_nothing_while_a_version_bump_travels(setup) -> None:  # type: ignore[no-untyped-def]
    """Meanwhile the chunk lists only the replicas that took the new version, so it looks
    under-replicated; repair must wait for the bump (the snapshot test caught a copy made
    during a lease grant)."""
    service, fake, clock = setup
    service.get_chunk("/f", 0, for_write=True)
    clock[0] += LEASE + MARGIN
    beat_all(service, fake)
    planned: list[object] = []

    def repair_meanwhile(address: str) -> None:
        service.repair()
        planned.extend(service.repairs.cloning.values())

    fake.on_set_version = repair_meanwhile
    service.get_chunk("/f", 0, for_write=True)
    assert planned == []


def test_a_version_no_replica_took_makes_no_replica_stale(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A bump is logged before the replicas hear of it. When none of them takes it (all cut
    off from the master for a moment), nothing can have been written under it: the replicas
    at the version before must stay current, across a master restart too, and be told the
    new one, not be removed as stale (which lost the chunk for good)."""
    service, fake, clock = setup
    first = service.get_chunk("/f", 0, for_write=True)
    clock[0] += LEASE + MARGIN
    beat_all(service, fake)
    fake.down = set(first.replicas)
    with pytest.raises(errors.Unavailable, match="accepted version"):
        service.get_chunk("/f", 0, for_write=True)
    assert service.store.load().chunks[first.handle].floor == first.version
    fake.down = set()

    restarted = MasterService(
        config(tmp_path),
        service.store,
        clock=lambda: clock[0],
        channels=fake,  # type: ignore[arg-type]
    )
    for address in first.replicas:
        reports = [Report(first.handle, first.version, 0)]
        removals = restarted.heartbeat(Heartbeat(address, "r", 0, 10**12, reports)).removals
        assert removals == []
    untaken = first.version + 1

    def caught_up() -> bool:
        (view,) = restarted.stat("/f")[1]
        return view.version == untaken and sorted(view.replicas) == sorted(first.replicas)

    deadline = time.monotonic() + 10
    while not caught_up():
        assert time.monotonic() < deadline, restarted.stat("/f")[1]
        time.sleep(0.01)
    assert all(fake.held[a][first.handle] == untaken for a in first.replicas)
    view = restarted.get_chunk("/f", 0, for_write=True)
    assert view.version == untaken + 1 and sorted(view.replicas) == sorted(first.replicas)
    assert restarted.store.load().chunks[first.handle].floor == 0, "taken: no floor any more"
    restarted.update_safe_mode()
    late = Report(first.handle, first.version, 0)  # a replica still at the old version now
    removals = restarted.heartbeat(Heartbeat("d:1", "r", 0, 10**12, [late])).removals
    assert [r.handle for r in removals] == [first.handle]


def test_a_replica_lost_with_a_failed_disk_ends_the_lease_before_the_next_write(setup) -> None:  # type: ignore[no-untyped-def]
    """A secondary whose disk failed under a lease may get that disk back, with the version it
    had and without the writes made since (a soak found two such replicas listed as current):
    as for a dead one, the next write lookup revokes the lease and bumps the version past it,
    so that replica, reported again, is stale."""
    service, fake, _ = setup
    first = service.get_chunk("/f", 0, for_write=True)
    lost = next(a for a in first.replicas if a != first.primary)
    service.heartbeat(Heartbeat(lost, "r", 0, 10**12, lost=(1,)))
    revoked: list[bool] = []
    fake.on_revoke = lambda: revoked.append(True)
    view = service.get_chunk("/f", 0, for_write=True)
    assert revoked == [True]
    assert view.version == first.version + 1
    assert lost not in view.replicas
    assert fake.held[lost][1] == first.version  # the disk comes back with it
    beat_all(service, fake)
    assert lost not in service.get_chunk("/f", 0, for_write=False).replicas
    assert service.get_chunk("/f", 0, for_write=True).version == view.version
    assert revoked == [True], "revoked once, not again"


def test_a_primary_whose_disk_failed_under_its_lease_is_not_extended(setup) -> None:  # type: ignore[no-untyped-def]
    """It cannot write the chunk any more: extended, it would keep every writer waiting."""
    service, _, clock = setup
    first = service.get_chunk("/f", 0, for_write=True)
    clock[0] += LEASE / 2
    beat = Heartbeat(first.primary, "r", 0, 10**12, extend=[(1, first.version)], lost=(1,))
    assert service.heartbeat(beat).extended == []


def test_a_primary_that_keeps_mutating_keeps_its_lease_through_heartbeats(setup) -> None:  # type: ignore[no-untyped-def]
    service, fake, clock = setup
    first = service.get_chunk("/f", 0, for_write=True)
    for _ in range(5):  # five lease lengths, extended every half of one
        clock[0] += LEASE / 2
        assert beat_all(service, fake, extend=[(1, first.version)]) == [1]
    row = service.store.db.execute("SELECT lease_expiry FROM chunks WHERE handle = 1").fetchone()
    assert row[0] == clock[0] + LEASE + MARGIN, "the extension is logged"
    fake.sent.clear()
    view = service.get_chunk("/f", 0, for_write=True)
    assert (view.primary, view.version) == (first.primary, first.version)
    assert fake.sent == [], "no new grant, no version bump"


def test_an_expired_lease_is_never_revived_and_only_its_holder_extends_it(setup) -> None:  # type: ignore[no-untyped-def]
    service, fake, clock = setup
    first = service.get_chunk("/f", 0, for_write=True)
    other = next(a for a in ("a:1", "b:1", "c:1", "d:1") if a != first.primary)
    granted = service.heartbeat(
        Heartbeat(other, "r", 0, 10**12, [], [], [(1, first.version)])
    ).extended
    assert granted == []
    clock[0] += LEASE + MARGIN
    assert beat_all(service, fake, extend=[(1, first.version)]) == []


def test_an_extension_names_the_current_version() -> None:
    chunks = {1: Chunk(1, 2, lease_holder="a", lease_expiry=50.0)}
    assert leases.extensions(chunks, "a", [(1, 1)], now=40.0, until=99.0) == []
    (extended,) = leases.extensions(chunks, "a", [(1, 2)], now=40.0, until=99.0)
    assert extended.lease_expiry == 99.0


@pytest.mark.parametrize(
    ("chunk", "replicas", "expected"),
    [
        (Chunk(1, 3, lease_holder="a", lease_expiry=50.0), ["a", "b"], leases.Reuse("a")),
        (Chunk(1, 3, lease_holder="a", lease_expiry=50.0), ["b"], leases.WaitOut("a", 10.0)),
        (Chunk(1, 3, lease_holder="a", lease_expiry=40.0), ["a", "b"], leases.Grant()),
        (Chunk(1, 1), ["a"], leases.Grant()),  # the first lease too
        (Chunk(1, 1, lease_holder="a", lease_expiry=10.0), ["a"], leases.Grant()),
        (Chunk(1, 3), [], leases.NoReplica()),
    ],
)
def test_lease_decisions(chunk: Chunk, replicas: list[str], expected: leases.Decision) -> None:
    assert leases.decide(chunk, replicas, now=40.0) == expected


def test_a_live_primary_with_a_dead_replica_has_its_lease_revoked() -> None:
    leased = Chunk(1, 3, lease_holder="a", lease_expiry=50.0)
    assert leases.decide(leased, ["a", "b"], now=40.0, lost_replicas=["c"]) == leases.Revoke("a")
    assert leases.decide(leased, ["b"], now=40.0, lost_replicas=["a"]) == leases.WaitOut("a", 10.0)
    revoked = Chunk(1, 1, lease_holder="", lease_expiry=40.0)  # revoked at 40: not "never leased"
    assert leases.decide(revoked, ["a", "b"], now=40.0) == leases.Grant()


def test_a_file_deleted_while_its_chunk_is_being_copied_does_not_come_back(setup) -> None:  # type: ignore[no-untyped-def]
    """Re-replication revokes the chunk's lease; the file is deleted while that RPC is on its
    way. The revocation must not write the chunk back into the table once it is gone (it was
    left there, held by no file, and its replicas were never reclaimed)."""
    service, fake, _ = setup
    view = service.get_chunk("/f", 0, for_write=True)
    target = next(a for a in ("a:1", "b:1", "c:1", "d:1") if a not in view.replicas)
    deleter = threading.Thread(target=service.delete, args=("/f", False, True))

    def delete_meanwhile() -> None:
        deleter.start()
        deleter.join(timeout=0.5)  # with the chunk's lock held, the delete waits for the copy

    fake.on_revoke = delete_meanwhile
    service.repairs.clone(replication.Clone(view.handle, view.version, view.primary, target))
    deleter.join()
    assert service.chunk(view.handle) is None
    assert service.store.load().chunks == {}


def test_a_copy_stops_a_primary_whose_lease_is_over_by_the_masters_record(setup) -> None:  # type: ignore[no-untyped-def]
    """A master restarted with its clock set forward finds its stored leases over while their
    primaries still count them: a copy made without stopping one missed the writes it went
    on ordering, at the same version (found by the fault suite)."""
    service, fake, clock = setup
    view = service.get_chunk("/f", 0, for_write=True)
    clock[0] += 3600  # the lease is long over by the master's clock
    beat_all(service, fake)  # every server alive, the primary too
    revoked: list[bool] = []
    fake.on_revoke = lambda: revoked.append(True)
    target = next(a for a in ("a:1", "b:1", "c:1", "d:1") if a not in view.replicas)
    service.repairs.clone(replication.Clone(view.handle, view.version, view.primary, target))
    assert revoked, "the primary was told to give its lease up before the copy"
    assert service.chunk(view.handle).lease_holder == ""


def test_an_extended_lease_comes_with_a_new_token_for_its_secondaries(setup) -> None:  # type: ignore[no-untyped-def]
    """The lease token a primary shows its secondaries ended with the lease it was granted
    with (and a restarted master's keys are new): past the first term, every mutation the
    primary ordered was refused. An extension now brings a token for the extended lease."""
    from common.tokens import LEAD, Token
    from master.issuer import TokenIssuer

    service, _, clock = setup
    issuer = TokenIssuer(service.config, lambda: clock[0])
    service.chunks.leasing.tokens = issuer
    first = service.get_chunk("/f", 0, for_write=True)
    clock[0] += LEASE / 2 + 0.1
    reports = [Report(1, first.version, 0)]
    granted = service.heartbeat(
        Heartbeat(first.primary, "r", 0, 10**12, reports, [], [(1, first.version)])
    ).extended
    ((handle, blob),) = granted
    chunk = service.chunk(1)
    assert handle == 1 and chunk is not None
    ring = issuer._ring  # what the chunkservers are sent
    token = Token.verify(blob, ring, clock[0])
    token.allows(LEAD, 1, first.version)
    assert token.user == first.primary and token.until == chunk.lease_expiry
    assert chunk.lease_expiry > clock[0] + LEASE / 2  # beyond the first term's end


def test_a_stored_lease_ending_after_any_lease_granted_now_ends_then() -> None:
    """Stored by a clock an hour ahead of this one (set back across a restart), it would have
    stalled its chunk for an hour if its primary was gone."""
    held = Chunk(1, version=2, lease_holder="a:1", lease_expiry=5000.0)
    short = Chunk(2, version=2, lease_holder="b:1", lease_expiry=100.0)
    free = Chunk(3, version=2, lease_expiry=9000.0)
    clamped = leases.no_later_than({1: held, 2: short, 3: free}, longest=110.0)
    assert clamped == {1: held._replace(lease_expiry=110.0)}


def test_a_bump_no_replica_has_heard_of_yet_leaves_the_old_version_current() -> None:
    """Logged before any replica hears of it: a master that crashed right then found every
    replica of a fresh chunk stale and the chunk lost (found by the fault suite)."""
    bump = leases.bumped(Chunk(1, version=1), keep_lease=False)
    assert bump.version == 2 and bump.current(1) and bump.current(2)
    taken = leases.taken(bump)
    assert taken is not None
    (change,) = taken.changes
    assert isinstance(change, PutChunk)
    assert change.chunk.current(2) and not change.chunk.current(1), "once taken, v1 is stale"


def test_removals_taken_by_a_heartbeat_reach_the_server_when_its_extension_cannot_be_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A soak left a deleted chunk's replica behind: a heartbeat took the server's removal
    orders, then failed on the master's full disk logging a lease extension, and the orders
    went down with the reply while the master believed them sent (nothing lists an unchanged
    replica again until a full report). The extension is now not made, and the removals go."""
    clock = [1000.0]
    store = Store(tmp_path / "m.db")
    fake = FakeCluster(store)
    service = MasterService(config(tmp_path), store, clock=lambda: clock[0], channels=fake)  # type: ignore[arg-type]
    for address in ("a:1", "b:1", "c:1"):  # three servers: every chunk is on each
        service.heartbeat(Heartbeat(address, "r", 0, 10**12))
    service.create("/doomed")
    service.create("/kept")
    doomed = service.get_chunk("/doomed", 0, for_write=True)
    kept = service.get_chunk("/kept", 0, for_write=True)
    service.delete("/doomed", recursive=False, skip_trash=True)

    def full(mutations: object) -> int:
        raise store_module._refusal(sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr(store, "commit_all", full)
    clock[0] += LEASE / 2
    asks = [(kept.handle, kept.version)]
    beat = Heartbeat(kept.primary, "r", 0, 10**12, extend=asks, incremental=True)
    answer = service.heartbeat(beat)
    assert [r.handle for r in answer.removals] == [doomed.handle]
    assert answer.extended == []
    monkeypatch.undo()  # the disk has room again: the primary's next ask is granted
    answer = service.heartbeat(beat)
    assert answer.removals == [] and [h for h, _ in answer.extended] == [kept.handle]
