"""The fault-injection cluster as the compose cluster of deploy/ (secure, three master replicas
and ZooKeeper, as deployed), with tests/faults/compose.faults.yml over it. docker-compose brings
it up and down; every fault is made through the Docker SDK (the `docker` package): kills,
pauses (the freezer), commands run inside a container (iptables partitions and loss, tc
shaping), network disconnects; faked clocks and sick disks as for local processes (the same
preload libraries, through tests/faults/container-entry.sh)."""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import subprocess
import warnings
from pathlib import Path

import docker
import docker.errors
from docker.models.containers import Container
from grpc_health.v1 import health_pb2, health_pb2_grpc

from client import zookeeper
from common import transport
from common.tls import TlsFiles
from tests.faults import fakeclock, preload
from tests.faults.cluster import (
    CHUNKSERVER_TIMING,
    CHUNKSERVERS,
    CLIENT,
    COORDINATOR,
    DISK_BYTES,
    REPLICAS,
    ROOT,
    TIMING,
    Endpoint,
    FaultCluster,
)
from tests.faults.host import Unsupported, run
from tests.faults.sickdisk import DISKFAULTS, SickDisks

_SUFFIX = {
    COORDINATOR: 5,
    **{n: 10 + i for i, n in enumerate(REPLICAS)},
    **{n: 20 + i for i, n in enumerate(CHUNKSERVERS)},
}
_PORT = {COORDINATOR: 2181, **dict.fromkeys(REPLICAS, 9000), **dict.fromkeys(CHUNKSERVERS, 9100)}
_SERVICE = {COORDINATOR: "zookeeper"}  # the compose service of a node named otherwise
_DATA_DIRS = ("/data", "/data2")  # a node's data directories in its container, in order
ENTRY = Path(__file__).with_name("container-entry.sh")


def _engine_unanswered() -> str | None:
    engine = None
    try:
        engine = docker.from_env(timeout=10)  # asks the engine's API version: may raise too
        engine.ping()
    except docker.errors.DockerException as err:
        return f"no Docker engine answers here ({err})"
    finally:
        if engine is not None:
            engine.close()
    return None


def docker_available() -> str | None:
    """None if a Docker engine and docker-compose answer here, else why not."""
    with warnings.catch_warnings():
        # The SDK leaves the socket of a refused connection for the collector, which would
        # warn inside whatever test runs next.
        warnings.simplefilter("ignore", ResourceWarning)
        why = _engine_unanswered()
        gc.collect()
    if why is not None:
        return why
    try:
        if run("docker-compose", "version", check=False).returncode != 0:
            return "`docker-compose version` fails"
    except FileNotFoundError:
        return "`docker-compose` is not installed"
    return None


