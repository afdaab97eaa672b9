"""The fault-injection `Cluster` of DESIGN.md section 7, written once and implemented twice:
local processes (`LocalFaults`) and the compose cluster of deploy/ (`DockerFaults`).

Both run the same shape (a master, a shadow, chunkservers cs0..cs3 in racks a, a, b, b) with
the same small timing, and keep each server's data in a host directory `workdir/NODE` (a small
tmpfs where the host allows it), so damaging and filling disks is the same code for both.
Nodes are named "master", "shadow", "cs0".."cs3"; "client" is this test process."""

from __future__ import annotations

import errno
import os
import random
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from client.client import Client
from client.localcluster import LocalCluster, Process
from common import errors
from tests.faults.host import Host, Unsupported, run

ROOT = Path(__file__).resolve().parents[2]
CHUNKSERVERS = ("cs0", "cs1", "cs2", "cs3")
RACKS = ("a", "a", "b", "b")
CLIENT = "client"
CHUNK_SIZE = 256 * 1024
DISK_BYTES = 160 * 1024 * 1024
# The timing knobs, small: as flags for local processes, as environment for compose.
TIMING = {
    "chunk-size": CHUNK_SIZE,
    "heartbeat-interval": 0.2,
    "dead-after": 2,
    "lease-seconds": 4,
    "trash-grace": 0,
    "balance-interval": 3600,
}
# Chunkservers scrub idle replicas within seconds, so damage nobody reads is found too.
CHUNKSERVER_TIMING = {"scrub-period": 3, "scrub-idle": 2}


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"


