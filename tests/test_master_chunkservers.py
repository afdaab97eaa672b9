"""Liveness, placement and the stale/garbage/adopt rules, with a fake clock."""

from __future__ import annotations

from master import leases, namespace, placement
from master.chunkservers import (
    ANY_VERSION,
    Chunkservers,
    Heartbeat,
    HeartbeatOutcome,
    Removal,
    Report,
)
from master.state import MasterState


def setup_file(chunks: int = 1) -> MasterState:
    """A file whose chunks are at version 1 with no floor (as after their first lease's bump,
    one version lower): only version 1 is current."""
    state = MasterState()
    state.apply(namespace.create(state, "/f", now=0.0))
    state.apply(namespace.add_chunks(state, "/f", chunks - 1, now=0.0))
    for handle, chunk in state.chunks.items():
        state.chunks[handle] = chunk._replace(version=1, floor=0, issued=0)
    return state


def beat(
    cs: Chunkservers,
    state: MasterState,
    address: str,
    reports: list[Report],
    now: float,
    corrupt: list[int] | None = None,
    in_flight: set[int] | None = None,
) -> HeartbeatOutcome:
    report = Heartbeat(address, "r1", 0, 10**12, reports, corrupt or [])
    return cs.heartbeat(state, report, now, in_flight or set())


def test_a_server_is_dead_after_silence_and_alive_again_when_it_reports() -> None:
    state, cs = setup_file(), Chunkservers(dead_after=3.0)
    beat(cs, state, "a:1", [], now=0.0)
    assert cs.alive("a:1", 2.9)
    assert not cs.alive("a:1", 3.0)
    beat(cs, state, "a:1", [], now=10.0)
    assert cs.alive("a:1", 10.5)


def test_a_replica_with_a_lower_version_is_stale_never_a_location_and_removed() -> None:
    state, cs = setup_file(), Chunkservers(dead_after=3.0)
    state.chunks[1] = state.chunks[1].__class__(1, version=5)
    outcome = beat(cs, state, "a:1", [Report(1, 4, 100)], now=0.0)
    assert outcome.removals == [Removal(1, 4)]
    assert cs.replicas(1, now=0.0) == []


def test_a_replica_being_upgraded_is_not_judged_stale() -> None:
    state, cs = setup_file(), Chunkservers(dead_after=3.0)
    state.chunks[1] = state.chunks[1].__class__(1, version=5)
    outcome = beat(cs, state, "a:1", [Report(1, 4, 100)], now=0.0, in_flight={1})
    assert outcome.removals == []


def test_a_higher_version_is_adopted_through_a_logged_mutation() -> None:
    """The report only claims it: the master adopts it under the chunk's lock, planned from
    the row as it is then (so nothing else in the row is written back), and lists the
    replica once that is logged."""
    state, cs = setup_file(), Chunkservers(dead_after=3.0)
    state.chunks[1] = state.chunks[1]._replace(issued=7)  # the log was rolled back
    outcome = beat(cs, state, "a:1", [Report(1, 7, 100)], now=0.0)
    assert outcome.claims == {1: 7}
    assert cs.replicas(1, now=0.0) == [], "not listed before the adoption is logged"
    state.chunks[1] = state.chunks[1]._replace(refcount=2)  # a snapshot meanwhile
    adoption = leases.adopted(state.chunks, "a:1", outcome.claims)
    assert adoption is not None
    state.apply(adoption)
    assert (state.chunks[1].version, state.chunks[1].refcount) == (7, 2)
    assert leases.adopted(state.chunks, "a:1", {1: 7}) is None, "nothing left to adopt"


def test_replicas_of_deleted_or_never_issued_chunks_are_garbage_unless_being_made() -> None:
    """Replicas planted under handles never issued (CopyLocal to a huge handle) used to be
    kept for good. A handle being made right now (reserved for a copy not yet committed) is
    busy, and its replica waits for the next report."""
    state, cs = setup_file(), Chunkservers(dead_after=3.0)
    state.apply(namespace.delete(state, "/f", recursive=False))
    outcome = beat(cs, state, "a:1", [Report(1, 1, 10), Report(99, 1, 10)], now=0.0)
    assert outcome.removals == [Removal(1, ANY_VERSION), Removal(99, ANY_VERSION)]
    made = beat(cs, state, "a:1", [Report(99, 1, 10)], now=0.5, in_flight={99})
    assert made.removals == []


