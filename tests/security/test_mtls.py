"""A secure cluster (mutual TLS, every caller's role checked) against callers that should not
be trusted: each hostile request is refused with a clear status, the servers keep answering,
a reference file reads back byte-identical and fsck stays healthy."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from client.client import Client
from client.localcluster import HOME, LocalCluster
from client.models import ChunkInfo
from common import certs, errors, tokens, transport
from common.tls import TlsFiles
from protos import chunkserver_pb2 as cpb
from protos import master_pb2 as mpb
from tests.conftest import FAST_TIMING, SMALL_CHUNK, run_gfs, shadow_shows, wait_until

pytestmark = pytest.mark.cluster

REFERENCE = os.urandom(3 * SMALL_CHUNK + 1234)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    local = LocalCluster(
        tmp_path_factory.mktemp("secure"),
        master_args=[f"--chunk-size={SMALL_CHUNK}", *FAST_TIMING],
        secure=True,
    )
    try:
        local.start()
        with Client(local.master_address, timeout=10, tls=local.tls_for("client")) as gfs:
            gfs.put(io.BytesIO(REFERENCE), f"{HOME}/reference")
        yield local
    finally:
        local.stop()


def tls(
    cluster: LocalCluster, name: str, role: str = "user", hosts: tuple[str, ...] = ()
) -> TlsFiles:
    """An identity issued by the cluster's CA (made once per name)."""
    if hosts:
        issued = certs.issue(cluster.tls_dir, name, role, hosts)
        return TlsFiles(cluster.tls_dir / certs.CA_CERT, issued.cert, issued.key)
    files = cluster.tls_for(name, role)
    assert files is not None
    return files


def status(method: Any, request: Any) -> grpc.StatusCode:
    try:
        result = method(request, timeout=10)
        if isinstance(result, Iterator):
            list(result)
        return grpc.StatusCode.OK
    except grpc.RpcError as err:
        return err.code()  # type: ignore[no-any-return, attr-defined]


def assert_intact(cluster: LocalCluster) -> None:
    """The servers answer, the reference file reads back whole, every chunk is healthy."""
    with Client(cluster.master_address, timeout=10, tls=tls(cluster, "admin", "admin")) as gfs:
        assert gfs.read(f"{HOME}/reference", 0, len(REFERENCE)) == REFERENCE
        counts = gfs.fsck("/")
        assert counts["healthy"] == counts["chunks"] and counts["chunks"] > 0, counts


def test_a_user_puts_and_gets_over_mutual_tls(cluster: LocalCluster) -> None:
    data = os.urandom(2 * SMALL_CHUNK + 77)
    with Client(cluster.master_address, timeout=10, tls=tls(cluster, "client")) as gfs:
        gfs.put(io.BytesIO(data), f"{HOME}/mine")
        sink = io.BytesIO()
        gfs.get(f"{HOME}/mine", sink)
    assert sink.getvalue() == data
    assert_intact(cluster)