class FaultCluster(ABC):
    """start/stop, kill/restart, pause/resume, partition/isolate/heal, lossy/slow links,
    corrupt,
    fill_disk, wait_until. `heal()` lifts every fault still in force and restarts what was
    killed; a scenario calls it in a `finally`."""

    kind = ""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.host = Host(f"{os.getpid()}-{random.randrange(1 << 16):04x}")
        self.killed: set[str] = set()
        self.paused: set[str] = set()
        self.filled: set[str] = set()
        self.small_disks: set[str] = set()

    # --- what each implementation provides ----------------------------------------------------

    @abstractmethod
    def endpoint(self, node: str) -> Endpoint: ...

    @abstractmethod
    def _start(self) -> None: ...

    @abstractmethod
    def _stop(self) -> None: ...

    @abstractmethod
    def _kill(self, node: str) -> None: ...

    @abstractmethod
    def _start_node(self, node: str) -> None: ...

    @abstractmethod
    def _signal_pause(self, node: str, pause: bool) -> None: ...

    @abstractmethod
    def _cut(self, src: str, dst: str) -> None:
        """Drops what `src` sends to `dst` (either may be the client)."""

    @abstractmethod
    def isolate(self, node: str) -> None:
        """Cuts `node` off from every other node and the client."""

    @abstractmethod
    def lossy(self, node: str, fraction: float) -> None:
        """Loses `fraction` of the packets `node` sends and receives."""

    @abstractmethod
    def slow(self, nodes: list[str], rate: str) -> None:
        """Squeezes the traffic of `nodes` through a link of `rate` (tc syntax: "4mbit")."""

    @abstractmethod
    def _heal_network(self) -> None: ...

    # --- shared ---------------------------------------------------------------------------------

    @property
    def master_address(self) -> str:
        return str(self.endpoint("master"))

    @property
    def shadow_address(self) -> str:
        return str(self.endpoint("shadow"))

    def address(self, node: str) -> str:
        return str(self.endpoint(node))

    def node_of(self, address: str) -> str:
        return next(n for n in CHUNKSERVERS if self.address(n) == address)

    def data_dir(self, node: str) -> Path:
        return self.workdir / node

    def replica_file(self, node: str, handle: int) -> Path:
        return self.data_dir(node) / "chunks" / f"{handle}.chunk"

    def client(self, timeout: float = 5.0) -> Client:
        return Client(self.master_address, shadows=[self.shadow_address], timeout=timeout)

    def start(self) -> None:
        for node in CHUNKSERVERS:
            if self.host.small_disk(self.data_dir(node), DISK_BYTES):
                self.small_disks.add(node)
        for node in ("master", "shadow"):
            self.data_dir(node).mkdir(parents=True, exist_ok=True)
        self.host.enter(CLIENT)
        try:
            self._start()
            self.wait_serving()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        try:
            self._lift_network_and_pauses()
        finally:
            try:
                self._stop()
            finally:
                self.host.close()

    def kill(self, node: str) -> None:
        """SIGKILL, as a crash (a paused node is resumed first, so it can die)."""
        if node in self.paused:
            self.resume(node)
        self._kill(node)
        self.killed.add(node)

    def restart(self, node: str) -> None:
        """Kills `node` if it runs and starts it again on the same address and data."""
        self.kill(node)
        self._start_node(node)
        self.killed.discard(node)

    def pause(self, node: str) -> None:
        """SIGSTOP (or the freezer): alive to the kernel, silent to everyone."""
        self._signal_pause(node, True)
        self.paused.add(node)

    def resume(self, node: str) -> None:
        self._signal_pause(node, False)
        self.paused.discard(node)

    def partition(self, a: str, b: str) -> None:
        """Nothing passes between `a` and `b`, in either direction."""
        self._cut(a, b)
        self._cut(b, a)

    def corrupt(self, node: str, handle: int, how: str, rng: random.Random) -> None:
        """Damages a replica on disk behind its chunkserver's back: "flip" one byte, "truncate"
        to half its length, or "delete" the file."""
        path = self.replica_file(node, handle)
        if how == "delete":
            path.unlink()
            return
        size = path.stat().st_size
        assert size > 0, f"replica {handle} on {node} is empty"
        if how == "truncate":
            os.truncate(path, size // 2)
            return
        assert how == "flip", how
        with open(path, "r+b") as f:
            f.seek(rng.randrange(size))
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0xFF]))

    def fill_disk(self, node: str) -> None:
        """Fills the node's disk to the last byte."""
        if node not in self.small_disks:
            raise Unsupported("filling a disk needs root to mount a small tmpfs")
        self.filled.add(node)
        with open(self.data_dir(node) / "filler", "wb", buffering=0) as f:
            for block in (1 << 20, 4096):  # big blocks, then the last crumbs
                try:
                    while True:
                        f.write(bytes(block))
                except OSError as err:
                    if err.errno != errno.ENOSPC:
                        raise

    def _lift_network_and_pauses(self) -> None:
        self._heal_network()
        for node in list(self.paused):
            self.resume(node)

    def heal(self) -> None:
        """Lifts every fault: network, pauses, full disks; restarts what was killed."""
        self._lift_network_and_pauses()
        for node in list(self.filled):
            (self.data_dir(node) / "filler").unlink(missing_ok=True)
            self.filled.discard(node)
        for node in sorted(self.killed, key=lambda n: n != "master"):
            self.restart(node)
        self.wait_serving()

    # --- waiting --------------------------------------------------------------------------------

    def wait_until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if predicate():
                    return
            except errors.GfsError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.kind}: waited {timeout:.0f}s in vain until {what}")
            time.sleep(0.1)

    def alive(self) -> set[str]:
        """The chunkservers the master calls alive."""
        with Client(self.master_address, timeout=3) as client:
            report = client.report()
        return {self.node_of(s.address) for s in report.chunkservers if s.state == "alive"}

    def wait_serving(self, timeout: float = 60) -> None:
        """Until the master serves with every chunkserver alive, and the shadow knows them all
        too (it learns them from the master: a master killed before that leaves the shadow
        with no replica to hand out)."""
        want = set(CHUNKSERVERS)
        self.wait_until(lambda: self.alive() >= want, timeout, "every chunkserver is alive")

        def shadow_knows_them() -> bool:
            with Client(self.shadow_address, timeout=3) as shadow:
                report = shadow.report()
            return {self.node_of(s.address) for s in report.chunkservers} >= want

        self.wait_until(shadow_knows_them, timeout, "the shadow knows every chunkserver")


