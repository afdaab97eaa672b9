"""Permissions on a live secure cluster: owner, group and mode from the caller's certificate,
every namespace and data request checked, the admin a superuser; a refused request changes
nothing, is one clear line from `gfs`, and earns no chunk access token."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import grpc
import pytest

from client.client import Client
from client.localcluster import HOME, LocalCluster
from common import errors, transport
from common.tls import TlsFiles
from protos import master_pb2 as mpb
from tests.conftest import FAST_TIMING, SMALL_CHUNK, run_gfs

pytestmark = pytest.mark.cluster

REFERENCE = os.urandom(2 * SMALL_CHUNK + 321)
REPORT = f"{HOME}/report"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    local = LocalCluster(
        tmp_path_factory.mktemp("permissions"),
        master_args=[f"--chunk-size={SMALL_CHUNK}", *FAST_TIMING],
        secure=True,
    )
    try:
        local.start()
        yield local
    finally:
        local.stop()


def files(cluster: LocalCluster, name: str, role: str = "user") -> TlsFiles:
    found = cluster.tls_for(name, role)
    assert found is not None
    return found


def as_user(cluster: LocalCluster, name: str, role: str = "user") -> Client:
    return Client(cluster.master_address, timeout=10, tls=files(cluster, name, role))


def env_of(cluster: LocalCluster, name: str) -> dict[str, str]:
    tls = files(cluster, name)
    return {"GFS_TLS_CA": str(tls.ca), "GFS_TLS_CERT": str(tls.cert), "GFS_TLS_KEY": str(tls.key)}


def test_the_root_is_the_superusers_and_a_user_writes_at_home(cluster: LocalCluster) -> None:
    with as_user(cluster, "client") as gfs:
        refused = 'user=client, access=WRITE_EXECUTE, inode="/"'
        with pytest.raises(errors.PermissionDenied, match=refused):
            gfs.put(io.BytesIO(b"x"), "/at-the-root")
        gfs.put(io.BytesIO(REFERENCE), REPORT)
        entry = next(e for e in gfs.ls(HOME) if e.path == REPORT)
        assert (entry.owner, entry.group, entry.mode) == ("client", "client", 0o644)
    put = run_gfs(
        cluster.master_address, "put", "-", "/also-at-the-root", stdin=b"y",
        env=env_of(cluster, "client"),
    )  # fmt: skip
    assert put.returncode != 0
    assert put.stderr.decode().strip().count("\n") == 0, put.stderr
    assert "permission denied: user=client" in put.stderr.decode()
    with as_user(cluster, "admin", "admin") as admin:
        assert {e.path for e in admin.ls("/")} == {"/user", "/tmp"}, "nothing reached the root"


def test_others_read_a_users_file_but_never_change_it(cluster: LocalCluster) -> None:
    with as_user(cluster, "client") as owner:
        if not owner.exists(REPORT):
            owner.put(io.BytesIO(REFERENCE), REPORT)
    with as_user(cluster, "mallory") as mallory:
        assert mallory.read(REPORT, 0, len(REFERENCE)) == REFERENCE  # 0644
        for attempt in (
            lambda: mallory.write(REPORT, 0, b"forged"),
            lambda: mallory.append(REPORT, b"forged"),
            lambda: mallory.rm(REPORT),
            lambda: mallory.mv(REPORT, "/tmp/stolen"),
            lambda: mallory.chmod(REPORT, 0o666),
            lambda: mallory.chown(REPORT, "mallory"),
            lambda: mallory.create(f"{HOME}/planted"),
            lambda: mallory.mkdir(f"{HOME}/planted"),
        ):
            with pytest.raises(errors.PermissionDenied):
                attempt()
        # A snapshot is a copy: mallory may take one where she may write, and it is hers.
        mallory.snapshot(REPORT, "/tmp/copy")
        copy = next(e for e in mallory.ls("/tmp") if e.path == "/tmp/copy")
        assert copy.owner == "mallory"
        mallory.rm("/tmp/copy")
    # No chunk access token for a write is handed to whoever may not write.
    channels = transport.Channels(files(cluster, "mallory"))
    try:
        master = channels.master(cluster.master_address)
        with pytest.raises(grpc.RpcError) as refused:
            master.GetChunk(mpb.GetChunkRequest(path=REPORT, index=0, for_write=True), timeout=10)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED  # type: ignore[attr-defined]
    finally:
        channels.close()
    with as_user(cluster, "client") as owner:
        assert owner.read(REPORT, 0, len(REFERENCE)) == REFERENCE
        assert {e.path for e in owner.ls(HOME)} == {REPORT}


def test_a_private_file_is_read_by_its_owner_and_the_superuser_only(
    cluster: LocalCluster,
) -> None:
    secret = f"{HOME}/secret"
    with as_user(cluster, "client") as owner:
        owner.put(io.BytesIO(b"s" * 1000), secret)
        owner.chmod(secret, 0o600)
    with as_user(cluster, "mallory") as mallory:
        with pytest.raises(errors.PermissionDenied, match="access=READ"):
            mallory.read(secret, 0, 1000)
        with pytest.raises(PermissionError):  # the builtin, for code that knows no pygfs
            mallory.stat(secret)  # its locations carry read tokens
        assert secret in {e.path for e in mallory.ls(HOME)}, "the name itself is not hidden"
    with as_user(cluster, "client") as owner:
        owner.chmod(HOME, 0o700)
    with as_user(cluster, "mallory") as mallory:
        with pytest.raises(errors.PermissionDenied, match="access=READ_EXECUTE"):
            mallory.ls(HOME)
        with pytest.raises(errors.PermissionDenied, match="access=READ_EXECUTE"):
            mallory.summary(HOME)  # du and count see no more than ls
        with pytest.raises(errors.PermissionDenied, match="access=EXECUTE"):
            mallory.read(REPORT, 0, 1)
    with as_user(cluster, "admin", "admin") as admin:
        assert admin.read(secret, 0, 1000) == b"s" * 1000
        admin.chown(secret, "mallory", "mallory")
        admin.chmod(HOME, 0o755)
    with as_user(cluster, "mallory") as mallory:
        mallory.write(secret, 0, b"mine")
        assert mallory.read(secret, 0, 6) == b"minesss"[:6]
    listing = run_gfs(cluster.master_address, "ls", "-l", HOME, env=env_of(cluster, "client"))
    assert listing.returncode == 0, listing.stderr
    line = next(x for x in listing.stdout.decode().splitlines() if x.endswith(secret))
    mode, replication, owner_name, group, size = line.split()[:5]
    for bad in ("u+x", "1777", "8"):
        refused = run_gfs(
            cluster.master_address, "chmod", bad, secret, env=env_of(cluster, "client")
        )
        assert refused.returncode != 0 and refused.stderr.count(b"\n") == 1, refused.stderr
        assert b"mode must be" in refused.stderr
    assert (mode, replication, owner_name, group, size) == (
        "-rw-------", "3", "mallory", "mallory", "1000",
    )  # fmt: skip


def test_a_refused_request_leaves_the_cluster_whole(cluster: LocalCluster) -> None:
    with as_user(cluster, "admin", "admin") as admin:
        admin.put(io.BytesIO(REFERENCE), "/reference")
    with as_user(cluster, "mallory") as mallory:
        for attempt in (
            lambda: mallory.rm("/reference"),
            lambda: mallory.write("/reference", 0, b"x"),
            lambda: mallory.chmod("/", 0o777),
            lambda: mallory.rm(HOME, recursive=True),
        ):
            with pytest.raises(errors.PermissionDenied):
                attempt()
    with as_user(cluster, "admin", "admin") as admin:
        assert admin.read("/reference", 0, len(REFERENCE)) == REFERENCE
        counts = admin.fsck("/")
        assert counts["healthy"] == counts["chunks"] > 0, counts


def test_a_primary_extends_the_file_for_its_appends_and_nobody_else_may(
    cluster: LocalCluster,
) -> None:
    """On a secure cluster the primary's certificate names the address it claims, so the
    master takes its extension; a user asking for one in a primary's name is refused."""
    log = f"{HOME}/appended"
    with as_user(cluster, "client") as gfs:
        gfs.create(log)
        reply = gfs.io.append_to_chunk(log, 0, b"record", "")
        assert reply.extended and not reply.padded
        assert gfs.stat(log).size == reply.offset + len(b"record")
        chunk = gfs.stat(log).chunks[0]
        forged = mpb.ExtendFileRequest(
            path=log, handle=chunk.handle, chunk_end=SMALL_CHUNK, primary=chunk.primary or ""
        )
        with pytest.raises(errors.PermissionDenied, match="only the primary"):
            transport.call(
                gfs.channels.master(cluster.master_address).ExtendFile,
                forged,
                target="master",
                timeout=10,
            )
        assert gfs.stat(log).size == len(b"record"), "nothing changed"
