"""The requests of a client stream that carries only the newest word (a standby telling the
active how far it holds the log): whoever has news asks and goes on, and the stream sends one
request, made when it can send, for everything asked since the one before."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

R = TypeVar("R")


class Newest(Generic[R]):
    def __init__(self, make: Callable[[], R | None]) -> None:
        """`make` builds the request as things stand (None: nothing to send this time)."""
        self._make = make
        self._wake = threading.Condition()
        self._asked = False
        self._closed = False

    def ask(self) -> None:
        """Has one more request sent, made once the stream takes it (returns at once)."""
        with self._wake:
            self._asked = True
            self._wake.notify()

    def close(self) -> None:
        """Ends the stream after the request it is sending, if any."""
        with self._wake:
            self._closed = True
            self._wake.notify()

    def __iter__(self) -> Iterator[R]:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._asked or self._closed)
                if self._closed:
                    return
                self._asked = False
            request = self._make()
            if request is not None:
                yield request
