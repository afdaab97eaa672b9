"""Record appends that queue on a chunk are ordered one after another and applied together:
one write and one sync per replica for the new records, each secondary told in one request;
a retried record id and padding keep their places in the order. The primary has the master
extend the file for a batch of appends, and for a write."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest

from chunkserver.config import ChunkserverConfig
from chunkserver.mutations import Mutations
from chunkserver.primary import Appended
from chunkserver.spool import Spool
from chunkserver.storage import ChunkStore
from client.records import frame
from common import errors, transport
from protos import chunkserver_pb2 as cpb

T = TypeVar("T")
CHUNK = 1024 * 1024
HANDLE, VERSION = 7, 3


class Peer:
    """A secondary's channel that calls its `Mutations` in process, counting the calls."""

    def __init__(self, mutations: Mutations, calls: Counter[str]) -> None:
        self.mutations, self.calls = mutations, calls

    def unary_unary(self, method: str, request_serializer: Any, response_deserializer: Any) -> Any:
        name = method.rsplit("/", 1)[1]

        def call(payload: bytes, timeout: float) -> Any:
            self.calls[name] += 1
            m = self.mutations
            if name == "ApplyWrite":
                length = m.apply_from_primary(cpb.ApplyWriteRequest.FromString(payload))
            else:
                length = m.apply_appends_from_primary(cpb.ApplyAppendsRequest.FromString(payload))
            return cpb.WriteResponse(chunk_length=length)

        return call

    def ReplicaInfo(self, request: Any, timeout: float) -> cpb.ReplicaInfoResponse:
        store = self.mutations.store
        with store.lock(request.handle):
            length = store.length(request.handle)
        return cpb.ReplicaInfoResponse(length=length, record_ids=store.ids_of(request.handle))


class Master:
    """The master's stub: records the extensions asked for, or fails them."""

    def __init__(self) -> None:
        self.extended: list[Any] = []
        self.down = False

    def ExtendFile(self, request: Any, timeout: float) -> Any:
        if self.down:
            raise errors.Unavailable("master down")
        self.extended.append(request)
        return None


class Peers(transport.Channels):
    def __init__(self) -> None:
        self.peers: dict[str, Peer] = {}
        self.the_master = Master()

    def master(self, address: str) -> Any:
        return self.the_master

    def get(self, address: str, *, plain: bool = False) -> Any:
        return self.peers[address]

    def chunkserver(self, address: str, plain: bool = False) -> Any:
        return self.peers[address]


def replica(root: Path, peers: Peers) -> Mutations:
    config = ChunkserverConfig(data_dir=root, max_chunk_size=CHUNK)
    store = ChunkStore(root / "chunks", CHUNK)
    store.set_version(HANDLE, VERSION, create=True)
    return Mutations(config, store, Spool(root / "spool", 60.0, 1 << 30, 1 << 30), peers)


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[tuple[Mutations, list[Mutations], Counter[str]]]:
    peers, calls = Peers(), Counter[str]()
    primary = replica(tmp_path / "p", peers)
    secondaries = [replica(tmp_path / f"s{i}", peers) for i in range(2)]
    for i, secondary in enumerate(secondaries):
        peers.peers[f"s{i}:1"] = Peer(secondary, calls)
    primary.primary.leases.grant(HANDLE, VERSION, 60, ["s0:1", "s1:1"], time.monotonic(), CHUNK)
    yield primary, secondaries, calls
    for m in (primary, *secondaries):
        m.close()


def counting_writes(store: ChunkStore) -> Counter[str]:
    """Counts the store's writes and id syncs from now on."""
    counts = Counter[str]()
    write, record_many = store.write, store.record_many

    def counted_write(*args: Any) -> int:
        counts["write"] += 1
        return write(*args)

    def counted_record_many(*args: Any) -> None:
        counts["ids"] += 1
        record_many(*args)

    store.write = counted_write  # type: ignore[method-assign,assignment]
    store.record_many = counted_record_many  # type: ignore[method-assign,assignment]
    return counts


