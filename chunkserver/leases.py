"""The primary's side of leases, on its own clock (time passed in).

A primary orders mutations only while its lease is valid by its own clock. The master records a
lease's end later than the primary's (it adds the grant RPC's deadline, and the primary starts
counting only when the grant arrives), so the two never believe in two primaries at once.
Both count on monotonic clocks, and the primary's lease is shorter than granted by the drift
two clocks may have over one lease (MAX_DRIFT): a primary whose clock runs that much slow still
stops ordering mutations before the master's record of its lease ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from common import errors

MAX_DRIFT = 0.05  # how much slower than the master's a chunkserver's clock may run


def lease_end(start: float, seconds: float) -> float:
    """When a lease of `seconds`, counted from `start` on this server's clock, ends for it."""
    return start + seconds * (1 - MAX_DRIFT)


@dataclass
class Lease:
    version: int
    expiry: float
    secondaries: tuple[str, ...]
    seconds: float  # the lease's length, as granted
    chunk_size: int = 0  # where appends pad (0: not told)
    token: bytes = b""  # the master's lease token, shown to the secondaries (secure clusters)
    active: bool = False  # ordered a mutation since extension was last asked for
    # What the replicas held when the lease's first append came (None: not learnt yet).
    survey: Survey | None = None


@dataclass(frozen=True)
class Survey:
    """The replicas of a chunk as a new primary finds them. `end`: the end of the longest, where
    appends may start (a primary behind a secondary that kept a failed append must not place
    a record over those bytes). `records`: where each append id landed on any of them (a
    retry of a record this primary missed goes where the others hold it, not a second time)."""

    end: int
    records: dict[str, int]


@dataclass
class LeaseTable:
    leases: dict[int, Lease] = field(default_factory=dict)
    serials: dict[int, int] = field(default_factory=dict)

    def grant(
        self,
        handle: int,
        version: int,
        seconds: float,
        secondaries: list[str],
        now: float,
        chunk_size: int = 0,
        token: bytes = b"",
    ) -> None:
        self.leases[handle] = Lease(
            version, lease_end(now, seconds), tuple(secondaries), seconds, chunk_size, token=token
        )

    def check(self, handle: int, version: int, now: float) -> Lease:
        """The lease under which a mutation of `handle` at `version` may be ordered now."""
        lease = self.leases.get(handle)
        if lease is None or lease.version != version:
            raise errors.Aborted(f"not the primary of chunk {handle} at version {version}")
        if now >= lease.expiry:
            raise errors.Aborted(f"lease on chunk {handle} has expired")
        return lease

    def next_serial(self, handle: int) -> int:
        """The next mutation's place in the chunk's order; marks the lease as in use."""
        serial = self.serials.get(handle, 0) + 1
        self.serials[handle] = serial
        lease = self.leases.get(handle)
        if lease is not None:
            lease.active = True
        return serial

    def extension_requests(self, now: float) -> list[tuple[int, int]]:
        """(handle, version) of valid leases used since the last call and past half their
        length (GFS section 3.1: a primary asks for extensions in heartbeats while mutations
        continue; asking at most twice a lease keeps the op log quiet)."""
        wanted = []
        for handle, lease in self.leases.items():
            if lease.active and 0 < lease.expiry - now <= lease.seconds / 2:
                wanted.append((handle, lease.version))
                lease.active = False
        return wanted

    def extend(self, handle: int, version: int, until: float, token: bytes = b"") -> None:
        """The master extended the lease; `until` is measured from before the request left, so
        this primary's lease still ends before the master's record of it. `token`: the lease
        token for the secondaries from now on (a secure master's)."""
        lease = self.leases.get(handle)
        if lease is not None and lease.version == version:
            lease.expiry = max(lease.expiry, until)
            if token:
                lease.token = token

    def drop(self, handle: int) -> None:
        self.leases.pop(handle, None)
        self.serials.pop(handle, None)
