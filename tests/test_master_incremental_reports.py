"""Incremental replica reports, judged by the master (pure, with a fake clock): what a report
that lists only changes may and may not be taken for, and what the master asks for again."""

from __future__ import annotations

from master import namespace
from master.chunkservers import (
    ANY_VERSION,
    Chunkservers,
    Heartbeat,
    HeartbeatOutcome,
    Removal,
    Report,
)
from master.state import MasterState


def two_chunks() -> MasterState:
    """A file of chunks 1 and 2, each at version 1 (only version 1 current)."""
    state = MasterState()
    state.apply(namespace.create(state, "/f", now=0.0))
    state.apply(namespace.add_chunks(state, "/f", 1, now=0.0))
    for handle, chunk in state.chunks.items():
        state.chunks[handle] = chunk._replace(version=1, floor=0, issued=0)
    return state


def full(
    cs: Chunkservers, state: MasterState, address: str, reports: list[Report], now: float
) -> HeartbeatOutcome:
    return cs.heartbeat(state, Heartbeat(address, "r1", 0, 10**12, reports), now)


def delta(
    cs: Chunkservers,
    state: MasterState,
    address: str,
    now: float,
    reports: list[Report] | None = None,
    gone: tuple[int, ...] = (),
    busy: frozenset[int] = frozenset(),
    count: int = 0,
) -> HeartbeatOutcome:
    beat = Heartbeat(
        address, "r1", 0, 10**12, reports or [], incremental=True, gone=gone, replica_count=count
    )
    return cs.heartbeat(state, beat, now, busy)


def test_an_incremental_report_is_taken_only_after_a_full_one() -> None:
    """A master that restarted (or counted the server dead, or replaced its table) knows
    nothing the changes could be relative to: it takes nothing, not even the beat, and asks
    for a full report."""
    state, cs = two_chunks(), Chunkservers(dead_after=3.0)
    first = delta(cs, state, "a:1", now=0.0, reports=[Report(1, 1, 10)])
    assert first.full_wanted and "a:1" not in cs.servers, "an unknown server is not registered"
    full(cs, state, "a:1", [Report(1, 1, 10), Report(2, 1, 10)], now=0.1)
    assert not delta(cs, state, "a:1", now=0.2).full_wanted
    assert cs.newly_dead(now=5.0) == ["a:1"]
    assert delta(cs, state, "a:1", now=5.1).full_wanted, "back from the dead: a full report"
    assert cs.replicas(1, now=5.1) == [], "the beat did not bring it back to life"
    full(cs, state, "a:1", [Report(1, 1, 10)], now=5.2)
    assert cs.replicas(1, now=5.2) == ["a:1"]
    cs.want_full_reports()
    assert delta(cs, state, "a:1", now=5.3).full_wanted


def test_an_incremental_report_changes_what_it_lists_and_nothing_else() -> None:
    state, cs = two_chunks(), Chunkservers(dead_after=3.0, report_grace=1.0)
    full(cs, state, "a:1", [Report(1, 1, 10), Report(2, 1, 10)], now=0.0)
    outcome = delta(cs, state, "a:1", now=2.0, count=2)
    assert outcome.removals == [] and cs.replicas(1, 2.0) == cs.replicas(2, 2.0) == ["a:1"]
    assert cs.servers["a:1"].reported == 2, "its count of replicas, not of those listed"
    delta(cs, state, "a:1", now=3.0, gone=(2,), count=1)
    assert cs.replicas(1, 3.0) == ["a:1"] and cs.replicas(2, 3.0) == []
    state.chunks[1] = state.chunks[1]._replace(version=2)
    cs.confirm(1, "a:1", now=3.5)
    delta(cs, state, "a:1", now=5.0, reports=[Report(1, 2, 20)], count=1)
    assert cs.replicas(1, 5.0) == ["a:1"]


