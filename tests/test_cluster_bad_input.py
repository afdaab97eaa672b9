"""User mistakes and dead servers: one clear line on stderr, a non-zero exit, nothing lost."""

from __future__ import annotations

import io
import os
import socket
import threading
from pathlib import Path

import pytest

from client.client import Client
from client.localcluster import LocalCluster
from common import errors
from tests.conftest import SMALL_CHUNK, run_gfs, start_cluster


def assert_one_line_error(result, fragment: str) -> None:  # type: ignore[no-untyped-def]
    err = result.stderr.decode()
    assert result.returncode != 0, f"expected a failure, got exit 0 (stderr {err!r})"
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got: {err!r}"
    assert lines[0].startswith("gfs: ") and fragment in lines[0], lines[0]


@pytest.mark.cluster
def test_missing_remote_file(shared_cluster: LocalCluster, tmp_path: Path) -> None:
    result = run_gfs(shared_cluster.master_address, "get", "/no/such/file", str(tmp_path / "out"))
    assert_one_line_error(result, "no such file or directory: /no/such/file")
    assert not (tmp_path / "out").exists(), "a failed get leaves no local file behind"


@pytest.mark.cluster
def test_missing_local_file(shared_cluster: LocalCluster, tmp_path: Path) -> None:
    result = run_gfs(shared_cluster.master_address, "put", str(tmp_path / "absent"), "/x")
    assert_one_line_error(result, "cannot open local file")
    assert run_gfs(shared_cluster.master_address, "stat", "/x").returncode != 0


@pytest.mark.cluster
def test_existing_target_is_refused_and_left_intact(shared_cluster: LocalCluster) -> None:
    m = shared_cluster.master_address
    assert run_gfs(m, "put", "-", "/keep", stdin=b"original").returncode == 0
    assert_one_line_error(run_gfs(m, "put", "-", "/keep", stdin=b"other"), "already exists: /keep")
    assert run_gfs(m, "get", "/keep", "-").stdout == b"original"
    assert_one_line_error(run_gfs(m, "mkdir", "/keep"), "already exists")
    assert run_gfs(m, "put", "-", "/other", stdin=b"x").returncode == 0
    assert_one_line_error(run_gfs(m, "mv", "/other", "/keep"), "already exists")
    assert run_gfs(m, "get", "/keep", "-").stdout == b"original"


@pytest.mark.cluster
@pytest.mark.parametrize("bad", ["relative/path", "/a/../b", "/a/./b"])
def test_malformed_paths(shared_cluster: LocalCluster, bad: str) -> None:
    assert_one_line_error(
        run_gfs(shared_cluster.master_address, "put", "-", bad, stdin=b"x"), "path"
    )
    assert_one_line_error(run_gfs(shared_cluster.master_address, "ls", bad), "path")


@pytest.mark.cluster
def test_non_empty_directory_and_directory_as_file(shared_cluster: LocalCluster) -> None:
    m = shared_cluster.master_address
    assert run_gfs(m, "mkdir", "-p", "/full/dir").returncode == 0
    assert_one_line_error(run_gfs(m, "rm", "/full"), "not empty")
    assert_one_line_error(run_gfs(m, "get", "/full", "-"), "is a directory")
    assert_one_line_error(
        run_gfs(m, "write", "/full", "-", "--offset", "0", stdin=b"x"), "is a directory"
    )
    assert_one_line_error(
        run_gfs(m, "put", "-", "/nodir/f", stdin=b"x"), "parent directory does not exist"
    )


def test_master_down_gives_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_gfs(f"127.0.0.1:{port}", "ls", "/")
    assert_one_line_error(result, f"cannot reach master 127.0.0.1:{port}")
    (tmp_path / "f").write_bytes(b"x")
    assert_one_line_error(
        run_gfs(f"127.0.0.1:{port}", "put", str(tmp_path / "f"), "/f"), "cannot reach master"
    )


def test_bad_options_are_one_line_too() -> None:
    result = run_gfs("127.0.0.1:1", "write", "/f", "-", "--offset", "-5")
    assert_one_line_error(result, "offset")