def test_a_client_without_the_clusters_certificates_gets_one_clear_line(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    bare = run_gfs(cluster.master_address, "ls", "/")
    assert bare.returncode == 1
    assert bare.stderr.decode().splitlines() == [
        f"gfs: cannot reach master {cluster.master_address}: socket closed "
        "(a secure cluster closes a connection without a certificate of its CA)"
    ]
    certs.init_ca(tmp_path)
    stranger = certs.issue(tmp_path, "mallory", "admin")
    foreign = run_gfs(
        cluster.master_address,
        *("--tls-ca", str(tmp_path / certs.CA_CERT)),
        *("--tls-cert", str(stranger.cert), "--tls-key", str(stranger.key)),
        "ls",
        "/",
    )
    assert foreign.returncode == 1
    (line,) = foreign.stderr.decode().splitlines()
    assert "TLS handshake failed" in line and "--tls-ca" in line
    signed_elsewhere = run_gfs(
        cluster.master_address,
        *("--tls-ca", str(cluster.tls_dir / certs.CA_CERT)),
        *("--tls-cert", str(stranger.cert), "--tls-key", str(stranger.key)),
        "ls",
        "/",
    )
    assert signed_elsewhere.returncode == 1 and len(signed_elsewhere.stderr.splitlines()) == 1
    assert_intact(cluster)


def test_only_the_master_may_change_replicas_versions_and_leases(cluster: LocalCluster) -> None:
    """A user (or another chunkserver) asking a chunkserver to plant, copy over, re-version or
    lead a chunk is refused before the servicer sees it."""
    with Client(cluster.master_address, timeout=10, tls=tls(cluster, "client")) as gfs:
        chunk = gfs.stat(f"{HOME}/reference").chunks[0]
    target = cluster.servers[0].address
    for name, role in (("client", "user"), ("admin", "admin"), ("cs1", "chunkserver")):
        channels = transport.Channels(tls(cluster, name, role))
        try:
            stub = channels.chunkserver(target)
            hostile = [
                (stub.SetVersion, cpb.SetVersionRequest(handle=chunk.handle, version=2**40)),
                (stub.SetVersion, cpb.SetVersionRequest(handle=10**6, version=1, create=True)),
                (stub.CreateReplicas, cpb.CreateReplicasRequest(handles=[10**6], version=2)),
                (
                    stub.CopyLocal,
                    cpb.CopyLocalRequest(
                        handle=chunk.handle, version=chunk.version, new_handle=10**6, new_version=1
                    ),
                ),
                (
                    stub.CloneFrom,
                    cpb.CloneFromRequest(handle=chunk.handle, version=chunk.version, source=target),
                ),
                (
                    stub.GrantLease,
                    cpb.GrantLeaseRequest(handle=chunk.handle, version=chunk.version),
                ),
                (
                    stub.RevokeLease,
                    cpb.RevokeLeaseRequest(handle=chunk.handle, version=chunk.version),
                ),
            ]
            for method, request in hostile:
                assert status(method, request) == grpc.StatusCode.PERMISSION_DENIED, (name, request)
            if role != "chunkserver":
                zeros = cpb.ApplyWriteRequest(
                    handle=chunk.handle, version=chunk.version, offset=0, pad_to=SMALL_CHUNK
                )
                assert status(stub.ApplyWrite, zeros) == grpc.StatusCode.PERMISSION_DENIED
        finally:
            channels.close()
    assert_intact(cluster)


def test_only_a_chunkserver_reports_and_only_for_its_own_host(cluster: LocalCluster) -> None:
    """A forged heartbeat claiming a higher version used to make the master delete every real
    replica; a user's is refused, and so is one from a chunkserver whose certificate names
    another host than the address it claims."""
    with Client(cluster.master_address, timeout=10, tls=tls(cluster, "client")) as gfs:
        chunk = gfs.stat(f"{HOME}/reference").chunks[0]
    claim = mpb.HeartbeatRequest(
        address=cluster.servers[0].address,
        rack="default",
        free_bytes=2**50,
        replicas=[mpb.ReplicaReport(handle=chunk.handle, version=chunk.version + 5, length=1)],
    )
    elsewhere = tls(cluster, "cs-elsewhere", "chunkserver", hosts=("10.11.12.13",))
    for files in (tls(cluster, "client"), tls(cluster, "admin", "admin"), elsewhere):
        channels = transport.Channels(files)
        try:
            master = channels.master(cluster.master_address)
            assert status(master.Heartbeat, claim) == grpc.StatusCode.PERMISSION_DENIED
        finally:
            channels.close()
    assert_intact(cluster)


def test_administration_needs_the_admin(cluster: LocalCluster) -> None:
    user = Client(cluster.master_address, timeout=10, tls=tls(cluster, "client"))
    admin = Client(cluster.master_address, timeout=10, tls=tls(cluster, "admin", "admin"))
    with user, admin:
        victim = cluster.servers[-1].address
        for attempt in (
            lambda: user.decommission(victim),
            lambda: user.balance(),
            lambda: user.safe_mode("enter"),
            lambda: list(user.oplog()),
        ):
            with pytest.raises(errors.PermissionDenied, match="user 'client' may not"):
                attempt()
        assert not user.safe_mode("get").active, "reading it is anyone's"
        assert admin.safe_mode("enter").active
        assert not admin.safe_mode("leave").active
        assert len(list(admin.oplog(limit=3))) == 3
        admin.decommission(victim)
        assert {s.address: s.state for s in admin.report().chunkservers}[victim] in (
            "decommissioning",
            "decommissioned",
        )
        with pytest.raises(errors.PermissionDenied):
            user.decommission(victim, cancel=True)
        admin.decommission(victim, cancel=True)
        with pytest.raises(errors.FailedPrecondition, match="not being decommissioned"):
            admin.decommission(victim, cancel=True)
        assert all(s.state == "alive" for s in admin.report().chunkservers)
    assert_intact(cluster)


def test_a_shadow_follows_a_secure_master(cluster: LocalCluster) -> None:
    shadow = cluster.start_shadow()
    with Client(shadow.address, timeout=10, tls=tls(cluster, "client")) as gfs:
        wait_until(lambda: shadow_shows(gfs, f"{HOME}/reference"), 30, "the shadow caught up")
        assert f"{HOME}/reference" in {e.path for e in gfs.ls(HOME)}
        with pytest.raises(errors.FailedPrecondition, match="read-only shadow"):
            gfs.mkdir(f"{HOME}/from-shadow")
        # The shadow's locations carry read tokens (signed with the keys its master streams
        # to it), so data reads go on through it; it gives out no write token.
        assert gfs.stat(f"{HOME}/reference").chunks[0].token
        assert gfs.read(f"{HOME}/reference", 0, len(REFERENCE)) == REFERENCE
        with pytest.raises(errors.FailedPrecondition, match="read-only shadow"):
            gfs.write(f"{HOME}/reference", 0, b"x")


def test_a_chunkserver_serves_and_takes_data_only_against_the_masters_token(
    cluster: LocalCluster,
) -> None:
    """Without tokens, anyone who could reach a chunkserver read any chunk and pushed data
    for any; a secondary applied mutations from anyone who called ApplyWrite."""
    channels = transport.Channels(tls(cluster, "client"))
    strangers = transport.Channels(tls(cluster, "alice"))
    peers = transport.Channels(tls(cluster, "cs1", "chunkserver"))
    try:
        master = channels.master(cluster.master_address)
        first = master.GetChunk(mpb.GetChunkRequest(path=f"{HOME}/reference", index=0), timeout=10)
        second = master.GetChunk(mpb.GetChunkRequest(path=f"{HOME}/reference", index=1), timeout=10)
        replica = first.replicas[0]
        stub = channels.chunkserver(replica)

        def read(token: bytes, caller: Any = stub) -> grpc.StatusCode:
            request = cpb.ReadRequest(
                handle=first.handle, version=first.version, length=16, token=token
            )
            return status(caller.Read, request)

        denied = grpc.StatusCode.PERMISSION_DENIED
        assert read(first.token) == grpc.StatusCode.OK
        assert read(b"") == denied, "no token"
        assert read(second.token) == denied, "another chunk's token"
        assert read(first.token, strangers.chunkserver(replica)) == denied, "another user's"
        write = cpb.WriteRequest(
            handle=first.handle, version=first.version, data_id="x", token=first.token
        )
        assert status(stub.Write, write) == denied, "a read token does not write"

        master.Create(mpb.CreateRequest(path=f"{HOME}/tokened"), timeout=10)
        target = master.GetChunk(
            mpb.GetChunkRequest(path=f"{HOME}/tokened", index=0, for_write=True), timeout=10
        )

        def push(chain: list[str]) -> grpc.StatusCode:
            piece = cpb.DataPiece(
                data_id=os.urandom(8).hex(),
                chain=chain,
                data=b"d" * 10,
                handle=target.handle,
                token=target.token,
            )
            try:
                channels.chunkserver(target.primary).PushData(iter([piece]), timeout=10)
                return grpc.StatusCode.OK
            except grpc.RpcError as err:
                return err.code()  # type: ignore[no-any-return, attr-defined]

        others = [r for r in target.replicas if r != target.primary]
        assert push(others) == grpc.StatusCode.OK, "the chunk's own chain"
        assert push([*others[:1], "127.0.0.1:1"]) == denied, "a server that is no replica"

        for secondary in others:  # no chunkserver but the primary orders mutations
            zeros = cpb.ApplyWriteRequest(
                handle=target.handle, version=target.version, offset=0, pad_to=10
            )
            assert status(peers.chunkserver(secondary).ApplyWrite, zeros) == denied
            zeros.token = target.token  # a client's token is no lease
            assert status(peers.chunkserver(secondary).ApplyWrite, zeros) == denied
    finally:
        for each in (channels, strangers, peers):
            each.close()
    assert_intact(cluster)


def test_anyone_with_a_certificate_asks_any_server_its_health(cluster: LocalCluster) -> None:
    files = tls(cluster, "client")
    env = {
        "GFS_TLS_CA": str(files.ca),
        "GFS_TLS_CERT": str(files.cert),
        "GFS_TLS_KEY": str(files.key),
    }
    for address in [cluster.master_address, *(p.address for p in cluster.servers)]:
        checked = run_gfs(cluster.master_address, "health", address, env=env)
        assert checked.returncode == 0 and b"SERVING" in checked.stdout, checked.stderr
    refused = run_gfs(cluster.master_address, "--timeout", "3", "health", cluster.master_address)
    assert refused.returncode != 0 and b"certificate" in refused.stderr, refused.stderr


def _reference_chunk(cluster: LocalCluster) -> mpb.ChunkLocation:
    channels = transport.Channels(tls(cluster, "client"))
    try:
        request = mpb.GetChunkRequest(path=f"{HOME}/reference", index=0)
        return channels.master(cluster.master_address).GetChunk(request, timeout=10)
    finally:
        channels.close()


def test_a_plain_read_port_serves_reads_proved_by_their_token_and_nothing_else(
    cluster: LocalCluster,
) -> None:
    """Reads in clear (--plain-reads) must not open what mutual TLS closes: the token crosses
    without its signature, so what a sniffer sees proves one range of one chunk and nothing
    more; every other RPC is unimplemented there."""
    chunk = _reference_chunk(cluster)
    assert len(chunk.plain_reads) == len(chunk.replicas) and all(chunk.plain_reads)
    assert not set(chunk.plain_reads) & set(chunk.replicas)
    payload = chunk.token[tokens.MAC :]
    denied = grpc.StatusCode.PERMISSION_DENIED

    def read(offset: int, length: int, token: bytes, proof: bytes) -> tuple[Any, bytes]:
        request = cpb.ReadRequest(
            handle=chunk.handle,
            version=chunk.version,
            offset=offset,
            length=length,
            token=token,
            proof=proof,
        )
        try:
            pieces = list(stub.Read(request, timeout=10))
            return grpc.StatusCode.OK, b"".join(p.data for p in pieces)
        except grpc.RpcError as err:
            return err.code(), b""  # type: ignore[attr-defined]

    def proof(offset: int, length: int, signed: bytes = chunk.token) -> bytes:
        return tokens.prove(signed, tokens.read_claim(chunk.handle, chunk.version, offset, length))

    channels = transport.Channels()  # no certificate at all: the port is in clear
    try:
        for plain in chunk.plain_reads:
            stub = channels.chunkserver(plain)
            assert read(100, 50, payload, proof(100, 50)) == (
                grpc.StatusCode.OK,
                REFERENCE[100:150],
            )
            sniffed = proof(100, 50)
            assert read(0, 50, payload, sniffed)[0] == denied, "a seen proof, another range"
            assert read(100, 51, payload, sniffed)[0] == denied, "a seen proof, a longer range"
            assert read(100, 50, payload, b"")[0] == denied, "no proof"
            assert read(100, 50, chunk.token, b"")[0] == denied, "the signed token, no proof"
            assert read(100, 50, b"", sniffed)[0] == denied, "no token"
            forged = payload.replace(b'"client"', b'"admin"')
            assert forged != payload
            assert read(100, 50, forged, sniffed)[0] == denied, "a token changed in clear"
            guessed = tokens.prove(bytes(tokens.MAC) + payload, tokens.read_claim(
                chunk.handle, chunk.version, 0, len(REFERENCE)))  # fmt: skip
            assert read(0, 1000, payload, guessed)[0] == denied, "a proof keyed by a guess"

            unimplemented = [
                (stub.Write, cpb.WriteRequest(handle=chunk.handle, version=chunk.version)),
                (stub.SetVersion, cpb.SetVersionRequest(handle=chunk.handle, version=2**40)),
                (stub.Describe, cpb.Ack()),
                (stub.ReplicaInfo, cpb.ReplicaInfoRequest(handle=chunk.handle)),
                (stub.CopyLocal, cpb.CopyLocalRequest(handle=chunk.handle, new_handle=10**6)),
                (stub.Append, cpb.AppendRequest(handle=chunk.handle, token=chunk.token)),
            ]
            for method, request in unimplemented:
                assert status(method, request) == grpc.StatusCode.UNIMPLEMENTED, request
            piece = cpb.DataPiece(data_id="x", data=b"d", handle=chunk.handle, token=chunk.token)
            try:
                stub.PushData(iter([piece]), timeout=10)
                pushed = grpc.StatusCode.OK
            except grpc.RpcError as err:
                pushed = err.code()  # type: ignore[attr-defined]
            assert pushed == grpc.StatusCode.UNIMPLEMENTED
            check = health_pb2_grpc.HealthStub(channels.get(plain))  # type: ignore[no-untyped-call]
            answer = check.Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        channels.close()
    assert_intact(cluster)


def test_a_client_reads_in_clear_where_offered_and_over_tls_when_asked_or_cut_off(
    cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[tuple[str, bool]] = []
    channel = transport.Channels._channel

    def spy(
        self: transport.Channels, address: str, plain: bool, master: bool = False
    ) -> grpc.Channel:
        opened.append((address, plain))
        return channel(self, address, plain, master)

    monkeypatch.setattr(transport.Channels, "_channel", spy)
    chunk = _reference_chunk(cluster)
    whole = (f"{HOME}/reference", 0, len(REFERENCE))
    with Client(cluster.master_address, timeout=10, tls=tls(cluster, "client")) as gfs:
        assert gfs.read(*whole) == REFERENCE
    assert {a for a, plain in opened if plain} <= set(chunk.plain_reads)
    assert any(plain for _, plain in opened), "the default reads in clear where offered"

    opened.clear()
    files = tls(cluster, "client")
    with Client(cluster.master_address, timeout=10, tls=files, encrypted_reads=True) as gfs:
        assert gfs.read(*whole) == REFERENCE
    assert opened and not any(plain for _, plain in opened), "--encrypted-reads: TLS only"

    # Plain read ports nobody can reach (a firewall that lets only the TLS port through):
    # each is tried once, then the replicas are read over TLS.
    opened.clear()
    monkeypatch.setattr(ChunkInfo, "plain_read_port", lambda self, replica: "127.0.0.1:1")
    with Client(cluster.master_address, timeout=10, tls=tls(cluster, "client")) as gfs:
        assert gfs.read(*whole) == REFERENCE
        assert gfs.io.plain_unreachable == {"127.0.0.1:1"}
    assert ("127.0.0.1:1", True) in opened
    assert {a for a, plain in opened if not plain} & set(chunk.replicas)


def test_a_chunkserver_offers_plain_reads_only_on_its_own_host(cluster: LocalCluster) -> None:
    """The plain read port a heartbeat names is where clients will send their proofs: it must
    be on a host the chunkserver's certificate names, as its address is."""
    beat = mpb.HeartbeatRequest(
        address="127.0.0.1:1", rack="default", plain_reads="10.11.12.13:7000"
    )
    channels = transport.Channels(tls(cluster, "cs0", "chunkserver"))
    try:
        master = channels.master(cluster.master_address)
        assert status(master.Heartbeat, beat) == grpc.StatusCode.PERMISSION_DENIED
    finally:
        channels.close()
    assert "127.0.0.1:1" not in cluster.alive_chunkservers()
