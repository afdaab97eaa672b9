"""Background loops that outlive an exception in one of their rounds.

A loop that died silently left a master with no liveness checks, no repair and no trash purge
until a restart. Here a failing round is logged with its traceback once (a fault that repeats
is counted, and noted in one line now and then), and the loop goes on after its usual wait.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Loop:
    """Runs `round_` until `stop` is set, waiting `interval()` seconds after each round, or the
    seconds the round returns (0: go on at once). `failures` counts the rounds that raised."""

    def __init__(
        self,
        name: str,
        round_: Callable[[], float | None],
        interval: Callable[[], float],
        stop: threading.Event,
        logger: logging.Logger = log,
    ) -> None:
        self.name = name
        self.round = round_
        self.interval = interval
        self.stop = stop
        self.log = logger
        self.failures = 0
        self._last_fault = ""

    def run(self) -> None:
        while not self.stop.is_set():
            wait: float | None = None
            try:
                wait = self.round()
            except Exception as err:
                if self.stop.is_set():
                    return  # its owner closed what the round used while stopping: no fault
                self._failed(err)
            if self.stop.wait(self.interval() if wait is None else wait):
                return

    def _failed(self, err: Exception) -> None:
        self.failures += 1
        fault = f"{type(err).__name__}: {err}"
        if fault != self._last_fault:
            self._last_fault = fault
            self.log.exception("%s: a round failed; going on", self.name)
        elif self.failures & (self.failures - 1) == 0:  # 2, 4, 8, ... failures
            self.log.warning(
                "%s: still failing (%d rounds so far): %s", self.name, self.failures, fault
            )

    def thread(self) -> threading.Thread:
        return threading.Thread(target=self.run, name=self.name, daemon=True)


class Background:
    """A loop on a thread of its own, started and stopped with its owner (a chunkserver's
    heartbeats, scrubber, removals): subclasses give the round and how long to wait."""

    def __init__(
        self,
        name: str,
        round_: Callable[[], float | None],
        interval: Callable[[], float],
        logger: logging.Logger = log,
    ) -> None:
        self.stopping = threading.Event()
        self.loop = Loop(name, round_, interval, self.stopping, logger)
        self._thread = self.loop.thread()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stops the loop, waiting (a few seconds at most) for the round under way."""
        self.stopping.set()
        self._thread.join(timeout=5)
