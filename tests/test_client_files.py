"""`Client.open` file objects against a real cluster, checked against the same bytes in
memory: random seeks and read sizes across chunk boundaries, writes of any size, appends,
text mode, and the builtin errors open() would raise."""

from __future__ import annotations

import io
import os
import random
import shutil

import pytest

from client.client import Client
from client.localcluster import LocalCluster
from tests.conftest import SMALL_CHUNK

pytestmark = pytest.mark.cluster


def test_reads_and_seeks_anywhere_match_the_bytes(shared_cluster: LocalCluster) -> None:
    data = os.urandom(3 * SMALL_CHUNK + 12345)
    rng = random.Random(7)
    with Client(shared_cluster.master_address) as gfs:
        gfs.mkdir("/files", parents=True)
        with gfs.open("/files/random.bin", "xb") as f:
            pos = 0
            while pos < len(data):  # writes of every size, some across chunk boundaries
                step = rng.choice([1, 100, 65536, SMALL_CHUNK - 1, SMALL_CHUNK + 7])
                assert f.write(data[pos : pos + step]) == len(data[pos : pos + step])
                pos += step
            assert f.tell() == len(data)
        with gfs.open("/files/random.bin") as f:
            assert f.readable() and f.seekable() and not f.writable()
            for _ in range(200):
                where = rng.randrange(len(data) + 10)
                size = rng.choice([0, 1, 4096, SMALL_CHUNK, 2 * SMALL_CHUNK + 3])
                assert f.seek(where) == where
                assert f.read(size) == data[where : where + size]
                assert f.tell() == min(len(data), where + size) if where < len(data) else where
            f.seek(-10, io.SEEK_END)
            buffer = bytearray(100)
            assert f.readinto(buffer) == 10 and bytes(buffer[:10]) == data[-10:]
            f.seek(0)
            assert f.read() == data
            assert f.read() == b""
        with pytest.raises(ValueError):
            f.read(1)
        copy = io.BytesIO()
        with gfs.open("/files/random.bin", "rb") as f:
            shutil.copyfileobj(f, copy, 1 << 20)
        assert copy.getvalue() == data


def test_append_replace_exclusive_and_text(shared_cluster: LocalCluster) -> None:
    with Client(shared_cluster.master_address) as gfs:
        gfs.mkdir("/files", parents=True)
        with gfs.open("/files/log.txt", "w") as f:
            f.write("one\n")
        with gfs.open("/files/log.txt", "a") as f:
            f.write("two\nthree\n")
        with gfs.open("/files/log.txt", "r") as f:
            assert list(f) == ["one\n", "two\n", "three\n"]
        with pytest.raises(FileExistsError):
            gfs.open("/files/log.txt", "x")
        with gfs.open("/files/log.txt", "wb") as f:
            f.write(b"replaced")
        with gfs.open("/files/log.txt", "rb") as f:
            assert f.read() == b"replaced"
        with pytest.raises(FileNotFoundError):
            gfs.open("/files/none", "rb")
        with pytest.raises(IsADirectoryError):
            gfs.open("/files", "rb")
        with pytest.raises(ValueError, match="invalid mode"):
            gfs.open("/files/log.txt", "r+b")


def test_a_reader_sees_the_file_as_opened_and_a_flush_shows_written_bytes(
    shared_cluster: LocalCluster,
) -> None:
    with Client(shared_cluster.master_address) as gfs:
        gfs.mkdir("/files", parents=True)
        writer = gfs.open("/files/growing", "wb")
        writer.write(b"a" * 1000)
        writer.flush()
        before = gfs.open("/files/growing", "rb")
        writer.write(b"b" * (SMALL_CHUNK + 5))
        writer.close()
        assert before.read() == b"a" * 1000, "its length as it was opened"
        with gfs.open("/files/growing", "rb") as after:
            assert after.read() == b"a" * 1000 + b"b" * (SMALL_CHUNK + 5)
        assert gfs.stat("/files/growing").size == 1000 + SMALL_CHUNK + 5