def in_one_batch(primary: Mutations, appends: list[Callable[[], T]]) -> list[T]:
    """Runs `appends` at once while the chunk's lock is held, so that one waits for it as the
    next batch's leader and the rest queue behind; their results, in order."""
    results: dict[int, T] = {}

    def run(i: int) -> None:
        results[i] = appends[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(appends))]
    with primary.store.lock(HANDLE):
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while primary._appends.queued(HANDLE) < len(appends) - 1:
            assert time.monotonic() < deadline, "the appends did not queue"
            time.sleep(0.01)
    for t in threads:
        t.join(10)
    return [results[i] for i in range(len(appends))]


def test_appends_queued_behind_the_chunk_lock_land_back_to_back_in_one_write_per_replica(
    chain: tuple[Mutations, list[Mutations], Counter[str]],
) -> None:
    primary, secondaries, calls = chain
    records = {f"r{i}": frame(bytes([65 + i]) * (1000 + i), f"r{i}") for i in range(6)}
    first = primary.append(HANDLE, VERSION, "", "r0", records["r0"])  # surveys, alone
    counts = [counting_writes(m.store) for m in (primary, *secondaries)]
    calls.clear()
    ids = [f"r{i}" for i in range(1, 6)]
    landed = in_one_batch(
        primary,
        [partial(primary.append, HANDLE, VERSION, "", rid, records[rid]) for rid in ids],
    )
    answers = dict(zip(ids, landed, strict=True))
    answers["r0"] = first
    offsets = sorted((a.offset, rid) for rid, a in answers.items())
    at = 0
    for offset, rid in offsets:  # back to back, each where the one before ended
        assert offset == at and not answers[rid].duplicate
        at += len(records[rid])
    assert calls == {"ApplyAppends": 2}, "each secondary told once, for the five"
    for m, count in zip((primary, *secondaries), counts, strict=True):
        assert count == {"write": 1, "ids": 1}, "one write and one id sync per replica"
        with m.store.lock(HANDLE):
            held = m.store.peek(HANDLE, VERSION, 0, at)
        assert held == b"".join(records[rid] for _, rid in offsets)
        assert m.store.ids_of(HANDLE) == {rid: a.offset for rid, a in answers.items()}


def test_a_retried_id_queued_with_its_first_try_is_answered_with_the_first_offset(
    chain: tuple[Mutations, list[Mutations], Counter[str]],
) -> None:
    primary, secondaries, _ = chain
    primary.append(HANDLE, VERSION, "", "warm", b"w" * 10)
    record = frame(b"once", "once")
    answers = in_one_batch(
        primary, [lambda: primary.append(HANDLE, VERSION, "", "once", record)] * 3
    )
    assert len({a.offset for a in answers}) == 1, "one landing for the three tries"
    assert sorted(a.duplicate for a in answers) == [False, True, True]
    for m in (primary, *secondaries):
        with m.store.lock(HANDLE):
            assert m.store.length(HANDLE) == 10 + len(record)


def test_records_that_do_not_fit_pad_the_chunk_and_the_rest_of_the_batch_is_told_so(
    chain: tuple[Mutations, list[Mutations], Counter[str]],
) -> None:
    primary, secondaries, _ = chain
    big = 100_000
    for m in (primary, *secondaries):  # every replica nearly full
        with m.store.lock(HANDLE):
            m.store.write(HANDLE, VERSION, 0, b"x" * (CHUNK - big - 10))

    def append(i: int) -> Appended | errors.GfsError:
        try:
            return primary.append(HANDLE, VERSION, "", f"b{i}", bytes([i]) * big)
        except errors.GfsError as err:
            return err

    answers = dict(enumerate(in_one_batch(primary, [partial(append, i) for i in range(3)])))
    assert all(isinstance(a, Appended) for a in answers.values()), answers
    landed = [(i, a) for i, a in answers.items() if isinstance(a, Appended) and not a.padded]
    assert len(landed) == 1, "room for one record; the others are told to go on to the next"
    (i, first), start = landed[0], CHUNK - big - 10
    assert first.offset == start
    for m in (primary, *secondaries):
        with m.store.lock(HANDLE):
            assert m.store.length(HANDLE) == CHUNK, "padded to the chunk's end on every replica"
            tail = m.store.peek(HANDLE, VERSION, start, CHUNK - start)
        assert tail == bytes([i]) * big + bytes(10)


