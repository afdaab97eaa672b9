"""Calls to the active one of several master replicas (`--master A,B,C`): which one that is
the client learns by asking, as the replicas change roles under it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from common import errors, transport
from common.masters import MasterList

log = logging.getLogger(__name__)

RETRY_EVERY = 0.2  # seconds between rounds of the replicas while none takes the call


@dataclass(frozen=True)
class MasterAnswer:
    """A call an active master replica answered, naming its term: which call, which replica,
    and when (wall clock) the request left and the answer came."""

    method: str
    address: str
    term: int
    sent: float
    answered: float


class Replicas:
    def __init__(self, masters: MasterList, channels: transport.Channels) -> None:
        self.masters = masters
        self.channels = channels
        self.on_answer: Callable[[MasterAnswer], None] | None = None  # told of each answer

    def call(self, method: str, request: Any, *, read_only: bool, timeout: float) -> Any:
        """The one taken for active first, then the others in turn (a standby refuses, a
        dead one does not answer), until one takes the call or `timeout` passed (an election
        takes a few seconds). A replica that did not answer at all is left out of the next
        rounds for a while as long as others refuse (`MasterList.silent`): they are electing
        a new active among themselves. A read that found no active replica in a whole round
        is answered by a standby, as by a shadow."""
        deadline = time.monotonic() + timeout
        metadata: tuple[tuple[str, str], ...] = ()
        last: errors.GfsError | None = None
        refused = False  # a replica refused the call in the last round: some are alive
        while True:
            answered = False  # in this round
            for address in self.masters.in_turn():
                if (refused or answered) and self.masters.silent(address):
                    self.masters.passed(address)
                    continue
                sent, started = time.time(), time.monotonic()
                try:
                    reply, trailers = transport.call_with_metadata(
                        getattr(self.channels.master(address), method),
                        request,
                        target=f"master {address}",
                        timeout=max(1.0, deadline - time.monotonic()),
                        metadata=metadata,
                    )
                except errors.NotActive as err:
                    self.masters.passed(address)
                    answered, last = True, err
                    continue
                except errors.Unavailable as err:
                    self.masters.passed(address, took=time.monotonic() - started)
                    last = err
                    continue
                if transport.TERM in trailers:
                    if self.on_answer is not None:
                        term = int(trailers[transport.TERM])
                        self.on_answer(MasterAnswer(method, address, term, sent, time.time()))
                elif metadata:
                    log.info("no active master replica: %s answered by standby %s", method, address)
                return reply
            if time.monotonic() >= deadline:
                raise errors.Unavailable(
                    f"no master replica of {self.masters} took the call within {timeout:g}s "
                    f"(last: {last})"
                )
            refused = answered
            if read_only:
                metadata = ((transport.STANDBY_READS, "1"),)
            time.sleep(RETRY_EVERY)