def test_a_replica_lost_with_its_disk_is_forgotten_with_its_chunk() -> None:
    state, cs = setup_file(), Chunkservers(dead_after=3.0)
    beat(cs, state, "a:1", [Report(1, 1, 10)], now=0.0)
    cs.heartbeat(state, Heartbeat("a:1", "r1", 0, 10**12, [], [], lost=(1,)), 0.5, set())
    assert cs.lost(1, now=0.5) == ["a:1"], "it ends the chunk's lease before the next write"
    state.apply(namespace.delete(state, "/f", recursive=False))
    beat(cs, state, "b:1", [], now=1.0)
    assert cs.dropped == {}, "kept for a chunk that is gone"


def test_dead_servers_are_not_handed_out_and_corrupt_replicas_are_dropped() -> None:
    state, cs = setup_file(), Chunkservers(dead_after=3.0)
    beat(cs, state, "a:1", [Report(1, 1, 10)], now=0.0)
    beat(cs, state, "b:1", [Report(1, 1, 10)], now=2.0)
    assert cs.replicas(1, now=2.5) == ["a:1", "b:1"]
    assert cs.replicas(1, now=4.0) == ["b:1"]
    beat(cs, state, "b:1", [], now=10.0, corrupt=[1])
    assert cs.replicas(1, now=10.0) == []


def test_a_verified_copy_over_a_corrupt_replica_is_no_longer_corrupt() -> None:
    """Re-replication may copy onto the server whose replica was corrupt (found by the fault
    suite): the corrupt mark must go with the old bytes, or the good copy is removed for it."""
    state, cs = setup_file(), Chunkservers(dead_after=3.0)
    beat(cs, state, "a:1", [], now=0.0, corrupt=[1])
    assert cs.servers["a:1"].corrupt == {1}
    cs.confirm(1, "a:1", now=0.5)
    assert cs.servers["a:1"].corrupt == set()
    assert cs.replicas(1, now=0.5) == ["a:1"]


def test_a_report_taken_before_a_confirmed_creation_does_not_drop_it() -> None:
    state, cs = setup_file(), Chunkservers(dead_after=3.0, report_grace=1.0)
    beat(cs, state, "a:1", [], now=0.0)
    cs.confirm(1, "a:1", now=0.5)
    beat(cs, state, "a:1", [], now=0.9)
    assert cs.replicas(1, now=0.9) == ["a:1"]
    beat(cs, state, "a:1", [], now=2.0)
    assert cs.replicas(1, now=2.0) == [], "a report well after the ack is believed"


def test_a_replica_lost_with_a_failed_disk_is_forgotten_at_once() -> None:
    """No grace for a replica the server says it lost: the master would have counted it (and
    fsck called the chunk healthy) for the grace, the copy elsewhere not even begun."""
    state, cs = setup_file(), Chunkservers(dead_after=3.0, report_grace=5.0)
    beat(cs, state, "a:1", [], now=0.0)
    cs.confirm(1, "a:1", now=0.5)
    lost = Heartbeat("a:1", "r1", 0, 10**12, [], [], lost=(1,))
    cs.heartbeat(state, lost, now=0.9, busy=set())
    assert cs.replicas(1, now=0.9) == []


def test_placement_spans_racks_first_then_free_space() -> None:
    c = placement.Candidate
    candidates = [
        c("a", "r1", 100, 0),
        c("b", "r1", 90, 0),
        c("c", "r2", 10, 0),
        c("d", "r1", 80, 0),
    ]
    assert placement.choose(candidates, 2) == ["a", "c"]
    assert placement.choose(candidates, 3) == ["a", "c", "b"]
    assert placement.choose(candidates, 3, needed_bytes=50) == ["a", "b", "d"]
    assert placement.choose(candidates, 9) == ["a", "c", "b", "d"]


def test_placement_among_disks_about_as_empty_prefers_the_fewest_chunks() -> None:
    """Servers on one disk (or equal disks) report nearly the same free space: new chunks must
    still spread over all of them, not go to whichever reported a few bytes more."""
    c = placement.Candidate
    candidates = [c("a", "r1", 1000, 5), c("b", "r1", 999, 0), c("c", "r1", 998, 3)]
    candidates += [c("d", "r1", 1000, 1), c("e", "r1", 500, 0)]
    assert placement.choose(candidates, 2) == ["b", "d"]


