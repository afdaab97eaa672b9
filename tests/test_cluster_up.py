"""`gfs cluster up` as a user runs it: serves, stops on SIGTERM, finds its files again."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from client.client import Client
from client.localcluster import LocalCluster
from common.tls import TlsFiles
from tests.conftest import ROOT, SMALL_CHUNK, needs_zookeeper, run_gfs


def cluster_up(data_dir: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str, list[str]]:
    """`gfs cluster up`, its master's address and the rest of what it printed, once it
    serves and waits for a signal."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "client.cli",
            "cluster",
            "up",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            f"--chunk-size={SMALL_CHUNK}",
            "--heartbeat-interval=0.2",
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    assert line.startswith("master serving on "), line + proc.stderr.read().decode()  # type: ignore[union-attr]
    return proc, line.split()[-1], told(proc)


def told(proc: subprocess.Popen[bytes]) -> list[str]:
    """What `cluster up` printed after its first line, up to its last ('... Ctrl-C stops the
    cluster'), after which it waits for a signal."""
    assert proc.stdout is not None
    lines: list[str] = []
    while not (lines and "Ctrl-C" in lines[-1]):
        line = proc.stdout.readline().decode()
        assert line, f"cluster up ended early: {lines}"
        lines.append(line)
    return lines


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def wait_readable(master: str, path: str, timeout: float = 15) -> bytes:
    deadline = time.monotonic() + timeout
    with Client(master, timeout=5) as gfs:
        while True:
            try:
                out = io.BytesIO()
                gfs.get(path, out)
                return out.getvalue()
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


@pytest.mark.cluster
def test_cluster_up_keeps_data_across_a_stop_and_start(tmp_path: Path) -> None:
    data = os.urandom(3 * SMALL_CHUNK + 77)
    proc, master, lines = cluster_up(tmp_path / "data")
    try:
        urls = [line for line in lines if "http://" in line]
        assert len(urls) == 1 + 3, lines  # the master's pages and each chunkserver's
        with Client(master) as gfs:
            gfs.mkdir("/kept", parents=True)
            gfs.put(io.BytesIO(data), "/kept/f")
    finally:
        stop(proc)
    proc, master, _ = cluster_up(tmp_path / "data")
    try:
        assert wait_readable(master, "/kept/f") == data
        with Client(master) as gfs:
            # One lease each (its grant raised version 1 to 2); the restart changed none.
            assert [c.version for c in gfs.stat("/kept/f").chunks] == [2, 2, 2, 2]
    finally:
        stop(proc)


def servers_under(data_dir: Path) -> list[int]:
    """The live (not zombie) processes whose command line names `data_dir`: a cluster's
    servers."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(data_dir).encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.mark.cluster
def test_a_cluster_whose_cluster_up_is_killed_stops_by_itself(tmp_path: Path) -> None:
    proc, _, _ = cluster_up(tmp_path / "data")
    servers = [pid for pid in servers_under(tmp_path / "data") if pid != proc.pid]
    assert len(servers) == 1 + 3, servers  # the master and the chunkservers
    proc.kill()  # no SIGTERM, no stopping in order: gone
    proc.wait(timeout=10)
    deadline = time.monotonic() + 30
    while servers_under(tmp_path / "data") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert servers_under(tmp_path / "data") == [], "servers went on without their cluster up"
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


@pytest.mark.cluster
def test_concurrent_creates_and_puts_in_one_directory_all_land(
    shared_cluster: LocalCluster,
) -> None:
    with Client(shared_cluster.master_address) as gfs:
        gfs.mkdir("/busy", parents=True)
        payloads = {f"/busy/f{i}": os.urandom(SMALL_CHUNK // 2 + i) for i in range(24)}
        failures: list[BaseException] = []

        def put(path: str) -> None:
            try:
                with Client(shared_cluster.master_address) as own:
                    own.put(io.BytesIO(payloads[path]), path)
            except BaseException as err:
                failures.append(err)

        threads = [threading.Thread(target=put, args=(p,)) for p in payloads]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert failures == []
        assert sorted(e.path for e in gfs.ls("/busy")) == sorted(payloads)
        handles = [c.handle for p in payloads for c in gfs.stat(p).chunks]
        assert len(handles) == len(set(handles)), "no chunk belongs to two files"
        for path, data in payloads.items():
            out = io.BytesIO()
            gfs.get(path, out)
            assert out.getvalue() == data


SECRET = "/user/client/secret"  # the home `cluster up --secure` gives user client


@pytest.mark.cluster
def test_a_secure_cluster_up_says_how_to_reach_it_and_finds_its_ca_again(tmp_path: Path) -> None:
    """`gfs cluster up --secure`: mutual TLS with certificates under <data-dir>/tls, the
    export lines for the user `client` printed; a second `up` keeps the same CA."""
    data = os.urandom(SMALL_CHUNK + 5)
    proc, master, lines = cluster_up(tmp_path / "data", "--secure")
    try:
        assert proc.stdout is not None
        exports = dict(
            part.split("=", 1)
            for line in lines
            for part in line.split()
            if part.startswith("GFS_TLS_")
        )
        assert set(exports) == {"GFS_TLS_CA", "GFS_TLS_CERT", "GFS_TLS_KEY"}, lines
        tls = TlsFiles.given(exports["GFS_TLS_CA"], exports["GFS_TLS_CERT"], exports["GFS_TLS_KEY"])
        assert tls is not None and tls.identity().name == "client"
        put = run_gfs(master, "put", "-", SECRET, stdin=data, env=exports)
        assert put.returncode == 0, put.stderr
        refused = run_gfs(master, "get", SECRET, "-")
        assert refused.returncode == 1 and b"socket closed" in refused.stderr
    finally:
        stop(proc)
    ca = (tmp_path / "data" / "tls" / "ca.pem").read_bytes()
    proc, master, lines = cluster_up(tmp_path / "data", "--secure")
    try:
        assert (tmp_path / "data" / "tls" / "ca.pem").read_bytes() == ca
        deadline = time.monotonic() + 15
        while (got := run_gfs(master, "get", SECRET, "-", env=exports)).returncode != 0:
            assert time.monotonic() < deadline, got.stderr
            time.sleep(0.2)
        assert got.stdout == data
    finally:
        stop(proc)


@pytest.mark.cluster
def test_cluster_up_with_three_masters_serves_through_the_active_one(tmp_path: Path) -> None:
    """--masters 3: ZooKeeper and three master replicas; the printed address is their list,
    which clients take; the report names each replica's role."""
    needs_zookeeper()
    data = os.urandom(SMALL_CHUNK + 5)
    proc, masters, lines = cluster_up(tmp_path / "data", "--masters", "3")
    try:
        assert len(masters.split(",")) == 3
        assert any("coordinator (ZooKeeper) on" in line for line in lines), lines
        with Client(masters) as gfs:
            gfs.put(io.BytesIO(data), "/f")
            out = io.BytesIO()
            gfs.get("/f", out)
            assert out.getvalue() == data
            roles = sorted(m["role"] for m in gfs.report().masters)
        assert roles == ["active", "standby", "standby"]
    finally:
        stop(proc)