def test_the_primary_has_the_master_extend_the_file_once_for_a_batch(
    chain: tuple[Mutations, list[Mutations], Counter[str]],
) -> None:
    primary, _, _ = chain
    master = primary.channels.the_master  # type: ignore[attr-defined]
    first = primary.append(HANDLE, VERSION, "", "a0", b"x" * 100, "/log")
    assert first.extended and [(r.path, r.handle, r.chunk_end) for r in master.extended] == [
        ("/log", HANDLE, 100)
    ]
    master.extended.clear()
    answers = in_one_batch(
        primary,
        [
            partial(primary.append, HANDLE, VERSION, "", f"a{i}", b"y" * 10, "/log")
            for i in range(1, 5)
        ],
    )
    assert all(a.extended for a in answers)
    assert [(r.path, r.chunk_end) for r in master.extended] == [("/log", 140)], "one call"

    master.down = True  # the records still land; the clients are told to extend the file
    late = primary.append(HANDLE, VERSION, "", "late", b"z" * 10, "/log")
    assert late.offset == 140 and not late.extended
    unnamed = primary.append(HANDLE, VERSION, "", "", b"z" * 10)
    assert unnamed.offset == 150 and not unnamed.extended


@pytest.mark.parametrize("mutation", ["append", "write"])
def test_the_master_extends_the_file_while_the_secondaries_apply(
    chain: tuple[Mutations, list[Mutations], Counter[str]], mutation: str
) -> None:
    """Not after: a secondary that holds its apply until the master was asked would wait for
    good (here, 5 s) if the extension came after the apply."""
    primary, _, _ = chain
    master = primary.channels.the_master  # type: ignore[attr-defined]
    asked, extend = threading.Event(), master.ExtendFile

    def extending(request: Any, timeout: float) -> Any:
        asked.set()
        return extend(request, timeout)

    master.ExtendFile = extending
    peer = primary.channels.peers["s0:1"]  # type: ignore[attr-defined]
    unary_unary, waited = peer.unary_unary, []

    def held(*args: Any, **kwargs: Any) -> Any:
        call = unary_unary(*args, **kwargs)

        def holding(payload: bytes, timeout: float) -> Any:
            waited.append(asked.wait(5))
            return call(payload, timeout)

        return holding

    peer.unary_unary = held
    if mutation == "append":
        assert primary.append(HANDLE, VERSION, "", "a", b"x" * 100, "/log").extended
    else:
        assert primary.write(HANDLE, VERSION, 0, "", b"w" * 100, "/log") == (100, True)
    assert waited == [True], "the secondary applied only once the master had been asked"
    assert [(r.path, r.chunk_end) for r in master.extended] == [("/log", 100)]


def test_a_writes_primary_has_the_master_extend_the_file_when_given_its_path(
    chain: tuple[Mutations, list[Mutations], Counter[str]],
) -> None:
    primary, secondaries, _ = chain
    master = primary.channels.the_master  # type: ignore[attr-defined]
    assert primary.write(HANDLE, VERSION, 50, "", b"w" * 100, "/f") == (150, True)
    assert [(r.path, r.handle, r.chunk_end, r.primary) for r in master.extended] == [
        ("/f", HANDLE, 150, primary.address)
    ]
    for m in (primary, *secondaries):
        with m.store.lock(HANDLE):
            assert m.store.peek(HANDLE, VERSION, 50, 100) == b"w" * 100
    master.extended.clear()
    assert primary.write(HANDLE, VERSION, 150, "", b"v" * 10) == (160, False), "no path named"
    master.down = True  # applied all the same; the client is told to extend the file itself
    assert primary.write(HANDLE, VERSION, 160, "", b"u" * 10, "/f") == (170, False)
    assert master.extended == []
