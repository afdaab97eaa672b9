"""Whether a chunk's mutation can go ahead under the current lease (GFS section 3.1), decided
purely from the chunk's record, its live replicas and the time."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from master.state import Chunk


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
            out.append(dataclasses.replace(chunk, lease_expiry=max(chunk.lease_expiry, until)))
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
