"""Stats and creates in batches: the master's StatMany answers each path in order with its own
entry or error, ends a reply that grows too large (the client asks again for the rest), and a
client's concurrent stats travel to the master together; CreateMany makes its files in one
commit, each with its own outcome, and a client's concurrent creates travel together. The
master servicer in-process, beside the fake chunkservers of tests/master_fakes.py, with a
client whose master calls go straight to it."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from client.client import Client
from common import errors
from common.grouping import Groups
from master import servicer as servicer_module
from master import store as store_module
from master.service import MasterService
from master.servicer import MasterServicer
from protos import master_pb2
from tests.master_fakes import Gate, four_servers

T = TypeVar("T")


class _Context:
    """What the servicer asks of an insecure call's context."""

    def peer_identities(self) -> None:
        return None

    def auth_context(self) -> dict[str, list[bytes]]:
        return {}

    def invocation_metadata(self) -> tuple[()]:
        return ()


class _Calls:
    """The client's master calls, made on the servicer in this process; the paths of each
    batched call (StatMany, CreateMany) are kept, and the first such call waits at `gate`."""

    def __init__(self, servicer: MasterServicer) -> None:
        self.servicer = servicer
        self.asked: list[list[str]] = []
        self.gate: Gate | None = None

    def __call__(self, method: str, request: Any, read_only: bool = False) -> Any:
        if method in ("StatMany", "CreateMany"):
            paths = request.paths if method == "StatMany" else [f.path for f in request.files]
            self.asked.append(list(paths))
            if self.gate is not None and len(self.asked) == 1:
                self.gate.pass_through()
        return getattr(self.servicer, method)(request, _Context())


@pytest.fixture
def master(tmp_path: Path) -> Iterator[MasterService]:
    service, _, _ = four_servers(tmp_path)
    for name in ("a", "b", "c"):
        service.create(f"/{name}")
        service.get_chunk(f"/{name}", 0, True)
    yield service
    service.close()


@pytest.fixture
def calls(master: MasterService) -> _Calls:
    return _Calls(MasterServicer(master))


@pytest.fixture
def gfs(calls: _Calls) -> Iterator[Client]:
    client = Client("127.0.0.1:1")  # never dialled: its master calls go to `calls`
    client._master = calls  # type: ignore[method-assign]
    yield client
    client.close()


def test_a_batch_answers_each_path_in_order_with_its_own_error(calls: _Calls) -> None:
    asked = ["/a", "no-slash", "/missing", "/", "/a/under-a-file"]
    reply = calls.servicer.StatMany(master_pb2.StatManyRequest(paths=asked), _Context())
    results = list(reply.results)
    assert [r.HasField("info") for r in results] == [True, False, False, True, False]
    assert results[0].info.entry.path == "/a" and len(results[0].info.chunks) == 1
    assert results[0].info.chunks[0].replicas  # where its chunk lives, as Stat says
    assert results[3].info.entry.is_dir
    kinds = [r.kinds.split(",")[0] for r in results if not r.HasField("info")]
    assert kinds == ["InvalidPath", "NotFound", "NotFound"]
    assert results[1].kinds == "InvalidPath,InvalidArgument,GfsError"  # as a status names it
    assert "/missing" in results[2].error


def test_the_client_raises_each_error_as_its_own_class(gfs: Client) -> None:
    assert gfs.stat("/a").chunks[0].replicas
    with pytest.raises(errors.NotFound, match="/missing"):
        gfs.stat("/missing")
    with pytest.raises(errors.NotFound, match="/a/b"):
        gfs.stat("/a/b")
    assert not gfs.exists("/missing") and gfs.exists("/b")


