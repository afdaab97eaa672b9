"""The re-replication and trimming planner, pure: priorities, throttles, racks, leases."""

from __future__ import annotations

from master.chunkservers import Removal
from master.placement import Candidate
from master.replication import Clone, plan_clones, plan_moves, plan_trims, priority
from master.state import Chunk

BIG = 10**12


def candidates(*specs: tuple[str, str]) -> list[Candidate]:
    return [Candidate(address, rack, BIG, 0) for address, rack in specs]


def test_fewest_replicas_first_and_a_waiting_client_boosts_one_step() -> None:
    assert priority(1, urgent=False) < priority(2, urgent=False)
    assert priority(2, urgent=True) < priority(2, urgent=False)
    assert priority(1, urgent=False) < priority(2, urgent=True), "nearer to loss still wins ties"
    chunks = {h: Chunk(h, 1) for h in (1, 2, 3)}
    live = {1: ["a", "b"], 2: ["a"], 3: ["b", "c"]}
    plan = plan_clones(
        chunks,
        live,
        candidates(("a", "r"), ("b", "r"), ("c", "r"), ("d", "r")),
        {},
        3,
        100,
        {},
        per_server=10,
        urgent=[3],
    )
    assert [c.handle for c in plan] == [2, 3, 1]


def test_copies_are_throttled_per_server_and_skip_chunks_under_way_or_lost() -> None:
    chunks = {h: Chunk(h, 1) for h in range(1, 6)}
    live = {h: ["a", "b"] for h in range(1, 6)}
    live[5] = []  # no live replica: nothing to copy from
    plan = plan_clones(
        chunks,
        live,
        candidates(("a", "r"), ("b", "r"), ("c", "r")),
        {},
        3,
        100,
        busy={"c": 1},
        per_server=2,
        under_way=[4],
    )
    assert len(plan) == 1, "target c takes part in at most two copies, one already running"
    assert plan[0].target == "c" and plan[0].handle not in (4, 5)


def test_a_copy_goes_to_a_rack_the_chunk_lacks() -> None:
    chunks = {1: Chunk(1, 7)}
    racks = {"a": "r1", "b": "r1", "c": "r1", "d": "r2"}
    plan = plan_clones(
        chunks,
        {1: ["a", "b"]},
        candidates(("c", "r1"), ("d", "r2")),
        racks,
        3,
        100,
        {},
        per_server=2,
    )
    assert plan == [Clone(1, 7, "a", "d")]


def test_a_copy_never_targets_a_server_the_chunk_is_being_removed_from() -> None:
    """Found by the fault suite: a surplus replica ordered removed, then a server dying, then
    a copy to the first server, which carried out the order after the copy, deleting it."""
    chunks = {1: Chunk(1, 6)}
    servers = candidates(("c", "r"), ("d", "r"))
    plan = plan_clones(chunks, {1: ["a", "b"]}, servers, {}, 3, 100, {}, per_server=2)
    assert plan == [Clone(1, 6, "a", "c")], "c first, with nothing being removed"
    plan = plan_clones(
        chunks, {1: ["a", "b"]}, servers, {}, 3, 100, {}, per_server=2, removing=[(1, "c")]
    )
    assert plan == [Clone(1, 6, "a", "d")]


def test_a_copy_never_targets_a_server_without_room() -> None:
    chunks = {1: Chunk(1, 1)}
    full = [Candidate("c", "r", 50, 0)]
    assert plan_clones(chunks, {1: ["a"]}, full, {}, 3, 100, {}, per_server=2) == []


def test_trims_keep_racks_spare_leased_chunks_and_free_the_fullest() -> None:
    chunks = {1: Chunk(1, 3), 2: Chunk(2, 3, lease_holder="a", lease_expiry=100.0)}
    live = {1: ["a", "b", "c", "d"], 2: ["a", "b", "c", "d"]}
    racks = {"a": "r1", "b": "r1", "c": "r1", "d": "r2"}
    free = {"a": 10, "b": 5, "c": 20, "d": 1}
    trims = plan_trims(chunks, live, free, racks, 3, now=50.0)
    assert trims == {"b": [Removal(1, 3)]}, "d is the only r2 replica; b is the fullest of r1"
    assert plan_trims(chunks, live, free, racks, 3, now=150.0)["b"] == [
        Removal(1, 3),
        Removal(2, 3),
    ]


def test_moves_go_from_the_fullest_to_the_emptiest_until_within_one() -> None:
    chunks = {h: Chunk(h, 1) for h in range(1, 7)}
    live = {h: ["a", "b", "c"] for h in chunks}
    counts = {"a": 6, "b": 6, "c": 6, "d": 0}
    moves = plan_moves(chunks, live, counts, {}, {}, per_server=10)
    assert all(m.move and m.target == "d" for m in moves)
    assert len(moves) == 4, "18 replicas over 4 servers: 5, 5, 4, 4"
    assert len({m.handle for m in moves}) == 4, "no chunk twice"
    assert plan_moves(chunks, live, {"a": 5, "b": 4}, {}, {}, per_server=10) == []


def test_moves_are_throttled_and_keep_racks() -> None:
    chunks = {1: Chunk(1, 1), 2: Chunk(2, 1)}
    live = {1: ["a", "x"], 2: ["a", "b"]}
    racks = {"a": "r1", "b": "r1", "x": "r2", "d": "r1"}
    moves = plan_moves(chunks, live, {"a": 5, "d": 0}, racks, {}, per_server=1)
    assert [(m.handle, m.source, m.target) for m in moves] == [(1, "a", "d")], "one at a time"
    # Moving x's replica (the only one in r2) to d in r1 would leave the chunk in one rack.
    assert plan_moves({1: Chunk(1, 1)}, {1: ["a", "x"]}, {"x": 5, "d": 0}, racks, {}, 9) == []
    racks["d"] = "r3"  # to another rack it still spans two: allowed
    assert len(plan_moves({1: Chunk(1, 1)}, {1: ["a", "x"]}, {"x": 5, "d": 0}, racks, {}, 9)) == 1
