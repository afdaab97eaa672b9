"""The pieces a push travels in: sized to how fast the client's pushes went."""

from __future__ import annotations

from collections.abc import Iterator

from client.chunkio import ChunkIO
from client.locations import LocationCache
from client.pieces import MAX_PIECE, MIN_PIECE, PushSpeed, piece_for
from protos import chunkserver_pb2

KIB = 1024


def test_before_any_push_pieces_are_a_sixty_fourth_between_32_kib_and_1_mib() -> None:
    assert piece_for(1_000) == MIN_PIECE == 32 * KIB
    assert piece_for(1_000_000) == 32 * KIB
    assert piece_for(16 * 2**20) == 256 * KIB
    assert piece_for(64 * 2**20) == MAX_PIECE == 2**20


def test_pieces_are_what_the_chain_carried_in_four_milliseconds() -> None:
    # 100 Mbit/s links: a push goes at ~11 MB/s, and pieces stay at 32 KiB.
    assert piece_for(1_000_000, 11.2e6) == 32 * KIB
    # A fast chain (this host's loopback): 200 KB, down to a whole number of 32 KiB.
    assert piece_for(1_000_000, 50e6) == 192 * KIB
    # Never past 1 MiB, and a large push keeps its sixty-fourth on a slow chain.
    assert piece_for(1_000_000, 10e9) == MAX_PIECE
    assert piece_for(64 * 2**20, 1e6) == MAX_PIECE


def test_the_speed_follows_the_newest_pushes_and_ignores_a_push_of_no_time() -> None:
    speed = PushSpeed(weight=0.5)
    assert speed.bytes_per_second == 0
    speed.record(1_000_000, 0.01)  # 100 MB/s: the first push is taken as it is
    assert speed.bytes_per_second == 100e6
    speed.record(1_000_000, 0.1)  # 10 MB/s: half way there
    assert speed.bytes_per_second == 55e6
    speed.record(1_000_000, 0.0)
    assert speed.bytes_per_second == 55e6


class _Chain:
    """A stand-in first server of a chain: takes a push's pieces, noting their sizes."""

    def __init__(self) -> None:
        self.pushes: list[list[int]] = []

    def chunkserver(self, address: str) -> _Chain:
        return self

    def PushData(
        self, pieces: Iterator[chunkserver_pb2.DataPiece], timeout: float
    ) -> chunkserver_pb2.PushDataResponse:
        self.pushes.append([len(p.data) for p in pieces])
        return chunkserver_pb2.PushDataResponse()


def test_a_client_pushes_in_pieces_sized_by_its_earlier_pushes() -> None:
    chain = _Chain()
    io = ChunkIO(chain, LocationCache(60), lambda *_: None, timeout=5)  # type: ignore[arg-type]
    data = bytes(1_000_000)
    io.push(["a:1", "b:1"], "d1", (1, 0), data)
    assert chain.pushes[0] == [32 * KIB] * 30 + [1_000_000 - 30 * 32 * KIB]
    assert io.push_speed.bytes_per_second > 0, "the push's speed was noted"
    io.push_speed = PushSpeed()
    io.push_speed.record(1_000_000, 0.02)  # 50 MB/s
    io.push(["a:1", "b:1"], "d2", (1, 0), data)
    assert chain.pushes[1][:-1] == [192 * KIB] * 5 and sum(chain.pushes[1]) == 1_000_000
