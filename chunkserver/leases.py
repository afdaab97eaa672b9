"""The primary's side of leases, on its own clock (time passed in).

A primary orders mutations only while its lease is valid by its own clock. The master records a
lease's end later than the primary's (it adds the grant RPC's deadline, and the primary starts
counting only when the grant arrives), so the two never believe in two primaries at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from client import errors


@dataclass(frozen=True)
class Lease:
    version: int
    expiry: float
    secondaries: tuple[str, ...]


@dataclass
class LeaseTable:
    leases: dict[int, Lease] = field(default_factory=dict)
    serials: dict[int, int] = field(default_factory=dict)

    def grant(
        self, handle: int, version: int, seconds: float, secondaries: list[str], now: float
    ) -> None:
        self.leases[handle] = Lease(version, now + seconds, tuple(secondaries))

    def check(self, handle: int, version: int, now: float) -> Lease:
        """The lease under which a mutation of `handle` at `version` may be ordered now."""
        lease = self.leases.get(handle)
        if lease is None or lease.version != version:
            raise errors.Aborted(f"not the primary of chunk {handle} at version {version}")
        if now >= lease.expiry:
            raise errors.Aborted(f"lease on chunk {handle} has expired")
        return lease

    def next_serial(self, handle: int) -> int:
        serial = self.serials.get(handle, 0) + 1
        self.serials[handle] = serial
        return serial

    def drop(self, handle: int) -> None:
        self.leases.pop(handle, None)
        self.serials.pop(handle, None)
