"""Safe mode (HDFS's name; GFS section 4.5's caution after a restart): until enough of the
known chunks have been reported by live chunkservers, the master orders no replica deletions
(nor, once it exists, re-replication), since a replica that merely has not reported yet would
look missing and one that reported early might look surplus."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SafeMode:
    threshold: float  # share of known chunks that must have a live replica
    active: bool
    manual: bool = False  # entered by an operator: only an operator leaves it

    def update(self, known: int, reported: int) -> bool:
        """Leaves automatically once the threshold is met; returns True when it just left."""
        if not self.active or self.manual:
            return False
        if known == 0 or reported / known >= self.threshold:
            self.active = False
            return True
        return False

    def enter(self) -> None:
        self.active, self.manual = True, True

    def leave(self) -> None:
        self.active, self.manual = False, False
