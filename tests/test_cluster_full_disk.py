"""A full disk: a clear one-line error, no half-written file, no replica claiming data it lacks,
and new chunks placed only where they fit. Chunkserver 0's data lives on a 3 MiB tmpfs."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from chunkserver.storage import ChunkStore
from client.localcluster import LocalCluster
from tests.conftest import FAST_TIMING, run_gfs, wait_until

pytestmark = pytest.mark.cluster
MiB = 1024 * 1024


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "c" / "cs0"
    mount_point.mkdir(parents=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount_point)], capture_output=True
    )
    if result.returncode != 0:
        reason = f"cannot mount a small tmpfs here: {result.stderr.decode().strip()}"
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI runs as root: a skip there would hide the test
        pytest.skip(reason)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_is_a_clear_error_and_leaves_nothing_half_there(
    tmp_path: Path, tiny_disk: Path
) -> None:
    # --min-replication=3: every new chunk needs all three servers, so the full one must be
    # refused for room (by default a chunk goes to the two with room, copied up later).
    master_args = [f"--chunk-size={MiB}", "--min-replication=3", *FAST_TIMING]
    cluster = LocalCluster(tmp_path / "c", chunkservers=3, master_args=master_args)
    try:
        cluster.start()
        m = cluster.master_address
        (tmp_path / "big").write_bytes(os.urandom(6 * MiB))
        result = run_gfs(m, "put", str(tmp_path / "big"), "/big")
        err = result.stderr.decode().strip()
        assert result.returncode != 0 and "\n" not in err and "Traceback" not in err, err
        assert "No space left on device" in err or "have room" in err, err
        assert run_gfs(m, "ls", "/").stdout == b"", "the half-written file was removed"

        # No push is left behind.
        wait_until(lambda: not list((tiny_disk / "spool").glob("*")), 10, "the spool is empty")

        # The disk stays full (the failed put's replicas are reclaimed meanwhile, and an
        # aborted push no longer leaves its spool file: without this the disk could have room
        # again before the master heard it was full).
        fd = os.open(tiny_disk / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, bytes(64 * 1024)):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)

        # Once the master has heard, a new chunk is refused clearly rather than half-placed.
        def refused() -> bool:
            r = run_gfs(m, "put", "-", "/small", stdin=b"x" * (2 * MiB))
            if r.returncode == 0:
                run_gfs(m, "rm", "/small")
                return False
            assert b"have room" in r.stderr or b"No space" in r.stderr, r.stderr
            return b"have room" in r.stderr

        wait_until(refused, 15, "new chunks are refused for lack of room")
    finally:
        cluster.stop()
    # Nothing on the full disk claims bytes it lacks. (Loaded once its server is stopped: a
    # store opened beside a live one races its deletions and takes its half-made files for a
    # crash's leftovers.)
    assert ChunkStore(tiny_disk / "chunks", 64 * MiB).corrupt == set()
