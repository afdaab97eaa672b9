"""The master's view of the chunkservers: liveness from heartbeats and where replicas live.

Locations are never persisted (GFS section 2.6.2): they are rebuilt from each server's report.
A server reports every replica when it (re)joins, when asked and now and then; in between, only
those that changed (an incremental report, as HDFS's), so a heartbeat costs what changed. What
changes a verdict on the master's side instead is carried out or asked about here: a deleted
chunk's replicas are ordered removed where they are listed (HDFS's invalidation), and a replica
whose verdict may have changed (a version bump it missed) or was put off (a report racing an
RPC) is asked for again (`ServerInfo.recheck`). A report judges each replica it lists against
the chunk table:
- a chunk the master no longer has (deleted) or never issued -> the replica is garbage,
  removed (unless the handle is being made right now);
- a lower version than the master's -> stale: never a location, removed (unless no replica
  took the versions since: then it is told the newest, see `Chunk.floor`);
- a higher version, up to the highest the master ever logged for the chunk -> its log was
  rolled back (a restore): a claim, adopted by the caller under the chunk's lock
  (`leases.adopted`);
- a version above anything the master issued -> no version at all: removed, never adopted.

It also holds what the master decided about each server and has yet to carry out: removals
for its next heartbeat reply, decommissioning, and which servers were declared dead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from master.placement import Candidate
from master.state import MasterState

# Version sent with a removal of a replica whose chunk no longer exists: removes any version.
ANY_VERSION = 2**63 - 1
SHARED_TUPLES = 100_000  # distinct sets of servers holding chunks, kept to be shared


@dataclass(frozen=True, slots=True)
class Report:
    handle: int
    version: int
    length: int


@dataclass(frozen=True)
class Heartbeat:
    """What a chunkserver says in a heartbeat."""

    address: str
    rack: str
    used_bytes: int
    free_bytes: int
    reports: list[Report] = field(default_factory=list)
    corrupt: list[int] = field(default_factory=list)
    extend: list[tuple[int, int]] = field(default_factory=list)  # (handle, version) leases
    http: str = ""  # its /metrics and /healthz
    plain_reads: str = ""  # where it serves reads in clear, each proved by its token
    failed_dirs: tuple[str, ...] = ()  # its data directories taken out of service, and why
    lost: tuple[int, ...] = ()  # replicas it lost with a failed directory since its last beat
    slow_dirs: tuple[str, ...] = ()  # its serving data directories that answer slowly, and why
    incremental: bool = False  # `reports` and `gone` are only the replicas changed since
    gone: tuple[int, ...] = ()  # replicas an incremental report says are no longer there
    replica_count: int | None = None  # replicas held, healthy or corrupt (None: those listed)
    # Share `part` of `parts` of a full report too large for one beat (0: not one): an
    # incremental report that also lists that share of every replica.
    part: int = 0
    parts: int = 0


@dataclass(frozen=True)
class Removal:
    """Remove replica `handle` if its version is at most `max_version` (so a replica upgraded
    after the report was taken is never removed by mistake)."""

    handle: int
    max_version: int


@dataclass
class ServerInfo:
    address: str
    rack: str
    last_heartbeat: float
    used_bytes: int = 0
    free_bytes: int = 0
    handles: set[int] = field(default_factory=set)
    corrupt: set[int] = field(default_factory=set)  # as of its last report
    stale: set[int] = field(default_factory=set)  # as of its last report
    garbage: set[int] = field(default_factory=set)  # replicas of deleted chunks, last report
    reported: int = 0  # replicas (any state) in its last report
    http: str = ""
    plain_reads: str = ""
    failed_dirs: tuple[str, ...] = ()
    slow_dirs: tuple[str, ...] = ()
    recheck: set[int] = field(default_factory=set)  # to be listed in its next report
    needs_full: bool = False  # an incremental report cannot be taken (the state was replaced)
    # A full report in parts under way: the part expected next, what the parts listed so far.
    next_part: int = 0
    listing: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class ServerReport:
    """One line of `gfs report`."""

    address: str
    rack: str
    state: str  # alive, dead, decommissioning or decommissioned
    chunks: int
    used_bytes: int
    free_bytes: int
    last_heartbeat_age_s: float
    http: str = ""
    failed_dirs: tuple[str, ...] = ()
    slow_dirs: tuple[str, ...] = ()


@dataclass
class HeartbeatOutcome:
    removals: list[Removal]
    claims: dict[int, int] = field(default_factory=dict)  # handle -> higher version reported
    behind: list[int] = field(default_factory=list)  # current, to be told the newest version
    joined: bool = False  # new, or back after it was declared dead
    full_wanted: bool = False  # nothing taken: the server must send a full report
    recheck: list[int] = field(default_factory=list)  # to be listed in its next report


@dataclass
class Chunkservers:
    """Invariant: `locations[h]` holds exactly the servers whose last word on `h` (a report or
    an acknowledged SetVersion) was the master's current version of `h`."""

    dead_after: float
    servers: dict[str, ServerInfo] = field(default_factory=dict)
    # Sorted tuples shared by every chunk on the same servers (`_shared`): a set of three each
    # was 216 bytes, a tuple 64, and a million of them pinned the memory of every report.
    locations: dict[int, tuple[str, ...]] = field(default_factory=dict)
    _tuples: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict, repr=False)
    # (handle, address) -> when an RPC acknowledged it; a report older than the ack may lack it.
    recent: dict[tuple[int, str], float] = field(default_factory=dict)
    report_grace: float = 5.0
    # (handle, address) -> when its removal was ordered: a report taken before the server
    # carried it out must not bring the replica back. Cleared by the first report without it,
    # or after `dead_after` (the order was lost: the replica is asked for again, see
    # `_expire_removals`).
    removing: dict[tuple[int, str], float] = field(default_factory=dict)
    # Removals decided for each server, sent in its next heartbeat reply.
    orders: dict[str, list[Removal]] = field(default_factory=dict)
    # Being decommissioned: drained (their replicas stop counting), then removable.
    retiring: set[str] = field(default_factory=set)
    declared_dead: set[str] = field(default_factory=set)
    # handle -> servers that held its current version and lost it with a failed directory.
    # Like a dead holder, each ends the lease it held the chunk under before the next mutation
    # (`lost`), so the version moves past it: the directory may come back with that version
    # and without the writes made since. Cleared when the version changes or the chunk goes.
    dropped: dict[int, set[str]] = field(default_factory=dict)
    # Chunks whose live replicas may have changed since repair last took them (`take_touched`):
    # a replica listed or forgotten, its server dead, back, or being drained. Repair looks at
    # these, not at every chunk.
    touched: set[int] = field(default_factory=set)

    def alive(self, address: str, now: float) -> bool:
        info = self.servers.get(address)
        return info is not None and now - info.last_heartbeat < self.dead_after

    def live_servers(self, now: float) -> list[ServerInfo]:
        return [s for s in self.servers.values() if self.alive(s.address, now)]

    def candidates(self, now: float) -> list[Candidate]:
        """Live servers that may take new replicas: not those being decommissioned."""
        return [
            Candidate(s.address, s.rack, s.free_bytes, len(s.handles))
            for s in self.live_servers(now)
            if s.address not in self.retiring
        ]

    def newly_dead(self, now: float) -> list[str]:
        """Servers that stopped reporting since the last call (each declared dead once)."""
        dead = [a for a in self.servers if not self.alive(a, now) and a not in self.declared_dead]
        self.declared_dead.update(dead)
        for address in dead:
            self.touched |= self.servers[address].handles
        return dead

    def take_touched(self) -> set[int]:
        touched, self.touched = self.touched, set()
        return touched

    def decommission(self, address: str) -> bool:
        """Starts draining `address`; False if no such server is known."""
        if address not in self.servers:
            return False
        self.retiring.add(address)
        self.touched |= self.servers[address].handles
        return True

    def recommission(self, address: str) -> bool:
        """Takes `address` back into service (its replicas count again, new ones may go there);
        False if it was not being decommissioned."""
        if address not in self.retiring:
            return False
        self.retiring.discard(address)
        self.touched |= self.servers[address].handles
        return True

    def state_of(self, address: str, now: float) -> str:
        """alive, dead, decommissioning (being drained) or decommissioned (empty, removable)."""
        if address in self.retiring:
            info = self.servers[address]
            empty = not info.handles and not info.reported and not self.orders.get(address)
            return "decommissioned" if empty else "decommissioning"
        return "alive" if self.alive(address, now) else "dead"

    def report(self, now: float) -> list[ServerReport]:
        return [
            ServerReport(
                s.address,
                s.rack,
                self.state_of(s.address, now),
                len(s.handles),
                s.used_bytes,
                s.free_bytes,
                now - s.last_heartbeat,
                s.http,
                s.failed_dirs,
                s.slow_dirs,
            )
            for s in sorted(self.servers.values(), key=lambda s: s.address)
        ]

    def order_removal(self, address: str, removal: Removal) -> None:
        self.orders.setdefault(address, []).append(removal)

    def ordered(self) -> set[tuple[str, int]]:
        """(address, handle) of every removal decided and not yet sent."""
        return {(a, r.handle) for a, rs in self.orders.items() for r in rs}

    def send_orders(self, address: str, now: float) -> list[Removal]:
        """The removals for `address`'s heartbeat reply: hidden from now on, reports and all."""
        orders = self.orders.pop(address, [])
        for removal in orders:
            self.remove(removal.handle, address, now)
        return orders

    def replicas(self, handle: int, now: float) -> list[str]:
        """Live servers holding the current version, in address order."""
        return [a for a in self.locations.get(handle, ()) if self.alive(a, now)]

    def lost(self, handle: int, now: float) -> list[str]:
        """Servers that held the current version and lost it: dead since, or their disk
        failed under it."""
        dead = {a for a in self.locations.get(handle, ()) if not self.alive(a, now)}
        return sorted(dead | self.dropped.get(handle, set()))

    def confirm(self, handle: int, address: str, now: float) -> None:
        """`address` acknowledged holding the current version of `handle` (a verified copy, if
        it replaced a corrupt one there: that one is no longer to be removed)."""
        self._locate(handle, address)
        self.touched.add(handle)
        if address in self.servers:
            self.servers[address].handles.add(handle)
            self.servers[address].corrupt.discard(handle)
        self.recent[(handle, address)] = now

    def _locate(self, handle: int, address: str) -> None:
        held = self.locations.get(handle, ())
        if address not in held:
            self.locations[handle] = self._shared((*held, address))

    def _shared(self, addresses: tuple[str, ...]) -> tuple[str, ...]:
        """The one tuple for this set of servers, sorted. The table of them is emptied now and
        then (it keeps sets no chunk is on any more); tuples in use stay shared all the same."""
        key = tuple(sorted(addresses))
        shared = self._tuples.get(key)
        if shared is None:
            if len(self._tuples) >= SHARED_TUPLES:
                self._tuples.clear()
            shared = self._tuples[key] = key
        return shared

    def remove(self, handle: int, address: str, now: float) -> None:
        """The master ordered this replica removed: it no longer counts, even if a report
        taken before the order arrives still lists it."""
        self.forget(handle, address)
        self.removing[(handle, address)] = now

    def forget(self, handle: int, address: str) -> None:
        held = self.locations.get(handle, ())
        if address in held:
            rest = tuple(a for a in held if a != address)
            if rest:
                self.locations[handle] = self._shared(rest)
            else:
                del self.locations[handle]
        self.touched.add(handle)
        if address in self.servers:
            self.servers[address].handles.discard(handle)

    def reset_versions(self, handle: int, holders: set[str]) -> None:
        """After a version bump only the servers that acknowledged it hold the current one;
        the others' replicas are judged again by their next report (stale, or behind)."""
        self.dropped.pop(handle, None)
        for address in set(self.locations.get(handle, ())) - holders:
            self.forget(handle, address)
            self.recheck(handle, address)

    def _expire_removals(self, now: float) -> None:
        """Removal orders no report has shown carried out in `dead_after`: the order, or the
        reply that carried it, was lost. Each replica is asked for again; listed, it is judged
        anew (garbage is ordered removed again, a current one counts again and repair sees
        the surplus); gone, the matter is closed. Unasked, no report would list it before the
        next full one, an hour away."""
        expired = [k for k, t in self.removing.items() if now - t >= self.dead_after]
        for handle, address in expired:
            del self.removing[(handle, address)]
            self.recheck(handle, address)

    def recheck(self, handle: int, address: str) -> None:
        """Asks `address` to list `handle` in its next report, changed or not."""
        if address in self.servers:
            self.servers[address].recheck.add(handle)

    def chunk_deleted(self, handle: int) -> None:
        """The chunk is gone from the table: its replicas are ordered removed where listed
        (those nobody lists are garbage in a full report)."""
        for address in sorted(self.locations.pop(handle, ())):
            self.order_removal(address, Removal(handle, ANY_VERSION))
            if address in self.servers:
                self.servers[address].handles.discard(handle)
        self.dropped.pop(handle, None)

    def want_full_reports(self) -> None:
        """The chunk table was replaced (a checkpoint installed): the incremental reports of
        every server are relative to a table that is gone."""
        for info in self.servers.values():
            info.needs_full = True

    def _full_report_over(self, info: ServerInfo, listing: set[int], held: set[int]) -> set[int]:
        """A full report ended (`listing`: every handle it named): what it did not name is no
        longer on the server. Returns those of them this master placed there."""
        address = info.address
        self.removing = {
            (h, a): t for (h, a), t in self.removing.items() if a != address or h in listing
        }
        info.stale &= listing
        info.garbage &= listing
        info.recheck &= listing
        info.listing, info.next_part, info.needs_full = set(), 0, False
        return info.handles - listing - held

    def heartbeat(
        self,
        state: MasterState,
        beat: Heartbeat,
        now: float,
        busy: set[int] | frozenset[int] = frozenset(),
        pooled: set[int] | frozenset[int] = frozenset(),
    ) -> HeartbeatOutcome:
        """Judges a report, full or incremental. `busy`: handles being created, copied or
        upgraded right now (not judged: asked for again). `pooled`: new chunks made ahead
        (master/chunkpool.py), whose replicas the pool keeps track of (not judged, not asked
        for again). Takes nothing from an incremental report of a server this master has no
        full picture of (see `full_wanted`)."""
        address, reports, corrupt = beat.address, beat.reports, beat.corrupt
        info = self.servers.get(address)
        joined = info is None or address in self.declared_dead
        # The parts of a full report come in order (a part again: its reply was lost); a part
        # out of order, or a plain incremental report without a base, starts a full one over.
        continuing = (
            info is not None
            and not joined
            and beat.part > 1
            and beat.part in (info.next_part - 1, info.next_part)
        )
        if (beat.part > 1 and not continuing) or (
            beat.incremental
            and beat.part == 0
            and (info is None or joined or info.needs_full or info.next_part)
        ):
            return HeartbeatOutcome([], full_wanted=True)
        self.declared_dead.discard(address)
        if info is None:
            info = self.servers[address] = ServerInfo(address, beat.rack, now)
        if beat.part == 1:
            info.listing, info.needs_full = set(), info.needs_full or joined
        address = info.address  # one string object for all its locations, not one a beat
        info.rack, info.last_heartbeat, info.http = beat.rack, now, beat.http
        info.plain_reads, info.failed_dirs = beat.plain_reads, beat.failed_dirs
        info.slow_dirs = beat.slow_dirs
        for handle in beat.lost:  # gone for sure: no grace for a report racing a new replica
            self.recent.pop((handle, address), None)
            if address in self.locations.get(handle, ()):
                self.dropped.setdefault(handle, set()).add(address)
        self.dropped = {h: lost for h, lost in self.dropped.items() if h in state.chunks}
        info.used_bytes, info.free_bytes = beat.used_bytes, beat.free_bytes

        self._expire_removals(now)
        removals: list[Removal] = []
        claims: dict[int, int] = {}
        held: set[int] = set()
        stale: set[int] = set()
        garbage: set[int] = set()
        behind: list[int] = []
        put_off: set[int] = set()  # judged by a later report
        for r in reports:
            if r.handle in pooled:
                continue
            if (r.handle, address) in self.removing or r.handle in busy:
                put_off.add(r.handle)
                continue
            chunk = state.chunks.get(r.handle)
            if chunk is None:
                # Deleted, or never issued: a copy for a reservation that was never committed
                # (handles being made are `busy`, above), or planted. Garbage either way.
                removals.append(Removal(r.handle, ANY_VERSION))
                garbage.add(r.handle)
                continue
            if r.version < chunk.version:
                if chunk.current(r.version):
                    behind.append(r.handle)
                else:
                    removals.append(Removal(r.handle, r.version))
                    stale.add(r.handle)
                continue
            if r.version > chunk.highest_issued:
                # A version the master never issued: no replica's word makes it one (a forged
                # report used to be adopted, and every real replica then removed as stale).
                removals.append(Removal(r.handle, r.version))
                stale.add(r.handle)
                continue
            if r.version > chunk.version:
                claims[r.handle] = r.version  # listed once adopted
                continue
            held.add(chunk.handle)  # the table's int: one object for every server's set
        for handle in corrupt:
            held.discard(handle)
            self.recent.pop((handle, address), None)
        # A full report in one message is judged as one part that is also the last.
        gone = set(beat.gone)
        judged = {r.handle for r in reports} | set(corrupt) | gone
        self.removing = {
            (h, a): t for (h, a), t in self.removing.items() if a != address or h not in gone
        }
        info.stale = (info.stale - judged) | stale
        info.garbage = (info.garbage - judged) | garbage
        missing = (judged & info.handles) - held
        info.recheck = (info.recheck - judged) | put_off
        if beat.part:
            info.listing |= judged
            info.next_part = beat.part + 1
        if not beat.incremental or beat.part == beat.parts != 0:
            missing |= self._full_report_over(info, info.listing if beat.part else judged, held)
        info.corrupt = set(corrupt)
        info.reported = (
            beat.replica_count if beat.replica_count is not None else len(reports) + len(corrupt)
        )

        for handle in missing:
            deleted = handle not in state.chunks
            if deleted or now - self.recent.get((handle, address), -1e18) >= self.report_grace:
                self.forget(handle, address)
            else:
                info.recheck.add(handle)  # acknowledged since the report was taken, maybe
        if joined:  # its replicas count again
            self.touched |= info.handles
        self.touched |= held - info.handles
        for handle in held:
            self._locate(handle, address)
            info.handles.add(handle)
        self.recent = {k: t for k, t in self.recent.items() if now - t < self.report_grace}

        return HeartbeatOutcome(removals, claims, behind, joined, recheck=sorted(info.recheck))