# --- local processes ------------------------------------------------------------------------------


@dataclass
class _PlacedCluster(LocalCluster):
    """A LocalCluster whose processes each start in a cgroup of their own (when the host has
    them), so iptables can tell their packets apart on loopback."""

    place: Callable[[str], Path | None] | None = None

    def command(self, proc: Process) -> list[str]:
        base = super().command(proc)
        group = self.place(_node_name(proc)) if self.place else None
        if group is None:
            return base
        return ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(group / "cgroup.procs"), *base]


def _node_name(proc: Process) -> str:
    return "cs" + proc.name.split()[-1] if proc.name.startswith("chunkserver") else proc.name


class LocalFaults(FaultCluster):
    kind = "local"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.local = _PlacedCluster(
            workdir,
            chunkservers=len(CHUNKSERVERS),
            racks=list(RACKS),
            with_shadow=True,
            master_args=[f"--{k}={v}" for k, v in TIMING.items()],
            chunkserver_args=[f"--{k}={v}" for k, v in CHUNKSERVER_TIMING.items()],
            place=self.host.group,
        )

    def _proc(self, node: str) -> Process:
        if node == "master":
            assert self.local.master is not None
            return self.local.master
        if node == "shadow":
            assert self.local.shadow is not None
            return self.local.shadow
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
        for other in ("master", "shadow", *CHUNKSERVERS, CLIENT):
            if other != node:
                self.partition(node, other)

    def lossy(self, node: str, fraction: float) -> None:
        self.host.drop_randomly(self.endpoint(node).port, fraction)

    def slow(self, nodes: list[str], rate: str) -> None:
        self.host.slow_loopback([self.endpoint(n).port for n in nodes], rate)

    def _heal_network(self) -> None:
        self.host.heal()


# --- docker-compose ------------------------------------------------------------------------------

_SUFFIX = {"master": 10, "shadow": 11, **{n: 20 + i for i, n in enumerate(CHUNKSERVERS)}}
_PORT = {"master": 9000, "shadow": 9010, **dict.fromkeys(CHUNKSERVERS, 9100)}


