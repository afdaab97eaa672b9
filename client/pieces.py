"""How big the pieces of a push are.

Each server of a chain forwards a piece once it holds all of it, so a chain of R servers delays
a push's last byte by R-1 pieces' time on the wire: pieces should be small where the links are
slow. Every piece also costs each server several thread hand-offs in Python's gRPC (receive,
write, forward), so they should be large where the links are fast. A client measures how fast
its pushes went and sizes pieces to what the chain carries in a few milliseconds: on 100 Mbit/s
links (the GFS paper's) 32 KiB, delaying a 1 MB write by 2 x 2.7 ms, not by 2 x 84 ms as one
piece; on this host's loopback about 200 KiB, a third less CPU per byte than 32 KiB.
"""

from __future__ import annotations

import threading

MIN_PIECE = 32 * 1024  # 16 KiB measured no faster on shaped links and costs more CPU
MAX_PIECE = 1024 * 1024
PIECE_SECONDS = 0.004  # how long a piece may take at the speed pushes went


def piece_for(size: int, bytes_per_second: float = 0.0) -> int:
    """The piece a push of `size` bytes travels in, the client's pushes having gone at
    `bytes_per_second` (0: not known yet): what the chain carries in PIECE_SECONDS (rounded
    down to a whole number of MIN_PIECE), or 1/64 of the push if that is larger (its last
    pieces then delay it by a few percent whatever the links), between MIN_PIECE and
    MAX_PIECE."""
    by_speed = int(bytes_per_second * PIECE_SECONDS) // MIN_PIECE * MIN_PIECE
    return min(MAX_PIECE, max(MIN_PIECE, size // 64, by_speed))


class PushSpeed:
    """How fast a client's recent pushes went, end to end through their chains: an average of
    bytes a second over pushes, the newest weighing `weight`. A slow push (a busy server, a
    slow disk) only makes pieces smaller, which costs CPU, never time on a slow link."""

    def __init__(self, weight: float = 0.3) -> None:
        self.weight = weight
        self._lock = threading.Lock()
        self._speed = 0.0

    @property
    def bytes_per_second(self) -> float:
        return self._speed

    def record(self, size: int, seconds: float) -> None:
        """A push of `size` bytes took `seconds` until the whole chain held it."""
        if seconds <= 0:
            return
        speed = size / seconds
        with self._lock:
            self._speed = (
                speed if not self._speed else self._speed + self.weight * (speed - self._speed)
            )
