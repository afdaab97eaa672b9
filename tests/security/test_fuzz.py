"""A bounded property-based fuzzer: Hypothesis fills every field of every RPC's request
(built from the protos' own descriptors, so a new field is fuzzed too) and sends it to live
servers. Whatever it sends, no handler may fail unexpectedly (INTERNAL or UNKNOWN), the servers
keep answering, a reference file reads back byte-identical and fsck stays healthy.

Two runs: as a user of a secure cluster (every RPC, the role and token checks in the way, as
an attacker with a certificate meets them), and against an insecure cluster, the RPCs a client
uses (their fields reach the handlers). Addresses in requests are loopback ones only: a fuzzer
must not make a server dial out.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client.client import Client
from client.localcluster import HOME, LocalCluster
from common import transport
from common.tls import TlsFiles
from protos import chunkserver_pb2, master_pb2
from tests.conftest import FAST_TIMING, SMALL_CHUNK, wait_until

pytestmark = pytest.mark.cluster

REFERENCE = os.urandom(2 * SMALL_CHUNK + 99)
REPLICATION = 3  # the master's default: the reference file's
EXAMPLES = 60  # per RPC: bounded, so the whole fuzzer takes a minute or two
ADDRESS_FIELDS = {"address", "source", "chain", "secondaries"}
PATHS = st.sampled_from(
    ["/", f"{HOME}/fuzz", f"{HOME}/fuzz/f", f"{HOME}/fuzz/d/x", "/.trash", "relative", ""]
) | st.text(max_size=40)
CLIENT_RPCS = {
    "Master": {
        "Mkdir", "Create", "Delete", "Undelete", "Rename", "Snapshot", "List", "Stat",
        "StatMany", "GetChunk", "ExtendFile", "Report", "Fsck", "Chmod", "Chown",
    },
    "ChunkServer": {"PushData", "Write", "Append", "Read", "Describe", "ReplicaInfo"},
}  # fmt: skip

INTEGERS = {
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
}


def edgy_integers(low: int, high: int) -> st.SearchStrategy[int]:
    edges = [v for v in (low, high, 0, 1, -1, 2, 2**31, 2**62, 2**63 - 1) if low <= v <= high]
    return st.sampled_from(edges) | st.integers(low, high) | st.integers(0, 1 << 20)


def field_values(field: FieldDescriptor, addresses: list[str]) -> st.SearchStrategy[Any]:
    if field.name in ADDRESS_FIELDS:
        return st.sampled_from([*addresses, "127.0.0.1:1", ""])
    if field.type in INTEGERS:
        return edgy_integers(*INTEGERS[field.type])
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if field.type == FieldDescriptor.TYPE_DOUBLE:
        return st.floats(allow_nan=True, allow_infinity=True)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=300)
    if field.type == FieldDescriptor.TYPE_STRING:
        return (
            PATHS if "path" in field.name or field.name in ("src", "dst") else st.text(max_size=300)
        )
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return messages(field.message_type, addresses, depth=1)
    raise AssertionError(f"no strategy for {field.full_name}")


def messages(descriptor: Any, addresses: list[str], depth: int = 0) -> st.SearchStrategy[Any]:
    cls = (master_pb2 if descriptor.file.package.endswith("master") else chunkserver_pb2).__dict__[
        descriptor.name
    ]
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for field in descriptor.fields:
        if field.type == FieldDescriptor.TYPE_MESSAGE and depth > 1:
            continue
        value = field_values(field, addresses)
        if field.is_repeated:
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                value = st.dictionaries(st.text(max_size=20), st.integers(0, 2**62), max_size=3)
            else:
                value = st.lists(value, max_size=4)
        fields[field.name] = value
    return st.fixed_dictionaries({}, optional=fields).map(lambda kw: cls(**kw))


def send(channel: grpc.Channel, method: MethodDescriptor, request: Any) -> grpc.StatusCode:
    path = f"/{method.containing_service.full_name}/{method.name}"
    serialize = type(request).SerializeToString
    try:
        if method.client_streaming:
            call = channel.stream_unary(path, request_serializer=serialize)
            call(iter([request]), timeout=5)
        elif method.server_streaming:
            stream = channel.unary_stream(path, request_serializer=serialize)
            for _ in stream(request, timeout=3):
                pass
        else:
            channel.unary_unary(path, request_serializer=serialize)(request, timeout=5)
        return grpc.StatusCode.OK
    except grpc.RpcError as err:
        return err.code()  # type: ignore[no-any-return, attr-defined]


def rpcs(only_client: bool) -> list[MethodDescriptor]:
    found = []
    for module in (master_pb2, chunkserver_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                if not only_client or method.name in CLIENT_RPCS[service.name]:
                    found.append(method)
    return found


def fuzz(cluster: LocalCluster, tls: TlsFiles | None, method: MethodDescriptor) -> None:
    addresses = [cluster.master_address, *(p.address for p in cluster.servers)]
    target = cluster.master_address if method.containing_service.name == "Master" else addresses[1]
    channels = transport.Channels(tls)
    channel = channels.get(target)
    seen: set[grpc.StatusCode] = set()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        derandomize=True,  # the same examples every run: a failure replays
    )
    @given(messages(method.input_type, addresses))
    def one(request: Any) -> None:
        code = send(channel, method, request)
        seen.add(code)
        assert code not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), (
            f"{method.name}({request}) failed unexpectedly: {code}"
        )

    try:
        one()
    finally:
        channels.close()
    assert seen, "nothing was sent"


def assert_intact(cluster: LocalCluster, tls: TlsFiles | None) -> None:
    reference = f"{HOME}/reference"
    with Client(cluster.master_address, timeout=10, tls=tls) as gfs:
        assert gfs.read(reference, 0, len(REFERENCE)) == REFERENCE
        counts = gfs.fsck(reference)
        assert counts["missing"] == counts["corrupt"] == 0 < counts["chunks"], counts
        if gfs.stat(reference).replication != REPLICATION:
            # A fuzzed SetReplication of "/" reached it: the user's own file, so allowed (its
            # surplus is trimmed once the put's lease ends, up to a minute). Set back, it must
            # be whole again.
            gfs.setrep(reference, REPLICATION)

        def healthy() -> bool:
            counts = gfs.fsck(reference)
            return counts["healthy"] == counts["chunks"]

        wait_until(healthy, 60, f"fsck finds {reference} healthy")
        if gfs.safe_mode("get").active:  # a fuzzed admin call may have entered it
            pytest.fail("a user entered safe mode")


def cluster_of(tmp: Any, secure: bool) -> Iterator[LocalCluster]:
    local = LocalCluster(
        tmp, master_args=[f"--chunk-size={SMALL_CHUNK}", *FAST_TIMING], secure=secure
    )
    try:
        local.start()
        with Client(local.master_address, timeout=10, tls=local.tls_for("client")) as gfs:
            gfs.mkdir(HOME, parents=True)  # made by the cluster when secure
            gfs.put(io.BytesIO(REFERENCE), f"{HOME}/reference")
            gfs.mkdir(f"{HOME}/fuzz")
            gfs.put(io.BytesIO(b"f" * 100), f"{HOME}/fuzz/f")
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    yield from cluster_of(tmp_path_factory.mktemp("fuzz-secure"), secure=True)


@pytest.fixture(scope="module")
def insecure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    yield from cluster_of(tmp_path_factory.mktemp("fuzz-insecure"), secure=False)


@pytest.mark.parametrize("method", rpcs(only_client=False), ids=lambda m: m.name)
def test_every_rpc_as_a_user_of_a_secure_cluster(
    secure: LocalCluster, method: MethodDescriptor
) -> None:
    fuzz(secure, secure.tls_for("client"), method)
    assert_intact(secure, secure.tls_for("client"))


@pytest.mark.parametrize("method", rpcs(only_client=True), ids=lambda m: m.name)
def test_the_client_rpcs_of_an_insecure_cluster(
    insecure: LocalCluster, method: MethodDescriptor
) -> None:
    fuzz(insecure, None, method)
    assert_intact(insecure, None)