def docker_available() -> str | None:
    """None if a Docker engine and docker-compose answer here, else why not."""
    for argv in (("docker", "info"), ("docker-compose", "version")):
        try:
            if run(*argv, check=False).returncode != 0:
                return f"`{' '.join(argv)}` fails: no Docker engine or compose here"
        except FileNotFoundError:
            return f"`{argv[0]}` is not installed"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DockerFaults(FaultCluster):
    """deploy/docker-compose.yml with tests/faults/compose.faults.yml over it."""

    kind = "docker"
    PROJECT_PREFIX = "pygfsfaults"

    def __init__(self, workdir: Path, image: str, net: str = "172.28.9") -> None:
        super().__init__(workdir)
        self.image = image
        self.net = net
        self.project = f"{self.PROJECT_PREFIX}{os.getpid()}"
        self.network = f"{self.project}_gfs"
        self.cut_nodes: set[str] = set()  # containers with iptables rules of ours
        self.isolated: set[str] = set()  # disconnected from the network
        self.shaped: set[str] = set()  # with a tbf qdisc
        self.env = self._environment()

    def _environment(self) -> dict[str, str]:
        timing = {
            "GFS_" + k.upper().replace("-", "_"): str(v)
            for k, v in {**TIMING, **CHUNKSERVER_TIMING}.items()
        }
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GFS_IMAGE": self.image,
            "GFS_NET": self.net,
            "GFS_MASTER_PORT": str(_free_port()),
            "GFS_RESTART": "no",
            "GFS_FAULT_DATA": str(self.workdir),
            **timing,
        }

    def compose(self, *args: str, check: bool = True) -> str:
        argv = [
            "docker-compose", "-p", self.project,
            "-f", str(ROOT / "deploy" / "docker-compose.yml"),
            "-f", str(ROOT / "tests" / "faults" / "compose.faults.yml"),
            *args,
        ]  # fmt: skip
        result = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=300)
        if check and result.returncode != 0:
            raise RuntimeError(f"docker-compose {' '.join(args)}: {result.stderr.strip()[-2000:]}")
        return result.stdout

    def container(self, node: str) -> str:
        return f"{self.project}_{node}_1"

    def endpoint(self, node: str) -> Endpoint:
        return Endpoint(self.ip(node), _PORT[node])

    def ip(self, node: str) -> str:
        return f"{self.net}.{_SUFFIX[node]}" if node != CLIENT else f"{self.net}.1"

    @classmethod
    def remove_leftovers(cls) -> None:
        """Containers and networks of an earlier run that died before cleaning up."""
        label = "label=com.docker.compose.project"
        ids = run("docker", "ps", "-aq", "--filter", label, check=False).stdout.split()
        for cid in ids:
            project = run("docker", "inspect", "-f",
                          '{{index .Config.Labels "com.docker.compose.project"}}', cid,
                          check=False).stdout.strip()  # fmt: skip
            if project.startswith(cls.PROJECT_PREFIX):
                run("docker", "rm", "-f", "-v", cid, check=False)
        for net in run("docker", "network", "ls", "-q", "--filter", f"name={cls.PROJECT_PREFIX}",
                       check=False).stdout.split():  # fmt: skip
            run("docker", "network", "rm", net, check=False)

    def _start(self) -> None:
        self.compose("up", "-d")

    def _stop(self) -> None:
        # The servers' logs outlive the containers, next to the run's history.
        logs = self.compose("logs", "--no-color", "--timestamps", check=False)
        (self.workdir / "compose.log").write_text(logs)
        self.compose("down", "-v", "-t", "3", "--remove-orphans", check=False)

    def _kill(self, node: str) -> None:
        run("docker", "kill", self.container(node), check=False)

    def _start_node(self, node: str) -> None:
        run("docker", "start", self.container(node))

    def _signal_pause(self, node: str, pause: bool) -> None:
        run("docker", "pause" if pause else "unpause", self.container(node), check=False)

    def _exec(self, node: str, *argv: str, check: bool = True) -> None:
        run("docker", "exec", self.container(node), *argv, check=check)

    def _cut(self, src: str, dst: str) -> None:
        if src == CLIENT:
            end = self.endpoint(dst)
            self.host.drop(CLIENT, end.ip, end.port)
        else:
            self._exec(src, "iptables", "-A", "OUTPUT", "-d", self.ip(dst), "-j", "DROP")
        self.cut_nodes.add(src)

    def isolate(self, node: str) -> None:
        """`docker network disconnect`: the container loses its only network."""
        self.isolated.add(node)
        run("docker", "network", "disconnect", "-f", self.network, self.container(node))

    def lossy(self, node: str, fraction: float) -> None:
        self.cut_nodes.add(node)
        for chain in ("OUTPUT", "INPUT"):
            self._exec(node, "iptables", "-A", chain, "-m", "statistic", "--mode", "random",
                       "--probability", str(fraction), "-j", "DROP")  # fmt: skip

    def slow(self, nodes: list[str], rate: str) -> None:
        for node in nodes:
            self.shaped.add(node)
            self._exec(node, "tc", "qdisc", "replace", "dev", "eth0", "root", "tbf", "rate", rate,
                       "burst", "32kbit", "latency", "400ms")  # fmt: skip

    def _heal_network(self) -> None:
        self.host.heal()
        for node in sorted(self.isolated):
            run("docker", "network", "connect", "--ip", self.ip(node), self.network,
                self.container(node), check=False)  # fmt: skip
        for node in sorted(self.cut_nodes):
            self._exec(node, "iptables", "-F", "OUTPUT", check=False)
            self._exec(node, "iptables", "-F", "INPUT", check=False)
        for node in sorted(self.shaped):
            self._exec(node, "tc", "qdisc", "del", "dev", "eth0", "root", check=False)
        self.isolated.clear()
        self.cut_nodes.clear()
        self.shaped.clear()
