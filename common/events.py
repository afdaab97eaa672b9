"""A server's recent significant events for its status page: the last lines its own modules
logged at INFO or above (a chunkserver declared dead, a copy done, a lease revoked...)."""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass

from common.html import e, table, when


@dataclass(frozen=True)
class Event:
    at: float  # wall clock
    level: str
    source: str  # the logger, as "master.replicas"
    message: str


class RecentEvents(logging.Handler):
    def __init__(self, keep: int = 200) -> None:
        super().__init__(logging.INFO)
        self._events: collections.deque[Event] = collections.deque(maxlen=keep)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not break logging
            message = str(record.msg)
        self._events.append(Event(record.created, record.levelname, record.name, message))

    def newest(self, count: int = 50) -> list[Event]:
        return list(self._events)[-count:][::-1]

    def watch(self, logger: str) -> RecentEvents:
        logging.getLogger(logger).addHandler(self)
        return self

    def unwatch(self, logger: str) -> None:
        logging.getLogger(logger).removeHandler(self)


def events_table(events: RecentEvents, count: int = 50) -> str:
    return table(
        ["when", "level", "where", "what"],
        [[e(when(ev.at)), e(ev.level), e(ev.source), e(ev.message)] for ev in events.newest(count)],
        empty="nothing logged yet",
    )
