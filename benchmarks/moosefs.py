"""A MooseFS cluster on this host, for benchmarks/peer.py: Debian's MooseFS 3.0 (installed with
apt-get when missing), a master and chunkservers as processes of their own (own ports, own
directories under `base`, run as the package's `mfs` user) and a FUSE mount. Needs root (the
mount, the `mfs` user's directories). Durable settings as a careful operator would set them:
the master writes its change log synchronously (CHANGELOG_SAVE_MODE 2), chunkservers fsync a
chunk before closing it (HDD_FSYNC_BEFORE_CLOSE), nobody runs at a raised priority.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = ["moosefs-master", "moosefs-chunkserver", "moosefs-client", "moosefs-cli"]
EMPTY_METADATA = Path("/var/lib/mfs/metadata.mfs.empty")


def install() -> None:
    """Installs Debian's MooseFS packages if `mfsmaster` is missing."""
    if shutil.which("mfsmaster") and shutil.which("mfsmount") and shutil.which("mfscli"):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", *PACKAGES],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def host_address() -> str:
    """This host's own address: MooseFS refuses 127.0.0.1 as its master's."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # no packet is sent: only picks the outgoing interface
        address: str = s.getsockname()[0]
    if address.startswith("127."):
        raise RuntimeError("MooseFS needs an address other than loopback; this host has none")
    return address


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class MooseFS:
    base: Path
    chunkservers: int = 3
    goal: int = 3
    address: str = field(default_factory=host_address)
    mount: Path = field(init=False)
    ports: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.mount = self.base / "mnt"

    @property
    def client_port(self) -> int:
        return self.ports[2]

    def _config(self, name: str) -> Path:
        return self.base / name / ("mfsmaster.cfg" if name == "master" else "mfschunkserver.cfg")

    def _write_configs(self) -> None:
        self.ports = free_ports(3 + self.chunkservers)
        master = self.base / "master"
        master.mkdir(parents=True)
        shutil.copy(EMPTY_METADATA, master / "metadata.mfs")
        (master / "mfsexports.cfg").write_text("*  /  rw,alldirs,admin,maproot=0:0\n")
        (master / "mfstopology.cfg").write_text("")
        self._config("master").write_text(
            f"DATA_PATH = {master}\n"
            f"EXPORTS_FILENAME = {master / 'mfsexports.cfg'}\n"
            f"TOPOLOGY_FILENAME = {master / 'mfstopology.cfg'}\n"
            f"MATOML_LISTEN_PORT = {self.ports[0]}\n"
            f"MATOCS_LISTEN_PORT = {self.ports[1]}\n"
            f"MATOCL_LISTEN_PORT = {self.ports[2]}\n"
            "CHANGELOG_SAVE_MODE = 2\n"
            "NICE_LEVEL = 0\n"
            "SYSLOG_IDENT = pygfs-peer-mfsmaster\n"
        )
        for i in range(self.chunkservers):
            home = self.base / f"cs{i}"
            (home / "hdd").mkdir(parents=True)
            (home / "mfshdd.cfg").write_text(f"{home / 'hdd'}\n")
            self._config(f"cs{i}").write_text(
                f"DATA_PATH = {home}\n"
                f"HDD_CONF_FILENAME = {home / 'mfshdd.cfg'}\n"
                "HDD_FSYNC_BEFORE_CLOSE = 1\n"
                "HDD_LEAVE_SPACE_DEFAULT = 1GiB\n"
                "NICE_LEVEL = 0\n"
                f"MASTER_HOST = {self.address}\n"
                f"MASTER_PORT = {self.ports[1]}\n"
                f"CSSERV_LISTEN_PORT = {self.ports[3 + i]}\n"
                f"SYSLOG_IDENT = pygfs-peer-mfscs{i}\n"
            )
        self.mount.mkdir()
        subprocess.run(["chown", "-R", "mfs:mfs", str(self.base)], check=True)

    def start(self) -> None:
        self._write_configs()
        _quiet(["mfsmaster", "-c", str(self._config("master")), "start"])
        for i in range(self.chunkservers):
            _quiet(["mfschunkserver", "-c", str(self._config(f"cs{i}")), "start"])
        deadline = time.monotonic() + 60
        while self.registered() < self.chunkservers:
            if time.monotonic() > deadline:
                raise RuntimeError("MooseFS chunkservers did not register within 60 s")
            time.sleep(0.5)
        _quiet(["mfsmount", str(self.mount), "-H", self.address, "-P", str(self.client_port)])
        _quiet(["mfssetgoal", "-r", str(self.goal), str(self.mount)])
        _quiet(["mfssettrashtime", "-r", "0", str(self.mount)])  # a delete frees the space

    def registered(self) -> int:
        listed = subprocess.run(
            ["mfscli", "-H", self.address, "-P", str(self.client_port), "-SCS"],
            capture_output=True,
            text=True,
        )
        return sum(1 for line in listed.stdout.splitlines() if line.startswith("chunk servers:"))

    def pids(self) -> list[int]:
        """The master's and the chunkservers' processes (not the mount's: a client)."""
        found = []
        for name in ["master", *(f"cs{i}" for i in range(self.chunkservers))]:
            out = subprocess.run(
                ["pgrep", "-f", f"mfs.* -c {self._config(name)} "], capture_output=True, text=True
            ).stdout.split()
            found.extend(int(pid) for pid in out)
        if len(found) != 1 + self.chunkservers:
            raise RuntimeError(f"MooseFS processes not found: {found}")
        return found

    def fully_replicated(self, path: Path) -> bool:
        """Every chunk of `path` has `goal` valid copies (mfscheckfile's count)."""
        out = subprocess.run(
            ["mfscheckfile", str(path)], capture_output=True, text=True, check=True
        ).stdout
        counts = [line.split() for line in out.splitlines() if "chunks with" in line]
        return bool(counts) and all(words[2] == str(self.goal) for words in counts)

    def stop(self) -> None:
        subprocess.run(["umount", "-l", str(self.mount)], capture_output=True)
        for i in range(self.chunkservers):
            _quiet(["mfschunkserver", "-c", str(self._config(f"cs{i}")), "stop"], check=False)
        _quiet(["mfsmaster", "-c", str(self._config("master")), "stop"], check=False)


def _quiet(command: list[str], check: bool = True) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {(done.stderr or done.stdout).strip()}")