def test_a_version_bump_a_server_missed_is_judged_by_asking_for_its_replica_again() -> None:
    """With full reports every beat the stale replica showed up by itself; an unchanged
    replica is in no incremental report, so the master asks for it."""
    state, cs = two_chunks(), Chunkservers(dead_after=3.0)
    full(cs, state, "a:1", [Report(1, 1, 10)], now=0.0)
    full(cs, state, "b:1", [Report(1, 1, 10)], now=0.0)
    state.chunks[1] = state.chunks[1]._replace(version=2)
    cs.reset_versions(1, {"b:1"})  # a:1 missed the bump
    asked = delta(cs, state, "a:1", now=0.5)
    assert asked.recheck == [1] and asked.removals == []
    judged = delta(cs, state, "a:1", now=1.0, reports=[Report(1, 1, 10)])
    assert judged.removals == [Removal(1, 1)] and judged.recheck == []
    assert cs.servers["a:1"].stale == {1}
    assert delta(cs, state, "b:1", now=1.0).recheck == [], "b:1 took the bump"


def test_a_deleted_chunks_replicas_are_ordered_removed_where_they_are_listed() -> None:
    """HDFS's invalidation: no report would list them again before the next full one."""
    state, cs = two_chunks(), Chunkservers(dead_after=3.0)
    full(cs, state, "a:1", [Report(1, 1, 10), Report(2, 1, 10)], now=0.0)
    full(cs, state, "b:1", [Report(1, 1, 10)], now=0.0)
    state.apply(namespace.delete(state, "/f", recursive=False))
    for handle in (1, 2):
        cs.chunk_deleted(handle)
    assert cs.send_orders("a:1", now=0.5) == [Removal(1, ANY_VERSION), Removal(2, ANY_VERSION)]
    assert cs.send_orders("b:1", now=0.5) == [Removal(1, ANY_VERSION)]
    assert cs.servers["a:1"].handles == set() and cs.locations == {}


def test_a_removal_order_lost_on_its_way_is_given_again() -> None:
    """The reply that carried an order can be lost (its server killed or paused while it came;
    a soak left a deleted chunk's replica behind so): no report shows the replica gone in
    `dead_after`, so it is asked for again and, still there, ordered removed again."""
    state, cs = two_chunks(), Chunkservers(dead_after=3.0)
    full(cs, state, "a:1", [Report(1, 1, 10), Report(2, 1, 10)], now=0.0)
    state.apply(namespace.delete(state, "/f", recursive=False))
    for handle in (1, 2):
        cs.chunk_deleted(handle)
    assert cs.send_orders("a:1", now=0.5) == [Removal(1, ANY_VERSION), Removal(2, ANY_VERSION)]
    assert delta(cs, state, "a:1", now=1.0, gone=(2,)).recheck == [], "2 went; 1's order lost"
    assert delta(cs, state, "a:1", now=3.4).recheck == [], "not yet overdue"
    assert delta(cs, state, "a:1", now=3.6).recheck == [1]
    again = delta(cs, state, "a:1", now=3.7, reports=[Report(1, 1, 10)])
    assert again.removals == [Removal(1, ANY_VERSION)] and again.recheck == []


