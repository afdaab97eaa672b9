"""A call made on its own thread whenever asked for, requests that arrive while it runs served
together by the next one: for reports where only the newest matters (a standby telling the
active how far it holds the log), so the asker never waits on the call."""

from __future__ import annotations

import threading
from collections.abc import Callable


class CoalescedCall:
    def __init__(self, call: Callable[[], None], name: str) -> None:
        self._call = call
        self._wake = threading.Condition()
        self._asked = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def ask(self) -> None:
        """Has the call made once more, after any under way (returns at once)."""
        with self._wake:
            self._asked = True
            self._wake.notify()

    def close(self) -> None:
        """No call starts after this; one under way finishes on its thread."""
        with self._wake:
            self._closed = True
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._asked or self._closed)
                if self._closed:
                    return
                self._asked = False
            self._call()