def test_a_replica_ordered_removed_is_not_brought_back_by_a_report_taken_before_the_order() -> None:
    state, cs = setup_file(), Chunkservers(dead_after=3.0)
    beat(cs, state, "a:1", [Report(1, 1, 10)], now=0.0)
    cs.remove(1, "a:1", now=0.0)
    beat(cs, state, "a:1", [Report(1, 1, 10)], now=0.5)  # built before the removal arrived
    assert cs.replicas(1, now=0.5) == []
    beat(cs, state, "a:1", [], now=1.0)  # carried out
    beat(cs, state, "a:1", [Report(1, 1, 10)], now=1.5)  # a new copy there later counts again
    assert cs.replicas(1, now=1.5) == ["a:1"]


def test_a_removal_that_never_happened_stops_hiding_the_replica() -> None:
    """The order was lost (the reply never arrived, or the server restarted before carrying it
    out): the replica it still reports must count again after a while, so that repair sees
    the surplus and orders it removed again, instead of leaving it on disk for good."""
    state, cs = setup_file(), Chunkservers(dead_after=3.0)
    beat(cs, state, "a:1", [Report(1, 1, 10)], now=0.0)
    cs.remove(1, "a:1", now=0.0)
    beat(cs, state, "a:1", [Report(1, 1, 10)], now=2.9)
    assert cs.replicas(1, now=2.9) == []
    beat(cs, state, "a:1", [Report(1, 1, 10)], now=3.1)
    assert cs.replicas(1, now=3.1) == ["a:1"]


def test_a_decommissioning_can_be_cancelled() -> None:
    """Decommissioning every server stopped all writes, and only a restart undid it."""
    state, cs = setup_file(), Chunkservers(dead_after=3.0)
    for address in ("a:1", "b:1"):
        beat(cs, state, address, [Report(1, 1, 10)], now=0.0)
    assert cs.decommission("a:1")
    assert cs.state_of("a:1", 1.0) == "decommissioning"
    assert [c.address for c in cs.candidates(1.0)] == ["b:1"], "no new replicas go there"
    assert cs.recommission("a:1")
    assert cs.state_of("a:1", 1.0) == "alive"
    assert sorted(c.address for c in cs.candidates(1.0)) == ["a:1", "b:1"]
    assert not cs.recommission("b:1"), "it was never being drained"
    assert not cs.decommission("z:1"), "no such server"


def test_a_version_the_master_never_issued_is_no_version_at_all() -> None:
    """One forged report of a higher version was adopted, and every real replica of the file
    was then removed as stale. Now the claim is the stale one, and the others stay."""
    state, cs = setup_file(), Chunkservers(dead_after=3.0)
    beat(cs, state, "b:1", [Report(1, 1, 100)], now=0.0)
    beat(cs, state, "c:1", [Report(1, 1, 100)], now=0.0)
    outcome = beat(cs, state, "liar:1", [Report(1, 2, 100)], now=0.1)
    assert outcome.claims == {}
    assert outcome.removals == [Removal(1, 2)]
    assert leases.adopted(state.chunks, "liar:1", {1: 2}) is None, "never adopted either"
    assert cs.replicas(1, now=0.2) == ["b:1", "c:1"]


def test_chunks_on_the_same_servers_share_one_sorted_tuple_of_them() -> None:
    """A million chunks on three servers hold a handful of tuples, not a million."""
    state = setup_file(chunks=4)
    handles = sorted(state.chunks)
    cs = Chunkservers(dead_after=10.0)
    for address in ("c", "a", "b"):
        beat(cs, state, address, [Report(h, 1, 0) for h in handles], now=0.0)
    held = [cs.locations[h] for h in handles]
    assert held[0] == ("a", "b", "c") and all(t is held[0] for t in held)
    assert cs.replicas(handles[0], now=1.0) == ["a", "b", "c"]
    cs.forget(handles[0], "b")
    cs.forget(handles[1], "b")
    assert cs.locations[handles[0]] == ("a", "c")
    assert cs.locations[handles[0]] is cs.locations[handles[1]]
    cs.confirm(handles[0], "b", now=2.0)  # back as it was: the same tuple as the others
    assert cs.locations[handles[0]] is cs.locations[handles[2]]
