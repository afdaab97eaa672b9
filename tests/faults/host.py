"""What the fault suite does to this host, as root: cgroups that name a process for iptables,
a firewall chain of its own (cuts and random loss), htb on loopback and small tmpfs disks.
Everything made here is undone by `close()`; a feature the host lacks raises `Unsupported`
with the reason."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path


class Unsupported(Exception):
    """This host cannot inject the fault (not root, no cgroup v2, no iptables, ...)."""


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {result.stderr.strip() or result.stdout.strip()}")
    return result


def _cgroup2_mount() -> Path | None:
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[2] == "cgroup2":
            return Path(fields[1])
    return None


def _own_cgroup2() -> str:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return line[3:]
    return "/"


class Host:
    """One per cluster. `group(name)` is a cgroup; `drop(group, ip, port)` cuts the packets its
    processes send to ip:port; `heal()` lifts every cut."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.root = os.geteuid() == 0
        self.mount = _cgroup2_mount() if self.root else None
        self.base = f"pygfs-{tag}"
        self.chain = f"PYGFS-{tag}"[:28]
        self._chain_made = False
        self._client_home: str | None = None
        self.mounted: list[Path] = []

    # --- cgroups ----------------------------------------------------------------------------

    def _require_firewall(self) -> Path:
        if not self.root:
            raise Unsupported("partitions need root (iptables)")
        if self.mount is None:
            raise Unsupported("partitions need a cgroup v2 hierarchy (iptables -m cgroup)")
        return self.mount

    def group(self, name: str) -> Path | None:
        """The cgroup `name` (made if needed), or None where the host cannot have one."""
        if not self.root or self.mount is None:
            return None
        path = self.mount / self.base / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def enter(self, name: str) -> None:
        """Moves this process (the test's client) into the cgroup `name`: sockets it opens from
        now on can be cut. Left again by `close()`."""
        group = self.group(name)
        if group is None:
            return
        self._client_home = _own_cgroup2()
        (group / "cgroup.procs").write_text(str(os.getpid()))

    def _ensure_chain(self) -> None:
        if not self._chain_made:
            run("iptables", "-N", self.chain)
            run("iptables", "-I", "OUTPUT", "-j", self.chain)
            self._chain_made = True

    # --- firewall ---------------------------------------------------------------------------

    def drop(self, group: str, ip: str, port: int) -> None:
        """Drops the packets that processes of cgroup `group` send to ip:port."""
        self._require_firewall()
        self._ensure_chain()
        run(
            "iptables", "-A", self.chain, "-p", "tcp", "-m", "cgroup",
            "--path", f"{self.base}/{group}", "-d", ip, "--dport", str(port), "-j", "DROP",
        )  # fmt: skip

    def drop_randomly(self, port: int, fraction: float) -> None:
        """Drops `fraction` of the packets from or to `port`, at random (this kernel has no
        netem; iptables' statistic match loses packets just as well)."""
        self._require_firewall()
        self._ensure_chain()
        for field in ("--dport", "--sport"):
            run("iptables", "-A", self.chain, "-p", "tcp", field, str(port), "-m", "statistic",
                "--mode", "random", "--probability", str(fraction), "-j", "DROP")  # fmt: skip

    # --- slow links on loopback -----------------------------------------------------------------

    def slow_loopback(self, ports: list[int], rate: str) -> None:
        """Packets from or to any of `ports` share one link of `rate` (htb; tbf-like queueing
        delay), the rest of loopback stays as it was."""
        if not self.root:
            raise Unsupported("shaping needs root (tc)")
        self.unshape_loopback()
        run("tc", "qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "10")
        run("tc", "class", "add", "dev", "lo", "parent", "1:", "classid", "1:10", "htb", "rate",
            "100gbit")  # fmt: skip
        run("tc", "class", "add", "dev", "lo", "parent", "1:", "classid", "1:20", "htb", "rate",
            rate, "ceil", rate)  # fmt: skip
        for port in ports:
            for field in ("sport", "dport"):
                run("tc", "filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio",
                    "1", "u32", "match", "ip", field, str(port), "0xffff", "flowid",
                    "1:20")  # fmt: skip

    def unshape_loopback(self) -> None:
        # Unconditionally: a run that was killed mid-scenario leaves its qdisc on `lo`, and the
        # next `tc qdisc add ... root` would fail on it ("File exists").
        run("tc", "qdisc", "del", "dev", "lo", "root", check=False)

    # --- small disks --------------------------------------------------------------------------

    def small_disk(self, path: Path, size: int) -> bool:
        """Mounts a tmpfs of `size` bytes at `path`; False where this host cannot."""
        path.mkdir(parents=True, exist_ok=True)
        if not self.root:
            return False
        mount = run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path), check=False)
        if mount.returncode:
            return False
        self.mounted.append(path)
        return True

    def remount(self, path: Path, read_only: bool) -> None:
        """Remounts a tmpfs of ours read-only or read-write again (every view of it: the
        superblock's flag, so a container's bind mount too)."""
        assert path in self.mounted, path
        argv = ("mount", "-o", "remount," + ("ro" if read_only else "rw"), str(path))
        for _ in range(400):  # read-only is refused while a file there is open for writing
            if run(*argv, check=False).returncode == 0:
                return
            time.sleep(0.05)
        run(*argv)

    # --- all of it ------------------------------------------------------------------------------

    def heal(self) -> None:
        if self._chain_made:
            run("iptables", "-F", self.chain, check=False)
        self.unshape_loopback()

    def close(self) -> None:
        self.heal()
        if self._chain_made:
            run("iptables", "-D", "OUTPUT", "-j", self.chain, check=False)
            run("iptables", "-X", self.chain, check=False)
            self._chain_made = False
        if self._client_home is not None and self.mount is not None:
            home = self.mount / self._client_home.lstrip("/") / "cgroup.procs"
            home.write_text(str(os.getpid()))
            self._client_home = None
        if self.mount is not None and (self.mount / self.base).exists():
            for group in [*(self.mount / self.base).iterdir(), self.mount / self.base]:
                if group.is_dir():
                    # A process not yet reaped keeps it; an empty group is harmless.
                    with contextlib.suppress(OSError):
                        group.rmdir()
        for path in reversed(self.mounted):
            run("umount", "-l", str(path), check=False)
        self.mounted.clear()
