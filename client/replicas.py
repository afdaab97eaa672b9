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
        takes a few seconds). A read that found no active replica in a whole round is
        answered by a standby, as by a shadow."""
        deadline = time.monotonic() + timeout
        metadata: tuple[tuple[str, str], ...] = ()
        while True:
            for address in self.masters.in_turn():
                sent = time.time()
                try:
                    reply, trailers = transport.call_with_metadata(
                        getattr(self.channels.master(address), method),
                        request,
                        target=f"master {address}",
                        timeout=max(1.0, deadline - time.monotonic()),
                        metadata=metadata,
                    )
                except (errors.NotActive, errors.Unavailable) as err:
                    self.masters.passed(address)
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
            if read_only:
                metadata = ((transport.STANDBY_READS, "1"),)
            time.sleep(RETRY_EVERY)
