"""The master replicas a client or a chunkserver knows (`--master A,B,C`), and which of them
it takes for the active one: the last that took a change, else the first listed."""

from __future__ import annotations


class MasterList:
    def __init__(self, spec: str) -> None:
        self.addresses = [a.strip() for a in spec.split(",") if a.strip()]
        if not self.addresses:
            raise ValueError(f"no master address in {spec!r}")
        self.current = self.addresses[0]

    def __len__(self) -> int:
        return len(self.addresses)

    def __str__(self) -> str:
        return ",".join(self.addresses)

    def in_turn(self) -> list[str]:
        """Every replica, the one taken for active first, then the others in their order."""
        i = self.addresses.index(self.current)
        return self.addresses[i:] + self.addresses[:i]

    def passed(self, address: str) -> None:
        """`address` is not the active one (it refused, or did not answer): the next is."""
        if address == self.current:
            i = self.addresses.index(address)
            self.current = self.addresses[(i + 1) % len(self.addresses)]
