"""Tokens across a master restart on a secure cluster: the restarted master's keys are new,
so every token handed out before is refused by the chunkservers once they learn them. A
client holding such tokens (cached locations) asks the master again instead of failing, and
a primary's lease is extended with a token of the new key."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import pytest

from client.client import Client
from client.localcluster import HOME, LocalCluster
from tests.conftest import FAST_TIMING, SMALL_CHUNK, wait_until

pytestmark = pytest.mark.cluster


@pytest.fixture
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    local = LocalCluster(
        tmp_path_factory.mktemp("restart"),
        master_args=[f"--chunk-size={SMALL_CHUNK}", *FAST_TIMING, "--lease-seconds=2"],
        secure=True,
    )
    try:
        local.start()
        yield local
    finally:
        local.stop()


def test_a_client_and_a_primary_carry_on_across_a_master_restart(cluster: LocalCluster) -> None:
    path = f"{HOME}/kept"
    data = bytearray(os.urandom(2 * SMALL_CHUNK + 33))
    with Client(cluster.master_address, timeout=20, tls=cluster.tls_for("client")) as gfs:
        gfs.put(io.BytesIO(bytes(data)), path)
        assert gfs.read(path, 0, len(data)) == data
        gfs.write(path, 10, b"leased")  # its location is cached, with a write token
        data[10:16] = b"leased"
        cluster.restart(cluster.master)
        wait_until(lambda: len(cluster.alive_chunkservers()) == 3, 30, "chunkservers back")
        gfs.write(path, 20, b"again")  # with the cached token first: refused, then asked anew
        data[20:25] = b"again"
        assert gfs.read(path, 0, len(data)) == data
        for n in range(3):  # over several lease terms of the new master
            gfs.write(path, 100 + n, b"!")
            data[100 + n] = ord("!")
            gfs.append(path, b"record")
        assert gfs.read(path, 0, len(data)) == data
