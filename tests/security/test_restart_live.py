"""Tokens across a master restart on a secure cluster: the restarted master's keys are new,
so every token handed out before is refused by the chunkservers once they learn them. A
client holding such tokens (cached locations) asks the master again instead of failing, and
a primary's lease is extended with a token of the new key. And tokens signed on a clock set
an hour wrong, a master's or a shadow's, which the chunkservers judge by the master's clock."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import pytest

from client.client import Client
from client.localcluster import HOME, LocalCluster
from tests.conftest import FAST_TIMING, SMALL_CHUNK, shadow_shows, wait_until
from tests.faults import fakeclock

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


def test_a_master_restarted_an_hour_behind_signs_tokens_the_chunkservers_take(
    cluster: LocalCluster,
) -> None:
    """Every end a master writes into a token is a time of its own clock: an hour behind, each
    token it signs ended long ago by the chunkservers' clocks. They judge token ends by the
    master's clock instead (its time comes with its keys), so writes go on."""
    path = f"{HOME}/late"
    data = bytearray(os.urandom(SMALL_CHUNK + 7))
    with Client(cluster.master_address, timeout=20, tls=cluster.tls_for("client")) as gfs:
        gfs.put(io.BytesIO(bytes(data)), path)
        cluster.master.env = fakeclock.environment("-3600")
        cluster.restart(cluster.master)
        wait_until(lambda: len(cluster.alive_chunkservers()) == 3, 30, "chunkservers back")
        gfs.write(path, 5, b"late")
        data[5:9] = b"late"
        gfs.append(path, b"record")
        assert gfs.read(path, 0, len(data)) == data
    with Client(cluster.master_address, timeout=20, tls=cluster.tls_for("client")) as fresh:
        assert fresh.read(path, 0, len(data)) == data  # a read token signed an hour behind


def test_a_shadow_an_hour_behind_signs_read_tokens_the_chunkservers_take(
    cluster: LocalCluster,
) -> None:
    """A shadow signs read tokens with its master's keys, ending them by the master's clock
    (learnt with the keys), not by its own an hour behind."""
    path = f"{HOME}/shadowed"
    data = os.urandom(SMALL_CHUNK + 3)
    with Client(cluster.master_address, timeout=20, tls=cluster.tls_for("client")) as gfs:
        gfs.put(io.BytesIO(data), path)
    shadow = cluster.start_shadow()
    shadow.env = fakeclock.environment("-3600")
    cluster.restart(shadow)
    with Client(shadow.address, timeout=20, tls=cluster.tls_for("client")) as gfs:
        wait_until(lambda: shadow_shows(gfs, path), 30, "the shadow caught up")
        assert gfs.read(path, 0, len(data)) == data
