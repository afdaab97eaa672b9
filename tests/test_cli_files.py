"""put, get, cat and touchz through the real `gfs` command, as `hdfs dfs` and cp behave: into a
directory, refusing to overwrite without -f, whole directories, patterns, and nothing left
behind by a put or get that fails or is interrupted."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from client.client import Client
from client.localcluster import LocalCluster
from tests.conftest import ROOT, SMALL_CHUNK, replica_path, run_gfs, wait_until

pytestmark = pytest.mark.cluster


def ok(result: subprocess.CompletedProcess[bytes]) -> bytes:
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def fails(result: subprocess.CompletedProcess[bytes], fragment: str) -> None:
    err = result.stderr.decode().strip()
    assert result.returncode != 0 and "\n" not in err and "Traceback" not in err, err
    assert err.startswith("gfs: ") and fragment in err, err


def names(master: str, path: str) -> list[str]:
    return ok(run_gfs(master, "ls", path)).decode().split()


def test_put_goes_into_a_directory_and_never_overwrites_without_f(
    shared_cluster: LocalCluster, tmp_path: Path
) -> None:
    m = shared_cluster.master_address
    local = tmp_path / "notes.txt"
    local.write_bytes(b"first")
    ok(run_gfs(m, "mkdir", "-p", "/put/dir"))
    ok(run_gfs(m, "put", str(local), "/put/dir"))
    ok(run_gfs(m, "put", str(local), "/put/dir/renamed.txt"))
    assert names(m, "/put/dir") == ["/put/dir/notes.txt", "/put/dir/renamed.txt"]
    fails(run_gfs(m, "put", str(local), "/put/dir/"), "already exists: /put/dir/notes.txt")
    fails(run_gfs(m, "put", str(local), "/put/dir/new/"), "no such directory: /put/dir/new")
    fails(run_gfs(m, "put", str(local), "/put/nodir/x"), "/put/nodir")
    assert names(m, "/put/dir") == ["/put/dir/notes.txt", "/put/dir/renamed.txt"]
    local.write_bytes(b"second, longer")
    ok(run_gfs(m, "put", "-f", str(local), "/put/dir/notes.txt"))
    assert ok(run_gfs(m, "cat", "/put/dir/notes.txt")) == b"second, longer"
    two = tmp_path / "two.txt"
    two.write_bytes(b"2")
    fails(run_gfs(m, "put", str(local), str(two), "/put/dir/renamed.txt"), "not a directory")
    ok(run_gfs(m, "put", "-f", str(local), str(two), "/put/dir"))
    assert ok(run_gfs(m, "cat", "/put/dir/two.txt", "/put/dir/notes.txt")) == b"2second, longer"
    assert not [n for n in names(m, "/put/dir") if n.endswith("._COPYING_")]


def test_get_refuses_an_existing_local_file_without_f_and_goes_into_a_directory(
    shared_cluster: LocalCluster, tmp_path: Path
) -> None:
    m = shared_cluster.master_address
    ok(run_gfs(m, "put", "-", "/get.bin", stdin=b"remote bytes"))
    mine = tmp_path / "mine.bin"
    mine.write_bytes(b"precious local")
    fails(run_gfs(m, "get", "/get.bin", str(mine)), f"local file exists: {mine}")
    assert mine.read_bytes() == b"precious local"
    ok(run_gfs(m, "get", "-f", "/get.bin", str(mine)))
    assert mine.read_bytes() == b"remote bytes"
    ok(run_gfs(m, "get", "/get.bin", str(tmp_path)))
    assert (tmp_path / "get.bin").read_bytes() == b"remote bytes"
    assert oct((tmp_path / "get.bin").stat().st_mode & 0o777) != oct(0o600), "as a new file"
    fails(run_gfs(m, "get", "/no-such", str(tmp_path / "x")), "/no-such")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["get.bin", "mine.bin"]


def test_directories_and_patterns_copy_whole_trees(
    shared_cluster: LocalCluster, tmp_path: Path
) -> None:
    m = shared_cluster.master_address
    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "top.log").write_bytes(b"top")
    (tree / "a" / "one.log").write_bytes(os.urandom(SMALL_CHUNK + 3))
    (tree / "a" / "b" / "two.txt").write_bytes(b"two")
    ok(run_gfs(m, "mkdir", "-p", "/trees"))
    ok(run_gfs(m, "put", str(tree), "/trees"))
    assert names(m, "/trees/tree/a") == ["/trees/tree/a/b/", "/trees/tree/a/one.log"]
    back = tmp_path / "back"
    ok(run_gfs(m, "get", "/trees/tree", str(back)))
    for path in tree.rglob("*"):
        twin = back / path.relative_to(tree)
        assert twin.is_dir() if path.is_dir() else twin.read_bytes() == path.read_bytes()
    logs = tmp_path / "logs"
    logs.mkdir()
    ok(run_gfs(m, "get", "/trees/tree/*.log", "/trees/tree/a/*.log", str(logs)))
    assert sorted(p.name for p in logs.iterdir()) == ["one.log", "top.log"]
    fails(run_gfs(m, "cat", "/trees/tree/*.csv"), "no such file or directory matches")
    assert ok(run_gfs(m, "cat", "/trees/tree/a/b/*")) == b"two"


def test_touchz_makes_empty_files_once(shared_cluster: LocalCluster) -> None:
    m = shared_cluster.master_address
    ok(run_gfs(m, "touchz", "/_SUCCESS", "/_DONE"))
    ok(run_gfs(m, "touchz", "/_SUCCESS"))  # already there and empty: fine
    assert ok(run_gfs(m, "cat", "/_SUCCESS")) == b""
    ok(run_gfs(m, "put", "-", "/touched-full", stdin=b"x"))
    fails(run_gfs(m, "touchz", "/touched-full"), "not an empty file: /touched-full")


def test_a_path_that_is_not_utf8_is_one_line(shared_cluster: LocalCluster) -> None:
    env = {**os.environ, "GFS_MASTER": shared_cluster.master_address}
    for argv in (["ls", b"/caf\xe9"], ["put", "-", b"/caf\xe9"], ["mkdir", b"/\xff\xfe"]):
        result = subprocess.run(
            [sys.executable, "-m", "client.cli", *argv],
            input=b"x",
            capture_output=True,
            env=env,
            cwd=ROOT,
            timeout=60,
        )
        fails(result, "path is not valid UTF-8")


def test_an_interrupted_put_leaves_nothing_not_even_in_the_trash(
    shared_cluster: LocalCluster,
) -> None:
    m = shared_cluster.master_address
    put = subprocess.Popen(
        [sys.executable, "-m", "client.cli", "--master", m, "put", "-", "/interrupted"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert put.stdin is not None and put.stderr is not None
    put.stdin.write(os.urandom(3 * SMALL_CHUNK))  # some chunks go out; it waits for more
    put.stdin.flush()
    with Client(m) as gfs:
        wait_until(lambda: gfs.exists("/interrupted._COPYING_"), 30, "the put has begun")
        put.send_signal(signal.SIGINT)
        assert put.wait(30) == 130
        assert put.stderr.read().decode().strip() == "gfs: interrupted"
        put.stdin.close()
        put.stderr.close()
        assert not gfs.exists("/interrupted") and not gfs.exists("/interrupted._COPYING_")
        trash = [e.path for e in gfs.ls("/.trash")] if gfs.exists("/.trash") else []
        assert not [p for p in trash if "interrupted" in p], trash


def test_a_failed_get_leaves_no_partial_local_file(
    own_cluster: LocalCluster, tmp_path: Path
) -> None:
    m = own_cluster.master_address
    data = os.urandom(2 * SMALL_CHUNK)
    ok(run_gfs(m, "put", "-", "/two-chunks", stdin=data))
    with Client(m) as gfs:
        second = gfs.stat("/two-chunks").chunks[1]
    for address in second.replicas:  # every copy of the second chunk damaged: a read fails
        path = replica_path(own_cluster, address, second.handle)
        raw = bytearray(path.read_bytes())
        raw[7] ^= 0xFF
        path.write_bytes(bytes(raw))
    target = tmp_path / "out" / "copy.bin"
    target.parent.mkdir()
    started = time.monotonic()
    fails(run_gfs(m, "get", "/two-chunks", str(target)), "chunk")
    assert time.monotonic() - started < 120
    assert list(target.parent.iterdir()) == [], "no partial file, no temporary file"


def test_the_librarys_errors_are_the_builtin_ones(shared_cluster: LocalCluster) -> None:
    """Ordinary code handles them without knowing pygfs."""
    with Client(shared_cluster.master_address) as gfs:
        gfs.mkdir("/builtin")
        gfs.create("/builtin/file")
        with pytest.raises(FileNotFoundError, match="/builtin/missing"):
            gfs.stat("/builtin/missing")
        with pytest.raises(FileExistsError):
            gfs.create("/builtin/file")
        with pytest.raises(IsADirectoryError):
            gfs.get("/builtin", io.BytesIO())
        with pytest.raises(NotADirectoryError):
            gfs.mkdir("/builtin/file/below")
        with pytest.raises(ValueError):
            gfs.stat("relative")


def test_an_interrupted_get_leaves_no_local_file(own_cluster: LocalCluster, tmp_path: Path) -> None:
    m = own_cluster.master_address
    ok(run_gfs(m, "put", "-", "/stalled", stdin=os.urandom(3 * SMALL_CHUNK)))
    for server in own_cluster.servers:  # every replica stalls: the get waits mid-way
        assert server.popen is not None
        server.popen.send_signal(signal.SIGSTOP)
    target = tmp_path / "out" / "copy.bin"
    target.parent.mkdir()
    try:
        get = subprocess.Popen(
            [sys.executable, "-m", "client.cli", "--master", m, "get", "/stalled", str(target)],
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        assert get.stderr is not None
        wait_until(lambda: any(target.parent.iterdir()), 30, "the get has begun writing")
        get.send_signal(signal.SIGINT)
        assert get.wait(30) == 130
        assert get.stderr.read().decode().strip() == "gfs: interrupted"
        get.stderr.close()
    finally:
        for server in own_cluster.servers:
            assert server.popen is not None
            server.popen.send_signal(signal.SIGCONT)
    assert list(target.parent.iterdir()) == [], "no partial file, no temporary file"
