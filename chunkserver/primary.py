"""The primary's mutation protocol (GFS sections 3.1 and 3.3), as a pure state machine.

Inputs in, instructions out: the servicer asks what to do with a client's write or record
append, and gets back the one mutation to apply, the replicas to apply it on (this one and
the lease's secondaries) and the answer for the client; it carries that out under the chunk's
lock, so every replica sees one order. No I/O, no threads, no clock: the time is passed in,
and facts only the disk or the network knows (how long this replica is, what the
secondaries hold, what bytes lie at an offset) are passed in by the servicer when asked for.

An append goes through three questions, each answered from the state and the facts given:
  1. `survey_needed`: the lease's first append needs the replicas' ends and append ids
     (a new primary may lag a secondary that kept a failed append, or lack a record a
     secondary holds); the servicer asks the secondaries and reports it (`surveyed`).
  2. `landing_of`: where an earlier try of this record id landed, if anywhere; the servicer
     compares the bytes there with the record's and says what it found (`Landing`).
  3. `order_append`: the instruction and the answer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from chunkserver.leases import Lease, LeaseTable, Survey
from common import errors


@dataclass(frozen=True)
class Apply:
    """Apply one mutation of chunk `handle` at `offset` (pushed data `data_id`, or zeros up to
    `pad_to`), `serial`-th under the lease, on this replica if `here` and on `secondaries`;
    record `record_id` at `offset` where it is applied."""

    handle: int
    version: int
    serial: int
    offset: int
    secondaries: tuple[str, ...]
    data_id: str = ""
    record_id: str = ""
    pad_to: int = 0
    here: bool = True
    token: bytes = b""  # the lease's token, for the secondaries to check


@dataclass(frozen=True)
class Appended:
    """The answer to a record append: where the record is (or where the chunk was padded)."""

    offset: int
    duplicate: bool = False
    padded: bool = False
    extended: bool = False  # the master's length of the file covers it


class Landing(enum.Enum):
    """What an earlier try's offset holds on this replica, compared with the record."""

    SAME = "the record's bytes"
    GAP = "zeros: past this replica's end, or a gap left by applying a later record first"
    OTHER = "other bytes"


@dataclass
class Primary:
    """Invariant: a mutation is ordered only under a lease valid by this server's own clock
    and naming the version asked for; serials of a chunk's mutations increase by one."""

    max_chunk_size: int  # where appends pad when the grant did not say the chunk size
    leases: LeaseTable = field(default_factory=LeaseTable)

    def _record_limit(self, lease: Lease, size: int) -> int:
        """The chunk size appends pad to; raises if a record of `size` bytes is too large."""
        chunk_size = lease.chunk_size or self.max_chunk_size
        if size > chunk_size // 4:
            raise errors.InvalidArgument(
                f"a record is at most a quarter of the chunk size ({chunk_size // 4} bytes), "
                f"not {size}"
            )
        return chunk_size

    def _ordered(self, handle: int, version: int, now: float) -> tuple[Lease, int]:
        lease = self.leases.check(handle, version, now)
        return lease, self.leases.next_serial(handle)

    def order_write(
        self, handle: int, version: int, offset: int, data_id: str, now: float
    ) -> Apply:
        """A write of pushed data at the client's offset, on every replica."""
        lease, serial = self._ordered(handle, version, now)
        return Apply(
            handle, version, serial, offset, lease.secondaries, data_id=data_id, token=lease.token
        )

    def survey_needed(
        self, handle: int, version: int, size: int, now: float
    ) -> tuple[str, ...] | None:
        """The secondaries to survey before the lease's first append of a record of `size`
        bytes (raises if no valid lease names `version`, or the record is too large); None
        when the survey is known."""
        lease = self.leases.check(handle, version, now)
        self._record_limit(lease, size)
        return None if lease.survey is not None else lease.secondaries

    def surveyed(
        self, handle: int, local_end: int, replies: list[tuple[int, dict[str, int]]]
    ) -> None:
        """The secondaries' (end, {append id: offset}) as they answered, and this replica's
        end: appends start after the longest, and an id any of them holds lands there."""
        records: dict[str, int] = {}
        for _, ids in replies:
            for record_id, offset in ids.items():
                records[record_id] = min(offset, records.get(record_id, offset))
        end = max([local_end, *(end for end, _ in replies)])
        lease = self.leases.leases.get(handle)
        if lease is not None:
            lease.survey = Survey(end, records)

    def landing_of(self, handle: int, record_id: str, own: int | None) -> int | None:
        """Where an earlier try of append `record_id` landed: on this replica (`own`), else on
        a secondary as of the survey; None if nowhere (or no id: at least once, as in GFS)."""
        if not record_id:
            return None
        if own is not None:
            return own
        lease = self.leases.leases.get(handle)
        survey = lease.survey if lease is not None else None
        return survey.records.get(record_id) if survey is not None else None

    def order_append(
        self,
        handle: int,
        version: int,
        data_id: str,
        size: int,
        record_id: str,
        local_end: int,
        landed: tuple[int, Landing, bool] | None,
        now: float,
    ) -> tuple[Apply, Appended]:
        """A record append of `size` bytes: the instruction and the client's answer.
        `landed`: (offset, what this replica holds there, whether this replica recorded the id
        itself) for an earlier try `landing_of` named."""
        lease, serial = self._ordered(handle, version, now)
        chunk_size = self._record_limit(lease, size)
        secondaries = lease.secondaries
        if landed is not None:
            offset, found, own = landed
            if found is Landing.SAME or (found is Landing.GAP and not own):
                # The earlier try may have reached only some of today's replicas (one down
                # then, or a new lease's, this one too): each gets it at the same offset.
                here = found is Landing.GAP
                apply = Apply(
                    handle,
                    version,
                    serial,
                    offset,
                    secondaries,
                    data_id,
                    record_id,
                    here=here,
                    token=lease.token,
                )
                return apply, Appended(offset, duplicate=True)
        survey_end = lease.survey.end if lease.survey is not None else 0
        offset = max(local_end, survey_end)
        if offset + size > chunk_size:
            pad = Apply(
                handle, version, serial, offset, secondaries, pad_to=chunk_size, token=lease.token
            )
            return pad, Appended(offset, padded=True)
        apply = Apply(
            handle, version, serial, offset, secondaries, data_id, record_id, token=lease.token
        )
        return apply, Appended(offset)
