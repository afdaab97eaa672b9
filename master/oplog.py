"""The op log as others read it: streaming to shadows and `gfs oplog`, and compaction that
keeps what a follower still needs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

from common import errors
from master.config import MasterConfig
from master.quorum import Quorum
from master.rows import LogEntry
from master.store import Store

log = logging.getLogger(__name__)

PAGE = 1000  # log entries read at a time
SPARE_PACE = 0.05  # seconds between the records of a follower no majority waits for


class Followers:
    """Where each named follower of the log is, and when it was last heard from. Log streams
    (one thread each) write it while compaction (the timer thread) reads it: under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._at: dict[str, tuple[int, float]] = {}  # name -> (position, last heard)

    def heard(self, name: str, position: int) -> None:
        with self._lock:
            self._at[name] = (position, time.monotonic())

    def known(self) -> list[tuple[str, int, float]]:
        """(name, position, seconds since last heard) of every follower still remembered."""
        now = time.monotonic()
        with self._lock:
            return [(n, seq, now - at) for n, (seq, at) in sorted(self._at.items())]

    def needed(self, ttl: float) -> list[int]:
        """The positions of the followers heard from within `ttl` seconds (the others are
        forgotten)."""
        now = time.monotonic()
        with self._lock:
            self._at = {n: (seq, at) for n, (seq, at) in self._at.items() if now - at < ttl}
            return [seq for seq, _ in self._at.values()]


class OpLog:
    def __init__(self, config: MasterConfig, store: Store, quorum: Quorum | None = None) -> None:
        self.config = config
        self.store = store
        self.quorum = quorum
        self.followers = Followers()

    def stream(
        self,
        since: int,
        follow: bool,
        limit: int,
        active: Callable[[], bool],
        follower: str = "",
        since_digest: str = "",
    ) -> Iterator[list[LogEntry]]:
        """Entries after `since`, oldest first, a page at a time as the store reads them; with
        `follow`, waits for new ones while `active()` holds, yielding an empty page as a
        keepalive at once and each second it has nothing. Raises `Compacted` if entries the
        reader needs were compacted away, `Diverged` if the reader's entry `since` (by
        `since_digest`) is not this log's. A named `follower`'s position is kept, so
        compaction leaves it what it still needs (its entry `since` too, to compare); it is
        also sent the entries still being made durable (`Store.publish_early`): should they be
        lost, its `since_digest` tells when it next comes back. Anyone else reads durable
        entries only. A named follower a majority does not wait for (`Quorum.spare`: enough
        others hold more), once caught up, gets its entries SPARE_PACE apart, many to a
        record: with two standbys the active sends, and hears, half the messages a change."""
        if follower:
            self.followers.heard(follower, since)
        oldest, _ = self.store.log_bounds()
        compared = since > 0 and bool(since_digest)
        if oldest > since + (0 if compared else 1):
            raise errors.Compacted(
                f"log entries {since + 1}..{oldest - 1} were compacted; start from a checkpoint"
            )
        if compared:
            self._compare(since, since_digest)
        sent, durable = 0, not follower
        if follow and self.store.head(durable) <= since:
            yield []  # at once: a shadow learns the head, and its token keys, from it
        while active() and (limit <= 0 or sent < limit):
            page = min(PAGE, limit - sent) if limit > 0 else PAGE
            entries = self.store.read_log(since, page, durable)
            if entries:
                yield entries
                sent += len(entries)
                since = entries[-1].seq
                if follower:
                    self.followers.heard(follower, since)
                    if len(entries) < page and self.quorum and self.quorum.spare(follower):
                        time.sleep(SPARE_PACE)
            elif follow:
                self.store.wait_for_entries(since, 1.0, durable)
                if self.store.head(durable) <= since:
                    yield []
            else:
                return

    def _compare(self, since: int, digest: str) -> None:
        mine = self.store.digest(since)
        if mine is None:  # not compacted (checked): this log is shorter
            raise errors.Diverged(
                f"the follower holds entry {since}, past this log's newest "
                f"({self.store.last_seq}); start from a checkpoint"
            )
        if mine != digest:
            raise errors.Diverged(
                f"the follower's entry {since} is not this log's; start from a checkpoint"
            )

    def compact(self) -> None:
        """Drops old log entries, keeping `oplog_retain` and whatever a follower heard from
        within `follower_ttl` has not received yet."""
        oldest, newest = self.store.log_bounds()
        needed = self.followers.needed(self.config.follower_ttl)
        keep = max([self.config.oplog_retain, *(newest - seq + 1 for seq in needed)])
        if newest - oldest + 1 > keep * 1.1:
            dropped = self.store.compact(keep)
            log.info("op log compacted: %d entries dropped, %d kept", dropped, keep)
