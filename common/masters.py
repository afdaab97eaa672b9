"""The master replicas a client or a chunkserver knows (`--master A,B,C`), and which of them
it takes for the active one: the last that took a change, else the first listed."""

from __future__ import annotations

import time

# A replica whose call failed only after this long did not answer at all (a stalled process or
# a vanished machine: the channel's keepalive or connection attempt gave up on it) ...
SILENT_AFTER = 1.0
# ... and is passed over for this long while another is listed: each try of it would cost
# seconds more while the live replicas elect a new active among themselves.
SILENT_FOR = 5.0


class MasterList:
    def __init__(self, spec: str) -> None:
        self.addresses = [a.strip() for a in spec.split(",") if a.strip()]
        if not self.addresses:
            raise ValueError(f"no master address in {spec!r}")
        self.current = self.addresses[0]
        self._silent: dict[str, float] = {}  # replica -> until when it is passed over

    def __len__(self) -> int:
        return len(self.addresses)

    def __str__(self) -> str:
        return ",".join(self.addresses)

    def in_turn(self) -> list[str]:
        """Every replica, the one taken for active first, then the others in their order."""
        i = self.addresses.index(self.current)
        return self.addresses[i:] + self.addresses[:i]

    def passed(self, address: str, took: float = 0.0) -> None:
        """`address` is not the active one (it refused, or did not answer): the next is. One
        whose call failed only after `took` > SILENT_AFTER seconds is silent: passed over
        for SILENT_FOR, unless every other one is too."""
        if took > SILENT_AFTER:
            self._silent[address] = time.monotonic() + SILENT_FOR
        if address == self.current:
            i = self.addresses.index(address)
            after = self.addresses[i + 1 :] + self.addresses[: i + 1]
            self.current = next((a for a in after if not self.silent(a)), after[0])

    def silent(self, address: str) -> bool:
        """Whether `address` did not answer lately (see `passed`)."""
        return time.monotonic() < self._silent.get(address, 0.0)
