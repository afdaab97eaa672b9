"""When `gfs cluster up` starts a server of its own again after it exited (the clock passed
in). A server that dies at once keeps dying, so restarts back off (1 s, doubling, at
most 30 s); one that had run a minute starts over from 1 s; after five quick deaths in a row
the cluster gives up on it and says so."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from common import errors

if TYPE_CHECKING:
    from client.localcluster import LocalCluster, Process


@dataclass
class Backoff:
    first: float = 1.0
    most: float = 30.0
    steady: float = 60.0  # a server that ran this long died of something new
    give_up: int = 5  # quick deaths in a row
    quick_deaths: int = 0

    def died(self, ran_for: float) -> float | None:
        """Seconds to wait before the restart; None: stop trying."""
        if ran_for >= self.steady:
            self.quick_deaths = 0
        self.quick_deaths += 1
        if self.quick_deaths > self.give_up:
            return None
        return float(min(self.most, self.first * 2 ** (self.quick_deaths - 1)))


class Supervisor:
    """Watches a local cluster's servers; one that exited is started again after its backoff
    (said on stdout, one line each way). `check` raises ClusterFailed once a server keeps
    dying."""

    def __init__(
        self, cluster: LocalCluster, say: Callable[[str], None], clock: Callable[[], float]
    ) -> None:
        self.cluster = cluster
        self.say = say
        self.clock = clock
        now = clock()
        self.started = {p.name: now for p in self._procs()}
        self.backoff = {p.name: Backoff() for p in self._procs()}
        self.due: dict[str, float] = {}  # name -> when it is started again

    def _procs(self) -> list[Process]:
        c = self.cluster
        return [p for p in (c.coordinator, c.master, *c.replicas, *c.servers) if p is not None]

    def check(self) -> None:
        now = self.clock()
        for proc in self._procs():
            if proc.name in self.due:
                if now >= self.due[proc.name]:
                    del self.due[proc.name]
                    self._restart(proc, now)
            elif not proc.running:
                code = proc.popen.returncode if proc.popen is not None else None
                self._died(proc, now, f"exited with code {code}")

    def _died(self, proc: Process, now: float, how: str) -> None:
        backoff = self.backoff[proc.name]
        delay = backoff.died(now - self.started[proc.name])
        if delay is None:
            raise ClusterFailed(
                f"{proc.name} ({proc.address}) {how}, the {backoff.quick_deaths}th time in a"
                f" row within a minute of starting: stopping the cluster (its log: {proc.log_path})"
            )
        self.say(
            f"{proc.name} ({proc.address}) {how}; starting it again in {delay:.0f}s"
            f" (its log: {proc.log_path})"
        )
        self.due[proc.name] = now + delay

    def _restart(self, proc: Process, now: float) -> None:
        try:
            self.cluster.restart(proc)
        except errors.GfsError as err:
            self._died(proc, now, f"did not start again ({err})")
            return
        self.started[proc.name] = self.clock()
        self.say(f"{proc.name} serving again on {proc.address}")


class ClusterFailed(Exception):
    pass
