"""A watch on a long server-streaming call: cancelled once nothing arrived on it for a while.

A followed op-log stream carries a keepalive each second, but a sender that vanished without
closing its connection (a container killed, a machine powered off, a cable cut) sends neither
data nor a reset, and a receiver left waiting on it waits forever. The watch turns that into
the broken stream it is."""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

log = logging.getLogger(__name__)


class Cancellable(Protocol):
    def cancel(self) -> bool: ...


class Silence:
    """Cancels `call` once `limit` seconds pass without `heard()`; `stop()` ends the watch.
    One thread for the call's life."""

    def __init__(self, call: Cancellable, limit: float, what: str) -> None:
        self.call = call
        self.limit = limit
        self.what = what
        self._heard = time.monotonic()
        self._done = threading.Event()
        self.broke = False  # whether it cancelled the call
        threading.Thread(target=self._watch, name="silence", daemon=True).start()

    def heard(self) -> None:
        self._heard = time.monotonic()

    def stop(self) -> None:
        self._done.set()

    def _watch(self) -> None:
        while not self._done.wait(min(1.0, self.limit / 4)):
            silent = time.monotonic() - self._heard
            if silent > self.limit:
                log.warning("%s silent for %.0fs: taken for broken", self.what, silent)
                self.broke = True
                self.call.cancel()
                return
