"""A master and N chunkservers as local processes on loopback: what `gfs cluster up` runs and
what the cluster tests start. Servers are spawned as `python -m client.cli ...`, so nothing here
imports the servers; each prints its address on its first stdout line once it serves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from client import zookeeper
from common import certs, errors, transport
from common.launching import EXIT_WITH_PARENT
from common.tls import TlsFiles
from protos import master_pb2


@dataclass
class Process:
    name: str
    args: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    address: str = ""
    env: dict[str, str] = field(default_factory=dict)  # added to ours when it (re)starts

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


def _read_address(proc: subprocess.Popen[bytes], name: str, log_path: Path, timeout: float) -> str:
    """The address from the first stdout line ('... serving on ADDR')."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    os.set_blocking(proc.stdout.fileno(), False)
    buf = b""
    while time.monotonic() < deadline:
        chunk = proc.stdout.read()
        if chunk:
            buf += chunk
            if b"\n" in buf:
                return buf.split(b"\n", 1)[0].decode().rsplit(" ", 1)[-1]
        if proc.poll() is not None:
            tail = (
                log_path.read_text(errors="replace").strip().splitlines()[-1:]
                if log_path.exists()
                else []
            )
            raise errors.Unavailable(f"{name} exited with {proc.returncode}: {' '.join(tail)}")
        time.sleep(0.02)
    raise errors.Unavailable(f"{name} did not start within {timeout:.0f}s (log: {log_path})")


HOME = "/user/client"  # the home of user `client` on a secure cluster


