"""Keeping a flood of one complaint out of a server's log: gRPC logs every request it cannot
decode with a full traceback, so a client sending garbage in a loop would fill the disk."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

# Where gRPC logs a request or message it could not decode ("Exception deserializing ...").
GRPC_DECODING_LOGGER = "grpc._common"


class RateLimited(logging.Filter):
    """Lets through at most `burst` records per `period` seconds (one line each, the traceback
    cut to the exception's own message); the first record after a quiet period also says how
    many were dropped."""

    def __init__(
        self, burst: int = 5, period: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.burst = burst
        self.period = period
        self.clock = clock
        self._window_start = -period
        self._passed = 0
        self._dropped = 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            return self._admit(record)

    def _admit(self, record: logging.LogRecord) -> bool:
        now = self.clock()
        if now - self._window_start >= self.period:
            self._window_start, self._passed = now, 0
        if self._passed >= self.burst:
            self._dropped += 1
            return False
        self._passed += 1
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})"
            record.args, record.exc_info, record.exc_text = None, None, None
        if self._dropped:
            record.msg = f"{record.getMessage()} [{self._dropped} more like it were not logged]"
            record.args, self._dropped = None, 0
        return True


def limit_grpc_decoding_errors() -> None:
    logging.getLogger(GRPC_DECODING_LOGGER).addFilter(RateLimited())
