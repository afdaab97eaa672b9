"""Servers that cannot step on each other: a port in use and a data directory in use are each
refused with one line (gRPC alone would share the port, and clients would reach either server
at random); `gfs cluster up` starts a server of its own again when it dies, and stops the
cluster with one line when one keeps dying."""

from __future__ import annotations

import io
import os
import re
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest

from client.client import Client
from client.localcluster import LocalCluster, Process
from client.supervision import Backoff, ClusterFailed, Supervisor
from common import errors
from tests.conftest import SMALL_CHUNK, run_gfs, wait_until
from tests.test_cluster_up import cluster_up, stop


def one_line(run_stderr: bytes) -> str:
    lines = run_stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.cluster
def test_a_busy_port_and_a_data_directory_in_use_are_refused(
    shared_cluster: LocalCluster, tmp_path: Path
) -> None:
    master = shared_cluster.master_address
    busy = run_gfs(master, "master", "--listen", master, "--data-dir", str(tmp_path / "m"))
    assert busy.returncode == 1
    assert one_line(busy.stderr) == (
        f"gfs: cannot listen on {master} for gRPC: the port is in use (another server?)"
    )
    held = shared_cluster.data_dir / "master"
    twice = run_gfs(master, "master", "--listen", "127.0.0.1:0", "--data-dir", str(held))
    assert twice.returncode == 1
    pid = shared_cluster.master.popen.pid  # type: ignore[union-attr]
    assert one_line(twice.stderr) == (
        f"gfs: data directory {held} is in use by another master (pid {pid})"
    )
    server = shared_cluster.servers[0]
    held = shared_cluster.data_dir / "cs0"
    again = run_gfs(master, "chunkserver", "--data-dir", str(held))
    assert again.returncode == 1
    assert "is in use by another chunkserver" in one_line(again.stderr)
    up = run_gfs(
        master, "cluster", "up", "--port", master.rsplit(":")[1], "--data-dir", str(tmp_path / "c")
    )
    assert up.returncode == 1 and "the port is in use" in one_line(up.stderr), up.stderr
    # Nothing was disturbed: the cluster still has its own three servers and serves.
    with Client(master) as gfs:
        assert sorted(s.address for s in gfs.report().chunkservers if s.state == "alive") == sorted(
            p.address for p in shared_cluster.servers
        )
        assert server.running


def said_until(proc: subprocess.Popen[bytes], text: str, timeout: float = 60) -> list[str]:
    """What `cluster up` prints from now until a line with `text`."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while not (lines and text in lines[-1]):
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"cluster up did not say {text!r} in {timeout:.0f}s: {lines}"
        line = proc.stdout.readline().decode()
        assert line, f"cluster up ended: {lines}"
        lines.append(line.strip())
    return lines


@pytest.mark.cluster
def test_cluster_up_starts_a_dead_chunkserver_again(tmp_path: Path) -> None:
    proc, master, _ = cluster_up(tmp_path / "data")
    try:
        pid = int((tmp_path / "data" / "cs1" / "in_use.lock").read_text())
        os.kill(pid, signal.SIGKILL)
        said = said_until(proc, "serving again on")
        assert said[0].startswith("chunkserver 1 (127.0.0.1:"), said
        assert "exited with code -9; starting it again in 1s (its log: " in said[0], said
        with Client(master) as gfs:
            wait_until(
                lambda: sum(s.state == "alive" for s in gfs.report().chunkservers) == 3,
                30,
                "the chunkserver is back",
            )
            gfs.put(io.BytesIO(os.urandom(SMALL_CHUNK)), "/after")
    finally:
        stop(proc)


class FlakyCluster:
    """A cluster whose one chunkserver has exited and never starts again."""

    def __init__(self, tmp_path: Path) -> None:
        self.master = self.coordinator = None
        self.replicas: list[Process] = []
        self.servers = [Process("chunkserver 0", [], tmp_path / "cs0.log", address="h:1")]
        self.restarts = 0

    def restart(self, proc: Process) -> None:
        self.restarts += 1
        raise errors.Unavailable("chunkserver 0 exited with 1: gfs: the disk is gone")


def test_a_server_that_keeps_dying_stops_the_cluster_with_one_line(tmp_path: Path) -> None:
    now = [0.0]
    said: list[str] = []
    flaky = FlakyCluster(tmp_path)
    supervisor = Supervisor(flaky, said.append, lambda: now[0])  # type: ignore[arg-type]
    with pytest.raises(ClusterFailed) as failed:
        for _ in range(200):
            supervisor.check()
            now[0] += 0.5
    assert flaky.restarts == Backoff.give_up
    waits = [int(re.findall(r"starting it again in (\d+)s", line)[0]) for line in said]
    assert waits == [1, 2, 4, 8, 16], said
    assert said[0].startswith("chunkserver 0 (h:1) exited with code None;")
    assert "did not start again (chunkserver 0 exited with 1: gfs: the disk is gone)" in said[-1]
    assert str(failed.value).startswith("chunkserver 0 (h:1) did not start again")
    assert "the 6th time in a row within a minute of starting: stopping the cluster" in str(
        failed.value
    )


def test_backoff_doubles_and_starts_over_after_a_steady_run() -> None:
    backoff = Backoff()
    assert [backoff.died(0.1) for _ in range(7)] == [1, 2, 4, 8, 16, None, None]
    assert Backoff(quick_deaths=4).died(ran_for=3600) == 1.0
