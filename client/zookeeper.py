"""A ZooKeeper server as a local process, the coordinator of `gfs cluster up --masters N`
(and of the tests): Debian's `zookeeperd` package provides the jar, with a Java runtime."""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

from common import errors

# Where the jar and its configuration are (Debian's zookeeperd); GFS_ZOOKEEPER_CLASSPATH
# overrides it.
CLASSPATH = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"
# Sessions may be as short as two ticks: a replica's 5 s session is not raised to 6 s (the
# default tick, 3 s, allows nothing under 6).
TICK_MS = 1000


def missing() -> str | None:
    """Why ZooKeeper cannot run here (None: it can)."""
    classpath = os.environ.get("GFS_ZOOKEEPER_CLASSPATH", CLASSPATH)
    if shutil.which("java") is None:
        return "no Java runtime (apt-get install zookeeperd pulls one in)"
    jars = [p for p in classpath.split(":") if p.endswith(".jar")]
    if not jars or not all(Path(j).exists() for j in jars):
        return f"no ZooKeeper jar at {classpath} (apt-get install zookeeperd)"
    return None


def command(port: int, data_dir: Path) -> list[str]:
    """The command line of a standalone server on 127.0.0.1:`port` keeping `data_dir`."""
    reason = missing()
    if reason is not None:
        raise errors.FailedPrecondition(f"cannot run ZooKeeper: {reason}")
    return [
        str(shutil.which("java")),
        "-Xmx256m",
        "-cp",
        os.environ.get("GFS_ZOOKEEPER_CLASSPATH", CLASSPATH),
        "-Dzookeeper.admin.enableServer=false",
        "-Dzookeeper.4lw.commands.whitelist=ruok",
        "org.apache.zookeeper.server.ZooKeeperServerMain",
        str(port),
        str(data_dir),
        str(TICK_MS),
    ]


def serving(address: str) -> bool:
    """Whether the server at `address` says it is fine (its `ruok` command)."""
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1) as conn:
            conn.sendall(b"ruok")
            return conn.recv(4) == b"imok"
    except OSError:
        return False


def wait_serving(address: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not serving(address):
        if time.monotonic() > deadline:
            raise errors.Unavailable(f"ZooKeeper at {address} did not start within {timeout:g}s")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