@pytest.mark.cluster
def test_too_few_chunkservers_is_said_clearly(tmp_path: Path) -> None:
    cluster = start_cluster(tmp_path / "c", chunkservers=2, extra=["--min-replication=3"])
    try:
        result = run_gfs(cluster.master_address, "put", "-", "/f", stdin=b"data")
        assert_one_line_error(
            result, "only 2 chunkserver(s) alive; a new chunk needs at least 3 (replication 3,"
        )
        assert run_gfs(cluster.master_address, "stat", "/f").returncode != 0, (
            "no half-made file left"
        )
        # A client that knows the chunk size asks for the first chunk with the file: the file
        # is made without it, and the lookup that follows says why; nothing is left either.
        with Client(cluster.master_address, timeout=10) as gfs:
            gfs.create("/learns-the-chunk-size")
            with pytest.raises(errors.FailedPrecondition, match="only 2 chunkserver"):
                gfs.put(io.BytesIO(b"data"), "/g")
            assert not gfs.exists("/g")
    finally:
        cluster.stop()


@pytest.mark.cluster
def test_a_chunkserver_killed_mid_read_does_not_fail_the_read(
    own_cluster: LocalCluster, replicas_in_order: None
) -> None:
    data = os.urandom(6 * SMALL_CHUNK)
    with Client(own_cluster.master_address, timeout=10) as gfs:
        gfs.put(io.BytesIO(data), "/midread")
        first = sorted(gfs.stat("/midread").chunks[0].replicas)[0]  # where the reader starts
        victim = next(p for p in own_cluster.servers if p.address == first)

        class KillAfterFirstChunk(io.BytesIO):
            killed = threading.Event()

            def write(self, b) -> int:  # type: ignore[no-untyped-def, override]
                if self.tell() >= SMALL_CHUNK and not self.killed.is_set():
                    own_cluster.kill(victim)
                    self.killed.set()
                return super().write(b)

        out = KillAfterFirstChunk()
        gfs.get("/midread", out)
        assert out.killed.is_set()
        assert out.getvalue() == data


@pytest.mark.cluster
def test_every_replica_down_is_a_clear_error_and_data_returns_with_them(
    own_cluster: LocalCluster, tmp_path: Path
) -> None:
    m = own_cluster.master_address
    assert run_gfs(m, "put", "-", "/f", stdin=b"precious").returncode == 0
    for proc in own_cluster.servers:
        own_cluster.kill(proc)
    result = run_gfs(m, "get", "/f", str(tmp_path / "out"), timeout=60)
    assert_one_line_error(result, "could not be read from any replica")
    for proc in own_cluster.servers:
        own_cluster.restart(proc)
    own_cluster.wait_for_chunkservers(3)
    # The restarted servers report their replicas; the data is all there.
    import time

    deadline = time.monotonic() + 10
    while True:
        got = run_gfs(m, "get", "/f", "-")
        if got.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert got.stdout == b"precious", got.stderr


@pytest.mark.cluster
def test_a_clean_master_restart_finds_namespace_and_data(own_cluster: LocalCluster) -> None:
    m = own_cluster.master_address
    data = os.urandom(2 * SMALL_CHUNK + 5)
    assert run_gfs(m, "mkdir", "-p", "/keep/me").returncode == 0
    assert run_gfs(m, "put", "-", "/keep/me/f", stdin=data).returncode == 0
    assert own_cluster.master is not None
    own_cluster.restart(own_cluster.master)
    assert own_cluster.master_address == m, "the master comes back on its address"
    own_cluster.wait_for_chunkservers(3)
    assert run_gfs(m, "ls", "/keep/me").stdout.split() == [b"/keep/me/f"]
    got = run_gfs(m, "get", "/keep/me/f", "-")
    assert got.returncode == 0, got.stderr
    assert got.stdout == data


def test_library_errors_are_gfs_errors_never_grpc(tmp_path: Path) -> None:
    with Client("127.0.0.1:1", timeout=2) as gfs, pytest.raises(errors.Unavailable):
        gfs.ls("/")