def test_a_verdict_put_off_is_asked_for_again_until_it_is_made() -> None:
    """A replica being made (busy), one whose removal was ordered and not yet carried out,
    and one gone by a report that may predate its acknowledgement: each is judged by a later
    report, which an incremental one would not bring unasked."""
    state, cs = two_chunks(), Chunkservers(dead_after=3.0, report_grace=1.0)
    full(cs, state, "a:1", [Report(1, 1, 10)], now=0.0)
    busy = delta(cs, state, "a:1", now=0.1, reports=[Report(2, 1, 0)], busy=frozenset({2}))
    assert busy.recheck == [2]
    assert delta(cs, state, "a:1", now=0.2, reports=[Report(2, 1, 0)]).recheck == []
    assert cs.replicas(2, 0.2) == ["a:1"]

    cs.remove(1, "a:1", now=0.3)
    racing = delta(cs, state, "a:1", now=0.4, reports=[Report(1, 1, 10)])
    assert racing.recheck == [1] and cs.replicas(1, 0.4) == [], "the order stands"
    assert delta(cs, state, "a:1", now=0.5, gone=(1,)).recheck == []
    assert ("a:1", 1) not in {(a, h) for (h, a) in cs.removing}, "carried out: cleared"

    cs.confirm(1, "a:1", now=1.0)  # a copy lands there; a report made before says gone
    early = delta(cs, state, "a:1", now=1.5, gone=(1,))
    assert early.recheck == [1] and cs.replicas(1, 1.5) == ["a:1"]
    assert delta(cs, state, "a:1", now=1.6, reports=[Report(1, 1, 10)]).recheck == []
    assert cs.replicas(1, 1.6) == ["a:1"]


def test_a_full_report_judges_everything_again() -> None:
    """The safety net: whatever an incremental report could miss, the next full one sees."""
    state, cs = two_chunks(), Chunkservers(dead_after=3.0, report_grace=1.0)
    full(cs, state, "a:1", [Report(1, 1, 10), Report(2, 1, 10)], now=0.0)
    cs.servers["a:1"].recheck.add(1)
    outcome = full(cs, state, "a:1", [Report(1, 1, 10), Report(7, 1, 10)], now=2.0)
    assert outcome.removals == [Removal(7, ANY_VERSION)] and outcome.recheck == []
    assert cs.replicas(2, 2.0) == [], "not in a full report: forgotten"


def test_a_full_report_in_parts_is_taken_part_by_part_and_closed_by_the_last() -> None:
    """Each part is judged as it comes (its chunks are located at once); parts come in order;
    after the last, what the master thought the server held and no part listed is forgotten."""
    state = two_chunks()
    state.apply(namespace.add_chunks(state, "/f", 3, now=0.0))
    for handle, chunk in state.chunks.items():
        state.chunks[handle] = chunk._replace(version=1, floor=0, issued=0)
    cs = Chunkservers(dead_after=30.0)

    def part(n: int, of: int, handles: list[int], now: float) -> HeartbeatOutcome:
        reports = [Report(h, 1, 10) for h in handles]
        beat = Heartbeat("a:1", "r1", 0, 10**12, reports, incremental=True, part=n, parts=of)
        return cs.heartbeat(state, beat, now)

    assert part(2, 2, [3, 4], now=0.0).full_wanted, "a new server's report starts at part 1"
    assert not part(1, 2, [1, 2], now=0.1).full_wanted
    assert [cs.locations.get(h) for h in (1, 2, 3)] == [("a:1",), ("a:1",), None]
    assert delta(cs, state, "a:1", now=0.2).full_wanted, "no base until the last part"
    assert not part(1, 2, [1, 2], now=0.3).full_wanted  # the parts begin again
    assert not part(2, 2, [3, 4], now=0.4).full_wanted
    assert all(cs.locations.get(h) == ("a:1",) for h in (1, 2, 3, 4))
    assert not delta(cs, state, "a:1", now=0.5).full_wanted

    # The next full report, an hour on: chunk 2 vanished without a word.
    assert not part(1, 2, [1], now=10.0).full_wanted
    assert part(3, 2, [3, 4], now=10.1).full_wanted, "out of order: from the start"
    assert not part(1, 2, [1], now=10.2).full_wanted
    assert not part(1, 2, [1], now=10.3).full_wanted, "a part again (its reply was lost)"
    assert cs.locations.get(2) == ("a:1",), "not forgotten before the last part"
    assert not part(2, 2, [3, 4], now=10.4).full_wanted
    assert cs.locations.get(2) is None
    assert all(cs.locations.get(h) == ("a:1",) for h in (1, 3, 4))
