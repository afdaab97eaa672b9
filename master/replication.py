"""Which replicas to copy and which to drop, decided purely from the chunk table, where live
replicas are, and what is already under way (GFS section 4.3)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from master import placement
from master.chunkservers import Removal
from master.state import Chunk


@dataclass(frozen=True)
class Clone:
    """Copy chunk `handle` at `version` from `source` to `target`; for a balancing move, then
    remove the source's replica."""

    handle: int
    version: int
    source: str
    target: str
    move: bool = False


def priority(live: int, urgent: bool) -> tuple[int, int]:
    """Lower first: fewest live replicas; a chunk a client is waiting on is boosted one step,
    so it ties with (and yields to) a chunk one replica nearer to loss."""
    return (live - (1 if urgent else 0), live)


def plan_clones(
    chunks: dict[int, Chunk],
    live: dict[int, list[str]],
    candidates: list[placement.Candidate],
    racks: dict[str, str],
    replication: int,
    chunk_size: int,
    busy: dict[str, int],
    per_server: int,
    urgent: Iterable[int] = (),
    under_way: Iterable[int] = (),
    retiring: Iterable[str] = (),
    removing: Iterable[tuple[int, str]] = (),
) -> list[Clone]:
    """Clones for under-replicated chunks that have a live replica, most urgent first, no server
    in more than `per_server` clones at once (counting `busy`, those already running). Replicas
    on `retiring` (decommissioning) servers do not count, but can be copied from. No copy goes
    to a server the chunk's replica is being `removing` from, (handle, server): the order,
    carried out after the copy, would remove the copy."""
    wanting, skip, leaving, gone = set(urgent), set(under_way), set(retiring), set(removing)
    counted = {h: [a for a in live.get(h, ()) if a not in leaving] for h in chunks}
    needy = [
        h
        for h in chunks
        if h not in skip and live.get(h) and len(counted[h]) < chunks[h].target(replication)
    ]
    needy.sort(key=lambda h: (*priority(len(counted[h]), h in wanting), h))
    load = dict(busy)
    plan: list[Clone] = []
    for handle in needy:
        holders = live[handle]
        sources = sorted(
            (a for a in holders if load.get(a, 0) < per_server), key=lambda a: load.get(a, 0)
        )
        if not sources:
            continue
        free = [
            c
            for c in candidates
            if c.address not in holders
            and c.address not in leaving
            and (handle, c.address) not in gone
            and load.get(c.address, 0) < per_server
        ]
        racks_present = [racks.get(a, "") for a in counted[handle]]
        targets = placement.choose(free, 1, needed_bytes=chunk_size, racks_present=racks_present)
        if not targets:
            continue
        source, target = sources[0], targets[0]
        load[source] = load.get(source, 0) + 1
        load[target] = load.get(target, 0) + 1
        plan.append(Clone(handle, chunks[handle].version, source, target))
    return plan


def plan_moves(
    chunks: dict[int, Chunk],
    live: dict[int, list[str]],
    counts: dict[str, int],
    racks: dict[str, str],
    busy: dict[str, int],
    per_server: int,
    under_way: Iterable[int] = (),
) -> list[Clone]:
    """Balancing moves (copy, then drop the source): from the server holding the most replicas
    to the one holding the fewest, while they differ by more than one, never putting two
    replicas of a chunk on one server or leaving a rack the chunk spans, at most `per_server`
    copies per server at once."""
    counts, load, skip = dict(counts), dict(busy), set(under_way)
    plan: list[Clone] = []
    moved: set[int] = set()
    while counts:
        full = max(counts, key=lambda a: (counts[a], a))
        empty = min(counts, key=lambda a: (counts[a], a))
        if counts[full] - counts[empty] <= 1:
            break
        if load.get(full, 0) >= per_server or load.get(empty, 0) >= per_server:
            break
        movable = [
            h
            for h in sorted(chunks)
            if h not in skip
            and h not in moved
            and full in live.get(h, ())
            and empty not in live.get(h, ())
            and _keeps_racks(live[h], full, empty, racks)
        ]
        if not movable:
            break
        handle = movable[0]
        moved.add(handle)
        plan.append(Clone(handle, chunks[handle].version, full, empty, move=True))
        counts[full] -= 1
        counts[empty] += 1
        load[full] = load.get(full, 0) + 1
        load[empty] = load.get(empty, 0) + 1
    return plan


def _keeps_racks(holders: list[str], source: str, target: str, racks: dict[str, str]) -> bool:
    before = {racks.get(a, "") for a in holders}
    after = {racks.get(a, "") for a in holders if a != source} | {racks.get(target, "")}
    return len(after) >= len(before)


def plan_trims(
    chunks: dict[int, Chunk],
    live: dict[int, list[str]],
    servers_free: dict[str, int],
    racks: dict[str, str],
    replication: int,
    now: float,
    retiring: Iterable[str] = (),
) -> dict[str, list[Removal]]:
    """Removals that bring over-replicated chunks back to their target (`replication` unless
    the chunk has its own), never below, and never
    for a chunk under a valid lease (its primary forwards to the replicas it was given). The
    replica dropped is on a retiring server if any, else on the fullest server whose loss keeps
    the most racks."""
    leaving = set(retiring)
    out: dict[str, list[Removal]] = {}
    for handle, chunk in chunks.items():
        holders = list(live.get(handle, ()))
        target = chunk.target(replication)
        if len(holders) <= target or chunk.lease_valid(now):
            continue
        while len(holders) > target:
            victim = min(
                holders,
                key=lambda a: (a not in leaving, *_trim_cost(a, holders, racks, servers_free)),
            )
            holders.remove(victim)
            out.setdefault(victim, []).append(Removal(handle, chunk.version))
    return out


def _trim_cost(
    address: str, holders: list[str], racks: dict[str, str], servers_free: dict[str, int]
) -> tuple[int, int]:
    """Lower is a better replica to drop: keeps more racks, frees the fuller server."""
    rest = [a for a in holders if a != address]
    return (-len({racks.get(a, "") for a in rest}), servers_free.get(address, 0))


def plan_corrupt_removals(
    chunks: dict[int, Chunk],
    live: dict[int, list[str]],
    corrupt: dict[str, set[int]],
    replication: int,
    ordered: set[tuple[str, int]],
) -> dict[str, list[Removal]]:
    """Removals of corrupt replicas (by server) whose chunk is whole again elsewhere; until it
    is, a corrupt replica stays (it may be the last trace of the data). Not those ordered."""
    out: dict[str, list[Removal]] = {}
    for address, handles in sorted(corrupt.items()):
        for handle in sorted(handles):
            chunk = chunks.get(handle)
            whole = chunk is not None and len(live.get(handle, ())) >= chunk.target(replication)
            if whole and (address, handle) not in ordered:
                assert chunk is not None
                out.setdefault(address, []).append(Removal(handle, chunk.version))
    return out