def test_a_reply_grown_too_large_ends_early_and_the_rest_is_asked_again(
    gfs: Client, calls: _Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(servicer_module, "STATS_BYTES", 1)  # every answer is past it
    stats = gfs._stat_many(["/a", "/missing", "/b", "/c"])
    assert calls.asked == [
        ["/a", "/missing", "/b", "/c"],
        ["/missing", "/b", "/c"],
        ["/b", "/c"],
        ["/c"],
    ]
    assert [getattr(s, "path", None) for s in stats] == ["/a", None, "/b", "/c"]
    assert isinstance(stats[1], errors.NotFound)


def _asked_while_one_is_in_flight(
    calls: _Calls, ask: Callable[[str], T], groups: Groups[str, Any, Any], asked: list[str]
) -> tuple[Future[T], list[Future[T]]]:
    """Asks `asked[0]` from a thread, and the rest from a thread each while its call waits at
    the gate; lets it through once they all queued behind it. Their futures, done."""
    calls.gate = Gate()
    with ThreadPoolExecutor(len(asked)) as pool:
        first = pool.submit(ask, asked[0])
        assert calls.gate.entered.wait(10)
        rest = [pool.submit(ask, p) for p in asked[1:]]
        while groups.queued("") < len(rest):
            threading.Event().wait(0.01)
        calls.gate.release()
    return first, rest


def test_stats_asked_while_one_is_in_flight_go_together_in_the_next_call(
    gfs: Client, calls: _Calls
) -> None:
    asked = ["/a", "/b", "/missing", "/c", "/", "/b"]
    first, rest = _asked_while_one_is_in_flight(calls, gfs.stat, gfs._stats, asked)
    assert first.result().path == "/a"
    with pytest.raises(errors.NotFound):
        rest[1].result()
    assert [rest[i].result().path for i in (0, 2, 3, 4)] == ["/b", "/c", "/", "/b"]
    assert calls.asked[0] == ["/a"]
    assert sorted(calls.asked[1]) == sorted(asked[1:]) and len(calls.asked) == 2


def _kinds(reply: master_pb2.CreateManyReply) -> list[str]:
    return [outcome.kinds.split(",")[0] for outcome in reply.outcomes]


def test_a_create_batch_is_one_commit_and_each_file_has_its_own_outcome(
    calls: _Calls, master: MasterService
) -> None:
    asked = ["/new1", "no-slash", "/a", "/new1", "/missing/x", "/new2"]
    files = [master_pb2.CreateRequest(path=p) for p in asked]
    before = master.store.transactions
    reply = calls.servicer.CreateMany(master_pb2.CreateManyRequest(files=files), _Context())
    assert _kinds(reply) == ["", "InvalidPath", "AlreadyExists", "AlreadyExists", "NotFound", ""]
    assert "/a" in reply.outcomes[2].error and reply.chunk_size
    assert master.store.transactions == before + 1
    durable = master.store.load().nodes  # what a restarted master would find
    assert "/new1" in durable and "/new2" in durable and "/missing/x" not in durable
    assert not durable["/new1"].is_dir and master.stat("/new2")[0].path == "/new2"


def test_a_create_batch_the_store_cannot_write_makes_none_of_its_files(
    master: MasterService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*_: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store_module.tables, "write", failing)
    with pytest.raises(errors.Unavailable, match="disk I/O error"):
        master.create_many([("/x1", 0), ("/x2", 0)])
    monkeypatch.undo()
    assert "/x1" not in master.store.load().nodes
    with pytest.raises(errors.NotFound):
        master.stat("/x1")
    master.create_many([("/x1", 0)])  # nothing was half done: it can be made now
    assert "/x1" in master.store.load().nodes


def test_creates_asked_while_one_is_in_flight_go_together_in_the_next_call(
    gfs: Client, calls: _Calls
) -> None:
    asked = ["/n0", "/n1", "/a", "/n2", "/n1", "/n3"]
    first, rest = _asked_while_one_is_in_flight(calls, gfs.create, gfs._creates, asked)
    first.result()
    failed = [f for f in rest if f.exception() is not None]
    assert len(failed) == 2  # "/a", and one of the two "/n1"
    assert all(isinstance(f.exception(), errors.AlreadyExists) for f in failed)
    assert calls.asked[0] == ["/n0"]
    assert sorted(calls.asked[1]) == sorted(asked[1:]) and len(calls.asked) == 2
    assert all(gfs.exists(p) for p in ("/n0", "/n1", "/n2", "/n3"))