class DockerFaults(FaultCluster):
    """deploy/docker-compose.yml (secure: the suite's client is its `admin`, the superuser)
    with tests/faults/compose.faults.yml over it."""

    kind = "docker"
    PROJECT_PREFIX = "pygfsfaults"

    def __init__(
        self,
        workdir: Path,
        image: str,
        net: str = "172.28.9",
        disk_bytes: int = DISK_BYTES,
        masters: int = len(REPLICAS),
    ) -> None:
        if masters != len(REPLICAS):
            raise Unsupported(f"the compose cluster runs {len(REPLICAS)} master replicas")
        super().__init__(workdir, disk_bytes, masters)
        self.image = image
        self.net = net
        self.project = f"{self.PROJECT_PREFIX}{os.getpid()}"
        self.network = f"{self.project}_gfs"
        self.cut_nodes: set[str] = set()  # containers with iptables rules of ours
        self.isolated: set[str] = set()  # disconnected from the network
        self.shaped: dict[str, str] = {}  # node -> its interface with a tbf qdisc
        # What the containers' entry script reads: each node's clock and disk faults (state),
        # and the script itself with the preload libraries built here (lib).
        self.state = workdir / "faults"
        self.state.mkdir(parents=True, exist_ok=True)
        self.disks = SickDisks(self.state)
        self.lib = workdir / "faults-lib"
        self.lib.mkdir(parents=True, exist_ok=True)
        for source, name in [
            (preload.build(fakeclock.CLOCKWAIT), "clockwait.so"),
            (preload.build(DISKFAULTS), "diskfaults.so"),
            (ENTRY, ENTRY.name),
        ]:
            shutil.copy2(source, self.lib / name)
        self.env = self._environment()
        self.engine = docker.from_env(timeout=120)
        tls = workdir / "tls"  # made by the compose file's `certs` service on the first `up`
        self.tls = TlsFiles(tls / "ca.pem", tls / "admin.pem", tls / "admin.key")

    def _environment(self) -> dict[str, str]:
        timing = {
            "GFS_" + k.upper().replace("-", "_"): str(v)
            for k, v in {**TIMING, **CHUNKSERVER_TIMING}.items()
        }
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GFS_IMAGE": self.image,
            "GFS_NET": self.net,
            "GFS_COORDINATOR_TIMEOUT": "3",  # a failover in about 4 s, as local replicas'
            "GFS_RESTART": "no",
            "GFS_FAULT_DATA": str(self.workdir),
            "GFS_FAULTS_LIB": str(self.lib),
            "GFS_TLS_DIR": str(self.workdir / "tls"),
            "GFS_UID": str(os.getuid()),
            "GFS_GID": str(os.getgid()),
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
        return f"{self.project}_{_SERVICE.get(node, node)}_1"

    def _container(self, node: str) -> Container:
        return self.engine.containers.get(self.container(node))

    def endpoint(self, node: str) -> Endpoint:
        return Endpoint(self.ip(node), _PORT[node])

    def ip(self, node: str) -> str:
        return f"{self.net}.{_SUFFIX[node]}" if node != CLIENT else f"{self.net}.1"

    @classmethod
    def remove_leftovers(cls) -> None:
        """Containers and networks of an earlier run that died before cleaning up."""
        engine = docker.from_env(timeout=120)
        label = "com.docker.compose.project"
        for found in engine.containers.list(all=True, filters={"label": label}):
            if found.labels.get(label, "").startswith(cls.PROJECT_PREFIX):
                found.remove(force=True, v=True)
        for net in engine.networks.list(names=[cls.PROJECT_PREFIX]):
            if net.name.startswith(cls.PROJECT_PREFIX):
                net.remove()

    def _start(self) -> None:
        self.compose("up", "-d")

    def _stop(self) -> None:
        # The servers' logs outlive the containers, next to the run's history.
        logs = self.compose("logs", "--no-color", "--timestamps", check=False)
        (self.workdir / "compose.log").write_text(logs)
        self.compose("down", "-v", "-t", "3", "--remove-orphans", check=False)
        self.engine.close()

    def _kill(self, node: str) -> None:
        with contextlib.suppress(docker.errors.APIError):  # not running: killed already
            self._container(node).kill()

    def _start_node(self, node: str) -> None:
        """Starts the container and waits until its server answers (the master may still
        call it alive from before, and a checker would find its port closed)."""
        self._container(node).start()
        if node == COORDINATOR:
            self.wait_until(lambda: zookeeper.serving(self.address(node)), 60, "ZooKeeper serves")
            return
        channels = transport.Channels(self.tls)
        try:
            health = health_pb2_grpc.HealthStub(channels.get(self.address(node)))  # type: ignore[no-untyped-call]

            def serving() -> bool:
                answer = transport.call(
                    health.Check, health_pb2.HealthCheckRequest(), target=node, timeout=1
                )
                return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)

            self.wait_until(serving, 60, f"{node} serves again")
        finally:
            channels.close()

    def _set_clock(self, node: str, faketime: str) -> None:
        (self.state / f"{node}.clock").write_text(faketime)  # read at its next start

    def _sicken(self, node: str, directory: Path, fault: str) -> None:
        inside = self._inside(node, directory)
        if fault:
            self.disks.strike(node, inside, fault)
        else:
            self.disks.mend(node, inside)

    def _inside(self, node: str, path: Path) -> Path:
        """Where `path`, under one of `node`'s data directories here, is in its container."""
        for here, there in zip(self.data_dirs(node), _DATA_DIRS, strict=False):
            if path == here or here in path.parents:
                return Path(there) / path.relative_to(here)
        raise ValueError(f"{path} is in no data directory of {node}")

    def _signal_pause(self, node: str, pause: bool) -> None:
        container = self._container(node)
        with contextlib.suppress(docker.errors.APIError):  # not running, or done already
            container.pause() if pause else container.unpause()

    def _exec(self, node: str, *argv: str, check: bool = True) -> str:
        code, output = self._container(node).exec_run(list(argv))
        text = str(output.decode(errors="replace"))
        if check and code != 0:
            raise RuntimeError(f"{node}: {' '.join(argv)}: {text}")
        return text

    def _interface(self, node: str) -> str:
        """The container's interface on the cluster's network (eth0 at first; another name
        once it was disconnected and connected again)."""
        listing = self._exec(node, "ip", "-o", "-4", "addr", "show")
        ip = self.ip(node)
        return next(line.split()[1] for line in listing.splitlines() if f" {ip}/" in line)

    def _cut(self, src: str, dst: str) -> None:
        if src == CLIENT:  # the suite's client is this host: healed by host.heal()
            end = self.endpoint(dst)
            self.host.drop(CLIENT, end.ip, end.port)
        else:
            self._exec(src, "iptables", "-A", "OUTPUT", "-d", self.ip(dst), "-j", "DROP")
            self.cut_nodes.add(src)

    def isolate(self, node: str) -> None:
        """`docker network disconnect`: the container loses its only network."""
        self.isolated.add(node)
        self.engine.networks.get(self.network).disconnect(self.container(node), force=True)

    def lossy(self, node: str, fraction: float) -> None:
        self.cut_nodes.add(node)
        for chain in ("OUTPUT", "INPUT"):
            self._exec(node, "iptables", "-A", chain, "-m", "statistic", "--mode", "random",
                       "--probability", str(fraction), "-j", "DROP")  # fmt: skip

    def slow(self, nodes: list[str], rate: str) -> None:
        for node in nodes:
            dev = self.shaped[node] = self._interface(node)
            self._exec(node, "tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", rate,
                       "burst", "32kbit", "latency", "400ms")  # fmt: skip

    def _heal_network(self) -> None:
        self.host.heal()
        network = self.engine.networks.get(self.network) if self.isolated else None
        for node in sorted(self.isolated):
            assert network is not None
            with contextlib.suppress(docker.errors.APIError):  # connected again already
                network.connect(self.container(node), ipv4_address=self.ip(node))
        for node in sorted(self.cut_nodes):
            self._exec(node, "iptables", "-F", "OUTPUT", check=False)
            self._exec(node, "iptables", "-F", "INPUT", check=False)
        for node, dev in sorted(self.shaped.items()):
            self._exec(node, "tc", "qdisc", "del", "dev", dev, "root", check=False)
        self.isolated.clear()
        self.cut_nodes.clear()
        self.shaped.clear()
