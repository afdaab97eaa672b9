"""The fault-injection `Cluster` of docs/design.md section 7, written once and implemented twice:
local processes (`LocalFaults`) and the compose cluster of deploy/ (`DockerFaults`).

Both run the same shape (a master, a shadow, chunkservers cs0..cs3 in racks a, a, b, b) with
the same small timing, and keep each server's data in a host directory `workdir/NODE` (a small
tmpfs where the host allows it), so damaging and filling disks is the same code for both. Each
chunkserver has a second data directory, `workdir/NODE-disk1` (its own tmpfs too), and
tolerates one failed directory.
Nodes are named "master", "shadow", "cs0".."cs3"; "client" is this test process.

Replicated (`masters=3`), the master and shadow give way to three master replicas "master0"..
"master2" (one elected active, `gfs master --coordinator`) and their ZooKeeper, "coordinator";
clients and chunkservers are given the replicas' list."""

from __future__ import annotations

import errno
import os
import random
import shutil
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from client.client import Client
from common import errors
from common.tls import TlsFiles
from tests.faults.host import Host, Unsupported

ROOT = Path(__file__).resolve().parents[2]
CHUNKSERVERS = ("cs0", "cs1", "cs2", "cs3")
RACKS = ("a", "a", "b", "b")
CLIENT = "client"
REPLICAS = ("master0", "master1", "master2")
COORDINATOR = "coordinator"
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
# Chunkservers scrub idle replicas within seconds, so damage nobody reads is found too, and
# probe their data directories twice a second; one of their two may fail.
CHUNKSERVER_TIMING = {
    "scrub-period": 3,
    "scrub-idle": 2,
    "failed-dirs-tolerated": 1,
    "dir-check-interval": 0.5,
}


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

    def __init__(self, workdir: Path, disk_bytes: int = DISK_BYTES, masters: int = 1) -> None:
        assert masters in (1, len(REPLICAS)), masters
        self.workdir = workdir
        self.replicated = masters > 1
        self.disk_bytes = disk_bytes  # each data directory's tmpfs (a long soak wants more)
        self.host = Host(f"{os.getpid()}-{random.randrange(1 << 16):04x}")
        self.killed: set[str] = set()
        # When each node was last started again (monotonic): see wait_serving.
        self.started: dict[str, float] = {}
        self.paused: set[str] = set()
        self.filled: set[str] = set()
        self.small_disks: set[str] = set()
        # A data directory made to fail or slow -> (its node, how: read-only, removed, eio, slow MS)
        self.sick_dirs: dict[Path, tuple[str, str]] = {}
        self.skewed: set[str] = set()  # nodes running on a faked clock
        self.tls: TlsFiles | None = None  # the superuser's, on a secure cluster
        self.served: list[str] = []  # the tests it served (a cluster is reused: tests/faults)
        self.initial: set[str] = set()  # the root's entries once started (a secure one's homes)

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

    def _set_clock(self, node: str, faketime: str) -> None:
        """The clock `node` runs on from its next start (libfaketime's FAKETIME: "-3600" an
        hour behind, "+0 x0.5" at half speed; "" the real one)."""
        raise Unsupported(f"{self.kind} clusters cannot fake a node's clock yet")

    def _sicken(self, node: str, directory: Path, fault: str) -> None:
        """Every file of `node` under `directory` fails with EIO ("eio") or is slow ("slow
        MS") from now on; "" mends it."""
        raise Unsupported(f"{self.kind} clusters cannot make a disk fail I/O or slow yet")

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
    def masters(self) -> tuple[str, ...]:
        """The nodes that run a master: the master and its shadow, or the replicas."""
        return REPLICAS if self.replicated else ("master", "shadow")

    @property
    def nodes(self) -> tuple[str, ...]:
        """Every server node (the coordinator included)."""
        return (*self.masters, *CHUNKSERVERS, *([COORDINATOR] if self.replicated else []))

    @property
    def master_address(self) -> str:
        """The master's address; replicated, every replica's ("A,B,C")."""
        if self.replicated:
            return ",".join(self.address(n) for n in REPLICAS)
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

    def data_dirs(self, node: str) -> list[Path]:
        """Every data directory of `node` (a chunkserver has two)."""
        if node not in CHUNKSERVERS:
            return [self.data_dir(node)]
        return [self.data_dir(node), self.workdir / f"{node}-disk1"]

    def replica_file(self, node: str, handle: int) -> Path:
        """Where `node` keeps its replica of `handle` (in whichever directory holds it)."""
        files = [d / "chunks" / f"{handle}.chunk" for d in self.data_dirs(node)]
        return next((f for f in files if f.exists()), files[0])

    def client(self, timeout: float = 5.0, via: str = "") -> Client:
        """A client of the cluster (the superuser, on a secure one) that reads through the
        shadow while the master is down (replicated: through a standby while none is active);
        or one that asks only `via` (a master node)."""
        if via:
            return Client(self.address(via), timeout=timeout, tls=self.tls)
        if self.replicated:
            return Client(self.master_address, timeout=timeout, tls=self.tls)
        return Client(
            self.master_address, shadows=[self.shadow_address], timeout=timeout, tls=self.tls
        )

    def start(self) -> None:
        for node in (*CHUNKSERVERS, *self.masters):
            if node == "shadow":
                self.data_dir(node).mkdir(parents=True, exist_ok=True)
                continue
            small = [self.host.small_disk(d, self.disk_bytes) for d in self.data_dirs(node)]
            if all(small):
                self.small_disks.add(node)
        self.host.enter(CLIENT)
        try:
            self._start()
            self.wait_serving()
            with self.client(timeout=10) as client:
                self.initial = {e.path for e in client.ls("/")}
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
        self.started[node] = time.monotonic()
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
        for directory in self.data_dirs(node):
            with open(directory / "filler", "wb", buffering=0) as f:
                for block in (1 << 20, 4096):  # big blocks, then the last crumbs
                    try:
                        while True:
                            f.write(bytes(block))
                    except OSError as err:
                        if err.errno != errno.ENOSPC:
                            raise

    def skew_clock(self, node: str, faketime: str) -> None:
        """Restarts `node` on a faked clock (see _set_clock); healing restarts it on the real
        one. Wall and monotonic clocks move together, as a machine's do: an offset for a clock
        that is set wrong, a rate for one that runs slow or fast."""
        self._set_clock(node, faketime)
        self.skewed.add(node)
        self.restart(node)

    def fail_dir(self, node: str, index: int, how: str) -> None:
        """Makes data directory `index` of chunkserver `node` fail under it: "read-only" (its
        filesystem remounted so), "removed" (its replicas' directory gone, as an unmounted
        disk's) or "eio" (every read, write and sync on the disk fails, as a dying one's: the
        first's takes the push spool with it, and the server stops). Healing mends the
        directory and restarts the server, which takes it back."""
        directory = self.data_dirs(node)[index]
        if how == "eio":
            self._sicken(node, directory, "eio")
        elif how == "read-only":
            if node not in self.small_disks:
                raise Unsupported("remounting a disk read-only needs root and a tmpfs of ours")
            self.host.remount(directory, read_only=True)
        else:
            assert how == "removed", how
            # Renamed away at once, then removed (a removal alone races the server's writes).
            gone = directory / f"chunks.removed-{time.monotonic_ns()}"
            os.rename(directory / "chunks", gone)
            shutil.rmtree(gone, ignore_errors=True)
        self.sick_dirs[directory] = (node, how)

    def slow_dir(self, node: str, index: int, delay_ms: int) -> None:
        """Every read, write and sync of the replicas in data directory `index` of `node`
        waits `delay_ms` first, as on a disk that is failing slowly; healing lifts it."""
        directory = self.data_dirs(node)[index] / "chunks"
        self._sicken(node, directory, f"slow {delay_ms}")
        self.sick_dirs[directory] = (node, f"slow {delay_ms}")

    def _lift_network_and_pauses(self) -> None:
        self._heal_network()
        for node in list(self.paused):
            self.resume(node)

    def heal(self) -> None:
        """Lifts every fault: network, pauses, full disks; restarts what was killed."""
        self._lift_network_and_pauses()
        for node in list(self.filled):
            for directory in self.data_dirs(node):
                (directory / "filler").unlink(missing_ok=True)
            self.filled.discard(node)
        for node in list(self.skewed):
            self._set_clock(node, "")
            self.killed.add(node)  # restarted below, on the real clock
            self.skewed.discard(node)
        for directory, (node, how) in list(self.sick_dirs.items()):
            if how == "read-only":
                self.host.remount(directory, read_only=False)
            elif how != "removed":
                self._sicken(node, directory, "")  # eio or slow
            if not how.startswith("slow"):
                self.killed.add(node)  # restarted below: it takes the directory back
            del self.sick_dirs[directory]
        # The coordinator first, then the masters: what the chunkservers come back to.
        first = (COORDINATOR, "master", *REPLICAS)
        for node in sorted(self.killed, key=lambda n: first.index(n) if n in first else 9):
            self.restart(node)
        self.wait_serving()

    def reset(self) -> None:
        """Readies a healed cluster for another scenario: whatever the last one made is
        removed for good, and every replica of it reclaimed from the disks."""
        with self.client(timeout=10) as client:
            for entry in client.ls("/"):
                if entry.path not in self.initial:
                    client.rm(entry.path, recursive=True, skip_trash=True)

        def reclaimed() -> bool:
            with self.client(timeout=10) as client:
                pooled = set(client.report().pooled)  # new chunks made ahead: no file's yet
            disks = [d / "chunks" for n in CHUNKSERVERS for d in self.data_dirs(n)]
            return all(int(p.stem) in pooled for d in disks for p in d.glob("*.chunk"))

        self.wait_until(reclaimed, 60, "every replica is reclaimed")

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

    def alive(self, since: dict[str, float] | None = None) -> set[str]:
        """The chunkservers the master (replicated: the active one) calls alive; of the nodes
        in `since`, only those it heard from after the (monotonic) time given."""
        with self.client(timeout=3, via="" if self.replicated else "master") as client:
            report = client.report()
        now, since = time.monotonic(), since or {}
        return {
            node
            for s in report.chunkservers
            if s.state == "alive"
            and (
                (node := self.node_of(s.address)) not in since
                or s.last_heartbeat_age_s < now - since[node]
            )
        }

    def active(self, other_than: str = "", timeout: float = 60) -> str:
        """The master replica serving as the active one, waiting for an election (of another
        than `other_than`)."""
        found: list[str] = []

        def elected() -> bool:
            with self.client(timeout=3) as client:
                roles = {m["address"]: m["role"] for m in client.report().masters}
            found.extend(
                n for n in REPLICAS if n != other_than and roles.get(self.address(n)) == "active"
            )
            return bool(found)

        self.wait_until(elected, timeout, f"a master replica {other_than and 'but '}is active")
        return found[-1]

    def wait_serving(self, timeout: float = 60) -> None:
        """Until the master serves with every chunkserver alive, and the shadow knows them all
        too (it learns them from the master: a master killed before that leaves the shadow
        with no replica to hand out). Replicated, a standby learns them once elected.
        A chunkserver started again counts once the master has heard from it since: for a
        moment the master still counts its last life alive, then may call it dead and copy
        its chunks (checkers that ran then met versions changing under them)."""
        want = set(CHUNKSERVERS)
        self.wait_until(
            lambda: self.alive(self.started) >= want, timeout, "every chunkserver is alive"
        )
        if self.replicated:
            return

        def shadow_knows_them() -> bool:
            with self.client(timeout=3, via="shadow") as shadow:
                report = shadow.report()
            return {self.node_of(s.address) for s in report.chunkservers} >= want

        self.wait_until(shadow_knows_them, timeout, "the shadow knows every chunkserver")
