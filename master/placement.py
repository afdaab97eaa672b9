"""Where new replicas go: distinct live servers, spread across racks, most free space first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    address: str
    rack: str
    free_bytes: int
    chunks: int


def choose(
    candidates: Iterable[Candidate],
    count: int,
    needed_bytes: int = 0,
    racks_present: Iterable[str] = (),
) -> list[str]:
    """Up to `count` addresses: one per rack first, starting with racks not in `racks_present`
    (so a chunk's replicas span racks when two exist), then the rest; within that, most free
    space and fewest chunks first. Servers without `needed_bytes` free are never chosen."""
    ranked = sorted(
        (c for c in candidates if c.free_bytes >= needed_bytes),
        key=lambda c: (-c.free_bytes, c.chunks, c.address),
    )
    chosen: list[Candidate] = []
    racks: set[str] = set(racks_present)
    for c in ranked:
        if len(chosen) < count and c.rack not in racks:
            chosen.append(c)
            racks.add(c.rack)
    for c in ranked:
        if len(chosen) < count and c not in chosen:
            chosen.append(c)
    return [c.address for c in chosen]
