"""Where new replicas go: distinct live servers, spread across racks, the emptiest disks first
and, among disks about as empty, the servers holding the fewest chunks (GFS section 4.2: below-
average utilisation, and not every new chunk on the same few servers)."""

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
    space (in steps of 1/16 of the most any has: servers sharing a disk, or with equal disks
    equally full, tie) and fewest chunks first. Servers without `needed_bytes` free are never
    chosen."""
    roomy = [c for c in candidates if c.free_bytes >= needed_bytes]
    most = max((c.free_bytes for c in roomy), default=0) or 1
    ranked = sorted(roomy, key=lambda c: ((most - c.free_bytes) * 16 // most, c.chunks, c.address))
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