@dataclass
class LocalCluster:
    data_dir: Path
    chunkservers: int = 3
    port: int = 0
    master_args: list[str] = field(default_factory=list)
    racks: list[str] = field(default_factory=list)  # one per chunkserver; default: all "default"
    with_shadow: bool = False  # also run a shadow master
    chunkserver_args: list[str] = field(default_factory=list)
    start_timeout: float = 30.0
    # Mutual TLS: a CA and certificates under <data_dir>/tls (made once, found again), every
    # process run with its own; `admin` (the superuser) and `client` (a user) for clients. The
    # root is the superuser's, so `client` is given a home (HOME) and everyone /tmp (0777).
    secure: bool = False
    # Secure only: chunkservers also serve reads in clear, each proved by its token (as HDFS
    # moves block data unencrypted unless asked); False: every read over TLS.
    plain_reads: bool = True
    http: bool = False  # every server also serves /metrics and /healthz (on a free port)
    data_dirs: int = 1  # per chunkserver: cs{i}, then cs{i}-disk1, cs{i}-disk2, ...
    # Master replicas: above 1, each a `gfs master --coordinator` (one elected active, the
    # others standbys) under master{i}, with a ZooKeeper of their own as the coordinator.
    masters: int = 1
    master: Process | None = None  # the lone master (masters == 1)
    replicas: list[Process] = field(default_factory=list)  # or the replicas
    coordinator: Process | None = None  # their ZooKeeper
    shadow: Process | None = None
    servers: list[Process] = field(default_factory=list)

    @property
    def master_address(self) -> str:
        """The master's address; of several replicas, all of them: "A,B,C"."""
        if self.replicas:
            return ",".join(p.address for p in self.replicas)
        assert self.master is not None and self.master.address
        return self.master.address

    def active_master(self, timeout: float = 30.0) -> Process:
        """The replica serving as the active master (waiting for an election if need be)."""
        deadline = time.monotonic() + timeout
        channels = transport.Channels(self.tls_for("admin", "admin"))
        try:
            while True:
                for proc in self.replicas:
                    if proc.running and self._role(channels, proc.address) == "master":
                        return proc
                if time.monotonic() > deadline:
                    raise errors.Unavailable(f"no active master within {timeout:g}s")
                time.sleep(0.1)
        finally:
            channels.close()

    @staticmethod
    def _role(channels: transport.Channels, address: str) -> str:
        try:
            report = transport.call(
                channels.master(address).Report, master_pb2.Empty(), target=address, timeout=2
            )
        except errors.GfsError:
            return ""
        return str(report.role)

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"

    def tls_for(self, name: str, role: str = "user") -> TlsFiles | None:
        """The TLS files of identity `name` (issued with `role` if new); None if insecure."""
        if not self.secure:
            return None
        if not (self.tls_dir / certs.CA_KEY).exists():
            certs.init_ca(self.tls_dir)
        issued = certs.Issued(self.tls_dir / f"{name}.pem", self.tls_dir / f"{name}.key")
        if not (issued.cert.exists() and issued.key.exists()):
            hosts = ["127.0.0.1", "localhost"] if role in certs.SERVER_ROLES else []
            issued = certs.issue(self.tls_dir, name, role, hosts)
        return TlsFiles(self.tls_dir / certs.CA_CERT, issued.cert, issued.key)

    def _http_args(self) -> list[str]:
        return ["--http", "127.0.0.1:0"] if self.http else []

    def _tls_args(self, name: str, role: str) -> list[str]:
        files = self.tls_for(name, role)
        if files is None:
            return []
        return [
            "--tls-ca",
            str(files.ca),
            "--tls-cert",
            str(files.cert),
            "--tls-key",
            str(files.key),
        ]

    def command(self, proc: Process) -> list[str]:
        """The command line that runs `proc` (the fault suite wraps it to place the process):
        `gfs ARGS`, or the coordinator's own."""
        if proc is self.coordinator:
            return proc.args
        return [sys.executable, "-m", "client.cli", *proc.args]

    def _spawn(self, proc: Process) -> None:
        proc.log_path.parent.mkdir(parents=True, exist_ok=True)
        log: IO[bytes] = open(proc.log_path, "ab")  # noqa: SIM115 - owned by the child
        proc.popen = subprocess.Popen(
            self.command(proc),
            env={**os.environ, **proc.env, EXIT_WITH_PARENT: "1"},
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        proc.address = _read_address(proc.popen, proc.name, proc.log_path, self.start_timeout)
        # A restart comes back on the same address, as a restarted machine would.
        listen = proc.args.index("--listen") + 1
        if proc.args[listen].endswith(":0"):
            proc.args[listen] = proc.address

    def start(self) -> None:
        if self.masters > 1:
            self._start_replicas()
        else:
            self._start_master(f"127.0.0.1:{self.port}")
        for i in range(self.chunkservers):
            rack = self.racks[i] if i < len(self.racks) else "default"
            self.servers.append(self._chunkserver(i, rack))
        for proc in self.servers:
            self._spawn(proc)
        self.wait_for_chunkservers(self.chunkservers)
        if self.secure:
            self._make_homes()
        if self.with_shadow:
            self.start_shadow()

    def _master_process(self, name: str, listen: str, data: str, extra: list[str]) -> Process:
        return Process(
            name,
            [
                "master",
                "--listen",
                listen,
                "--data-dir",
                str(self.data_dir / data),
                *extra,
                *self._tls_args("master", "master"),
                *self._http_args(),
                *self.master_args,
            ],
            self.data_dir / "logs" / f"{data}.log",
        )

    def _start_replicas(self) -> None:
        """ZooKeeper, then the replicas; returns once one of them is active."""
        self.coordinator = Process(
            "coordinator",
            zookeeper.command(zookeeper.free_port(), self.data_dir / "coordinator"),
            self.data_dir / "logs" / "coordinator.log",
        )
        self._start_coordinator()
        for i in range(self.masters):
            port = self.port + i if self.port else zookeeper.free_port()
            extra = [
                "--coordinator",
                self.coordinator.address,
                "--master-replicas",
                str(self.masters),
            ]
            self.replicas.append(
                self._master_process(f"master {i}", f"127.0.0.1:{port}", f"master{i}", extra)
            )
        self.tls_for("admin", "admin")
        self.tls_for("client")
        for proc in self.replicas:
            self._spawn(proc)
        self.active_master(self.start_timeout)

    def _start_coordinator(self) -> None:
        proc = self.coordinator
        assert proc is not None
        port = proc.args[proc.args.index("org.apache.zookeeper.server.ZooKeeperServerMain") + 1]
        proc.address = f"127.0.0.1:{port}"
        proc.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(proc.log_path, "ab") as log:
            proc.popen = subprocess.Popen(
                self.command(proc),
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        zookeeper.wait_serving(proc.address, self.start_timeout)

    def _start_master(self, listen: str) -> None:
        self.master = self._master_process("master", listen, "master", [])
        self.tls_for("admin", "admin")  # the superuser and a user, for clients
        self.tls_for("client")
        self._spawn(self.master)

    def _make_homes(self) -> None:
        """What an HDFS administrator does first: a home for each user, a /tmp for all."""
        from client.client import Client

        with Client(self.master_address, timeout=10, tls=self.tls_for("admin", "admin")) as admin:
            admin.mkdir(HOME, parents=True)
            admin.chown(HOME, "client", "client")
            admin.mkdir("/tmp", parents=True)
            admin.chmod("/tmp", 0o777)

    def _chunkserver(self, i: int, rack: str) -> Process:
        port = self.port + self.masters + i if self.port else 0
        return Process(
            f"chunkserver {i}",
            [
                "chunkserver",
                "--listen",
                f"127.0.0.1:{port}",
                "--master",
                self.master_address,
                *[arg for d in self.chunkserver_dirs(i) for arg in ("--data-dir", str(d))],
                "--rack",
                rack,
                *self._tls_args(f"cs{i}", "chunkserver"),
                *(["--plain-reads", "127.0.0.1:0"] if self.secure and self.plain_reads else []),
                *self._http_args(),
                *self.chunkserver_args,
            ],
            self.data_dir / "logs" / f"cs{i}.log",
        )

    def chunkserver_dirs(self, i: int) -> list[Path]:
        """The data directories of chunkserver `i`."""
        first = self.data_dir / f"cs{i}"
        return [first, *(self.data_dir / f"cs{i}-disk{j}" for j in range(1, self.data_dirs))]

    def add_chunkserver(self, rack: str = "default") -> Process:
        """One more chunkserver, registered with the master when this returns."""
        proc = self._chunkserver(len(self.servers), rack)
        self.servers.append(proc)
        self._spawn(proc)
        self.wait_for_chunkservers(len(self.servers))
        return proc

    def start_shadow(self) -> Process:
        """A shadow master following this cluster's master."""
        self.shadow = Process(
            "shadow",
            [
                "shadow",
                "--listen",
                "127.0.0.1:0",
                "--master",
                self.master_address,
                "--data-dir",
                str(self.data_dir / "shadow"),
                *self._tls_args("shadow", "shadow"),
                *self._http_args(),
                *self.master_args,
            ],
            self.data_dir / "logs" / "shadow.log",
        )
        self._spawn(self.shadow)
        return self.shadow

    def alive_chunkservers(self) -> list[str]:
        channels = transport.Channels(self.tls_for("admin", "admin"))
        address = self.active_master().address if self.replicas else self.master_address
        try:
            report = transport.call(
                channels.master(address).Report,
                master_pb2.Empty(),
                target=f"master {address}",
                timeout=5,
            )
        finally:
            channels.close()
        return [s.address for s in report.chunkservers if s.state == "alive"]

    def wait_for_chunkservers(self, count: int, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or self.start_timeout)
        while True:
            try:
                if len(self.alive_chunkservers()) >= count:
                    return
            except errors.Unavailable:
                pass
            if time.monotonic() > deadline:
                raise errors.Unavailable(f"fewer than {count} chunkservers registered in time")
            time.sleep(0.05)

    @staticmethod
    def _reap(proc: Process, timeout: float) -> None:
        """Waits for the process (SIGKILL after `timeout`) and closes its pipe."""
        if proc.popen is None:
            return
        try:
            proc.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            proc.popen.wait()
        if proc.popen.stdout is not None:
            proc.popen.stdout.close()

    def kill(self, proc: Process) -> None:
        """SIGKILL, as a crash would."""
        if proc.popen is not None and proc.running:
            proc.popen.kill()
        self._reap(proc, timeout=10)

    def stop_one(self, proc: Process) -> None:
        """SIGTERM, as an operator would stop it."""
        if proc.popen is not None and proc.running:
            proc.popen.send_signal(signal.SIGTERM)
        self._reap(proc, timeout=10)

    def restart(self, proc: Process) -> None:
        self.kill(proc)
        if proc is self.coordinator:
            self._start_coordinator()
        else:
            self._spawn(proc)

    def stop(self) -> None:
        servers = [
            *self.servers,
            *(p for p in (self.shadow, self.master) if p is not None),
            *self.replicas,
        ]
        # The coordinator last: the replicas let go of the election, not lose it.
        for procs in (servers, [self.coordinator] if self.coordinator is not None else []):
            for proc in procs:
                if proc.popen is not None and proc.running:
                    proc.popen.send_signal(signal.SIGTERM)
            for proc in procs:
                self._reap(proc, timeout=10)
