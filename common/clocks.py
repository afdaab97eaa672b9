"""The time servers reason with.

A wall clock can be stepped (NTP, an operator, a VM resumed): read directly, a master whose
clock jumped an hour ahead declared every chunkserver dead and every lease over at once, and
one whose clock went back called dead servers alive and leases valid for an hour. `SteadyClock`
reads the wall clock once and then advances with the monotonic clock, so intervals (liveness,
leases) are immune to steps, while the times it gives stay near wall-clock time for what is
stored (modification times, persisted lease ends, the trash's deadlines).
"""

from __future__ import annotations

import time


class SteadyClock:
    def __init__(self) -> None:
        self._wall = time.time()
        self._mono = time.monotonic()

    def __call__(self) -> float:
        return self._wall + (time.monotonic() - self._mono)
