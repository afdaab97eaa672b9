"""Keeping a flood of one complaint out of a server's log: gRPC logs every request it cannot
decode with a full traceback, so a client sending garbage in a loop would fill the disk; and a
server that cannot reach its master, or finds the same fault every round, would say the same
line every second."""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Hashable

# Where gRPC logs a request or message it could not decode ("Exception deserializing ...").
GRPC_DECODING_LOGGER = "grpc._common"


def same_logger(record: logging.LogRecord) -> Hashable:
    return record.name


def same_line(record: logging.LogRecord) -> Hashable:
    error = record.exc_info[1] if record.exc_info else None
    return record.name, record.levelno, record.getMessage(), repr(error)


class RateLimited(logging.Filter):
    """Lets through at most `burst` records of one kind (`key`: by default, one logger) per
    `period` seconds (with `one_line`, a traceback cut to the exception's own message); the
    first record of a kind after its quiet period also says how many were dropped. Remembers
    at most `kinds` kinds (the least recent forgotten). Records below `floor` pass untouched
    (debug output is asked for)."""

    def __init__(
        self,
        burst: int = 5,
        period: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        key: Callable[[logging.LogRecord], Hashable] = same_logger,
        floor: int = logging.NOTSET,
        kinds: int = 1000,
        one_line: bool = True,
    ) -> None:
        super().__init__()
        self.burst = burst
        self.period = period
        self.clock = clock
        self.key = key
        self.floor = floor
        self.kinds = kinds
        self.one_line = one_line
        # kind -> [window start, passed in window, dropped since last passed]
        self._seen: collections.OrderedDict[Hashable, list[float]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.floor:
            return True
        with self._lock:
            return self._admit(record)

    def _admit(self, record: logging.LogRecord) -> bool:
        now = self.clock()
        kind = self.key(record)
        seen = self._seen.pop(kind, None) or [now - self.period, 0, 0]
        self._seen[kind] = seen
        if len(self._seen) > self.kinds:
            self._seen.popitem(last=False)
        if now - seen[0] >= self.period:
            seen[0], seen[1] = now, 0
        if seen[1] >= self.burst:
            seen[2] += 1
            return False
        seen[1] += 1
        if self.one_line and record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})"
            record.args, record.exc_info, record.exc_text = None, None, None
        if seen[2]:
            record.msg = f"{record.getMessage()} [{int(seen[2])} more like it were not logged]"
            record.args, seen[2] = None, 0
        return True


def limit_repeats(handler: logging.Handler) -> None:
    """A server's log: gRPC's decoding errors by their logger (each has its own text), and
    any line said over and over, as it is."""
    logging.getLogger(GRPC_DECODING_LOGGER).addFilter(RateLimited())
    handler.addFilter(RateLimited(burst=3, key=same_line, floor=logging.INFO, one_line=False))
