"""A container's network link shaped to a rate, both ways, as a full-duplex NIC on a
non-blocking switch: a token bucket (tbf) on the container's eth0 bounds what it sends, another
on its veth peer in the host bounds what it receives. Needs root on the host (nsenter, tc);
the container needs no capability. This kernel has tbf and htb but no netem (ENVIRONMENT.md)."""

from __future__ import annotations

import re
import subprocess


def sh(*cmd: str, env: dict[str, str] | None = None) -> str:
    """Runs a command; its output, or a RuntimeError naming it with the end of what it said."""
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        said = done.stderr.strip() or done.stdout.strip()
        raise RuntimeError(f"{' '.join(cmd)} failed: {said[-2000:]}")
    return done.stdout


def tbf(device: str, mbit: float, netns_pid: int | None = None) -> None:
    """Replaces `device`'s root qdisc by a token bucket of `mbit` (burst of a few packets at
    line rate, a 50 ms queue: TCP sees a link of that rate, not drops)."""
    prefix = ("nsenter", "-t", str(netns_pid), "-n") if netns_pid else ()
    burst = max(16_000, int(mbit * 1e6 / 8 / 250))  # enough for one timer tick at 250 Hz
    sh(*prefix, "tc", "qdisc", "replace", "dev", device, "root", "tbf",
         "rate", f"{mbit}mbit", "burst", str(burst), "latency", "50ms")  # fmt: skip


def host_peer(pid: int) -> str:
    """The host-side veth of the container whose process is `pid`."""
    link = sh("nsenter", "-t", str(pid), "-n", "ip", "-o", "link", "show", "eth0")
    match = re.search(r"eth0@if(\d+)", link)
    if not match:
        raise RuntimeError(f"no veth peer in {link!r}")
    index = match.group(1)
    for line in sh("ip", "-o", "link").splitlines():
        number, name = line.split(":")[:2]
        if number == index:
            return name.strip().split("@")[0]
    raise RuntimeError(f"no host link with index {index}")


def shape_container(container: str, mbit: float) -> None:
    pid = int(sh("docker", "inspect", "-f", "{{.State.Pid}}", container))
    tbf("eth0", mbit, netns_pid=pid)
    tbf(host_peer(pid), mbit)
