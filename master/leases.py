"""Whether a chunk's mutation can go ahead under the current lease (GFS section 3.1), decided
purely from the chunk's record, its live replicas and the time."""

from __future__ import annotations

from dataclasses import dataclass

from master.state import Chunk, Mutation, PutChunk, put_chunk


@dataclass(frozen=True)
class Reuse:
    """The current primary's lease is valid and it is alive."""

    primary: str


@dataclass(frozen=True)
class WaitOut:
    """A lease is still valid but its holder is unreachable: no other primary may be named
    until it expires, or two primaries could order mutations at once."""

    holder: str
    seconds_left: float


@dataclass(frozen=True)
class Revoke:
    """The primary is alive but a replica it forwards to is dead: every write would fail until
    the lease ends. Ask the primary to give the lease up, then grant a new one without it."""

    holder: str


@dataclass(frozen=True)
class NoReplica:
    pass


@dataclass(frozen=True)
class Grant:
    """Raise the version, then name a new primary (GFS section 3.1). The first lease of a chunk
    too: a replica created and then cut off before the first write must come back stale, not
    as a current version without the data written meanwhile (found by the fault suite)."""


Decision = Reuse | WaitOut | Revoke | NoReplica | Grant


def extensions(
    chunks: dict[int, Chunk],
    holder: str,
    requests: list[tuple[int, int]],
    now: float,
    until: float,
) -> list[Chunk]:
    """The chunks whose leases `holder` may extend to `until`: it must hold a still-valid lease
    on the current version. An expired lease is never revived (another primary may follow)."""
    out = []
    for handle, version in requests:
        chunk = chunks.get(handle)
        if (
            chunk is not None
            and chunk.lease_holder == holder
            and chunk.version == version
            and chunk.lease_valid(now)
        ):
            out.append(chunk._replace(lease_expiry=max(chunk.lease_expiry, until)))
    return out


def decide(
    chunk: Chunk,
    live_replicas: list[str],
    now: float,
    lost_replicas: list[str] = (),  # type: ignore[assignment]
) -> Decision:
    """`lost_replicas`: servers that held the current version and are now dead."""
    if chunk.lease_valid(now):
        if chunk.lease_holder in live_replicas:
            if lost_replicas:
                return Revoke(chunk.lease_holder)
            return Reuse(chunk.lease_holder)
        return WaitOut(chunk.lease_holder, chunk.lease_expiry - now)
    if not live_replicas:
        return NoReplica()
    return Grant()


def first_grant_needs_no_bump(
    chunk: Chunk,
    live_replicas: list[str],
    lost_replicas: list[str],
    created_cleanly: frozenset[str] | None,
) -> bool:
    """Whether a new chunk's first lease may be granted at the version it was created at. A
    bump fences out replicas that must not count: one that missed mutations, or an empty one
    whose creation arrives late (a timed-out creation may still land). A new chunk has had no
    mutation, and if every creation this master sent for it was acknowledged (`created_cleanly`,
    those servers) and all of them are alive to take the lease, none lost since, no creation
    is still on its way: a replica that died since would come back empty at the lease's
    version, so then the chunk is bumped as ever."""
    never_leased = chunk.version == 2 and chunk.floor == 1 and not chunk.lease_holder
    clean = created_cleanly == frozenset(live_replicas) and not lost_replicas
    return never_leased and clean


def choose_primary(handle: int, holders: list[str]) -> tuple[str, list[str]]:
    """The primary among the replicas that took the new version, and its secondaries:
    primaries (and with them the ordering work) spread over the replicas by handle."""
    primary = holders[handle % len(holders)]
    return primary, [a for a in holders if a != primary]


def with_first_lease(mutation: Mutation, handle: int, primary: str, until: float) -> Mutation:
    """`mutation`, which adds chunk `handle` with its replicas made and acknowledged already
    (a pooled one: see master/chunkpool.py), with the chunk's first lease in it too, so that
    one commit logs both: no replica of it can be behind, so no bump, and the floor goes with
    the grant as in any other."""
    changes = tuple(
        PutChunk(c.chunk._replace(lease_holder=primary, lease_expiry=until, floor=0))
        if isinstance(c, PutChunk) and c.chunk.handle == handle
        else c
        for c in mutation.changes
    )
    return Mutation(mutation.op, {**mutation.args, "primary": primary}, changes)


def lease_until(granted_at: float, lease_seconds: float, margin: float) -> float:
    """The master's record of a lease's end: the primary starts its own clock when the grant
    arrives, up to `margin` (the RPC deadline) later, so the master waits that much longer."""
    return granted_at + lease_seconds + margin


def no_later_than(chunks: dict[int, Chunk], longest: float) -> dict[int, Chunk]:
    """The chunks whose stored lease ends after `longest` (the end of a lease granted now),
    ending then instead. No lease granted before now outlasts it, so a later end was stored by
    a clock ahead of this one (set back across a restart): waited out as stored, the chunks
    of a dead primary would take no write for as long as the clock was off."""
    return {
        handle: chunk._replace(lease_expiry=longest)
        for handle, chunk in chunks.items()
        if chunk.lease_holder and chunk.lease_expiry > longest
    }


def bumped(chunk: Chunk, keep_lease: bool) -> Chunk:
    """Version + 1 (logged before any replica hears of it), with the floor at the old version
    until a replica takes the new one (`taken`, logged before any lease under it): a master
    that crashed in between found every replica "stale" (none had heard of the new version)
    and the chunk lost, though nothing could have been written under it. With `keep_lease`
    the lease record stays (no new primary before it ends) while the bump fences its holder
    out: replicas refuse mutations that name the old version."""
    version = chunk.version + 1
    issued = max(chunk.issued, version)
    floor = chunk.floor or chunk.version
    if keep_lease:
        return chunk._replace(version=version, issued=issued, floor=floor)
    return chunk._replace(
        version=version, issued=issued, floor=floor, lease_holder="", lease_expiry=0.0
    )


def untaken(before: Chunk, bump: Chunk) -> Mutation:
    """No replica took `bump`'s version: nothing can have been written under it, so the
    replicas at the versions from the floor up stay current (told the newest when they
    report) instead of being removed as stale."""
    floor = before.floor or before.version
    untaken = bump._replace(floor=floor)
    return put_chunk("version_untaken", untaken, version=bump.version, floor=floor)


def taken(bump: Chunk) -> Mutation | None:
    """A replica took `bump`'s version: if a floor was set, replicas below it are stale now."""
    if not bump.floor:
        return None
    taken = bump._replace(floor=0)
    return put_chunk("version_taken", taken, version=bump.version)


def adopted(chunks: dict[int, Chunk], address: str, claims: dict[int, int]) -> Mutation | None:
    """Versions a replica reported above the master's, up to the highest the master ever
    logged for the chunk (its log was rolled back: a restore): planned from the rows as they
    are now (the caller holds the chunks' locks), changing nothing but the version, so no
    other change is written back. A claim above what was ever issued is no version at all."""
    rows = [
        chunks[h]._replace(version=v, floor=0)
        for h, v in sorted(claims.items())
        if h in chunks and chunks[h].version < v <= chunks[h].highest_issued
    ]
    if not rows:
        return None
    return Mutation(
        "adopt_versions",
        {"address": address, "handles": [c.handle for c in rows]},
        tuple(PutChunk(c) for c in rows),
    )
