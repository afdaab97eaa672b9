"""The fault-injection cluster as local processes on per-node loopback addresses (127.0.0.x):
partitions with iptables, pauses with SIGSTOP."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from client.localcluster import LocalCluster, Process
from tests.faults import fakeclock
from tests.faults.cluster import (
    CHUNKSERVER_TIMING,
    CHUNKSERVERS,
    CLIENT,
    COORDINATOR,
    DISK_BYTES,
    RACKS,
    REPLICAS,
    TIMING,
    Endpoint,
    FaultCluster,
)
from tests.faults.sickdisk import SickDisks


@dataclass
class _PlacedCluster(LocalCluster):
    """A LocalCluster whose processes each start in a cgroup of their own (when the host has
    them), so iptables can tell their packets apart on loopback."""

    place: Callable[[str], Path | None] | None = None
    environment: Callable[[str], dict[str, str]] | None = None  # a chunkserver's, at start

    def command(self, proc: Process) -> list[str]:
        base = super().command(proc)
        group = self.place(_node_name(proc)) if self.place else None
        if group is None:
            return base
        return ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(group / "cgroup.procs"), *base]

    def _chunkserver(self, i: int, rack: str) -> Process:
        proc = super()._chunkserver(i, rack)
        if self.environment is not None:
            proc.env = self.environment(_node_name(proc))
        return proc


def _node_name(proc: Process) -> str:
    """ "chunkserver 1" is cs1, "master 0" (a replica) master0."""
    if proc.name.startswith("chunkserver"):
        return "cs" + proc.name.split()[-1]
    return proc.name.replace(" ", "")


class LocalFaults(FaultCluster):
    kind = "local"

    def __init__(self, workdir: Path, disk_bytes: int = DISK_BYTES, masters: int = 1) -> None:
        super().__init__(workdir, disk_bytes, masters)
        # Replicated: a session outlives a silent replica 3 s (a failover in about 4).
        coordinator = ["--coordinator-timeout=3"] if self.replicated else []
        self.local = _PlacedCluster(
            workdir,
            chunkservers=len(CHUNKSERVERS),
            racks=list(RACKS),
            with_shadow=not self.replicated,
            masters=masters,
            master_args=[*(f"--{k}={v}" for k, v in TIMING.items()), *coordinator],
            chunkserver_args=[f"--{k}={v}" for k, v in CHUNKSERVER_TIMING.items()],
            data_dirs=2,
            place=self.host.group,
            environment=self._environment,
        )
        self.disks = SickDisks(workdir / "disk-faults")
        self.clocks: dict[str, str] = {}  # node -> its FAKETIME

    def _proc(self, node: str) -> Process:
        if node == "master":
            assert self.local.master is not None
            return self.local.master
        if node == "shadow":
            assert self.local.shadow is not None
            return self.local.shadow
        if node == COORDINATOR:
            assert self.local.coordinator is not None
            return self.local.coordinator
        if node in REPLICAS:
            return self.local.replicas[REPLICAS.index(node)]
        return self.local.servers[CHUNKSERVERS.index(node)]

    def endpoint(self, node: str) -> Endpoint:
        ip, port = self._proc(node).address.rsplit(":", 1)
        return Endpoint(ip, int(port))

    def _start(self) -> None:
        self.local.start()

    def _stop(self) -> None:
        self.local.stop()

    def _kill(self, node: str) -> None:
        self.local.kill(self._proc(node))

    def _start_node(self, node: str) -> None:
        self.local.restart(self._proc(node))

    def _set_clock(self, node: str, faketime: str) -> None:
        self.clocks[node] = faketime
        self._proc(node).env = self._environment(node)

    def _environment(self, node: str) -> dict[str, str]:
        """What `node` starts with: its disk faults (a chunkserver) and its faked clock."""
        parts = [self.disks.environment(node)] if node in CHUNKSERVERS else []
        if self.clocks.get(node):
            parts.append(fakeclock.environment(self.clocks[node]))
        env = {k: v for part in parts for k, v in part.items()}
        if parts:
            env["LD_PRELOAD"] = " ".join(p["LD_PRELOAD"] for p in parts)
        return env

    def _sicken(self, node: str, directory: Path, fault: str) -> None:
        if fault:
            self.disks.strike(node, directory, fault)
        else:
            self.disks.mend(node, directory)

    def _signal_pause(self, node: str, pause: bool) -> None:
        proc = self._proc(node)
        if proc.popen is not None and proc.running:
            os.kill(proc.popen.pid, 19 if pause else 18)  # SIGSTOP / SIGCONT

    def _cut(self, src: str, dst: str) -> None:
        if dst == CLIENT:
            return  # the client listens nowhere: cutting what it sends cuts its connections
        end = self.endpoint(dst)
        self.host.drop(src, end.ip, end.port)

    def isolate(self, node: str) -> None:
        for other in (*self.nodes, CLIENT):
            if other != node:
                self.partition(node, other)

    def lossy(self, node: str, fraction: float) -> None:
        self.host.drop_randomly(self.endpoint(node).port, fraction)

    def slow(self, nodes: list[str], rate: str) -> None:
        self.host.slow_loopback([self.endpoint(n).port for n in nodes], rate)

    def _heal_network(self) -> None:
        self.host.heal()
