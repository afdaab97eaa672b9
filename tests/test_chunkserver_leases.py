"""The primary's lease clock and the push spool, with a fake clock."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from chunkserver.checksum import BLOCK, block_crcs
from chunkserver.leases import MAX_DRIFT, LeaseTable
from chunkserver.spool import Spool
from common import errors


def test_a_primary_refuses_mutations_once_its_own_lease_clock_runs_out() -> None:
    leases = LeaseTable()
    leases.grant(7, version=3, seconds=10.0, secondaries=["b", "c"], now=100.0)
    end = 100.0 + 10.0 * (1 - MAX_DRIFT)  # a clock up to MAX_DRIFT slow stops in time
    assert leases.check(7, 3, now=end - 0.01).secondaries == ("b", "c")
    with pytest.raises(errors.Aborted, match="expired"):
        leases.check(7, 3, now=end)
    with pytest.raises(errors.Aborted, match="not the primary"):
        leases.check(7, 4, now=101.0)
    with pytest.raises(errors.Aborted):
        leases.check(8, 1, now=101.0)


def test_only_leases_used_and_past_half_their_length_ask_for_extension() -> None:
    leases = LeaseTable()
    leases.grant(1, version=2, seconds=10.0, secondaries=[], now=0.0)
    leases.grant(2, version=5, seconds=10.0, secondaries=[], now=0.0)
    assert leases.extension_requests(now=6.0) == [], "no mutation yet"
    leases.next_serial(1)
    assert leases.extension_requests(now=2.0) == [], "more than half the lease is left"
    assert leases.extension_requests(now=6.0) == [(1, 2)]
    assert leases.extension_requests(now=7.0) == [], "asked once per burst of mutations"
    leases.extend(1, 2, until=6.0 + 10.0)
    leases.check(1, 2, now=15.0)
    leases.extend(1, 1, until=100.0)  # for an older version: ignored
    with pytest.raises(errors.Aborted):
        leases.check(1, 2, now=16.5)
    leases.next_serial(2)
    assert leases.extension_requests(now=10.0) == [], "an expired lease asks for nothing"


def test_an_extension_brings_the_lease_token_the_secondaries_are_shown_from_then_on() -> None:
    leases = LeaseTable()
    leases.grant(7, version=3, seconds=10.0, secondaries=["b"], now=0.0, token=b"first term")
    leases.extend(7, 3, until=20.0, token=b"second term")
    assert leases.check(7, 3, now=15.0).token == b"second term"
    leases.extend(7, 3, until=30.0)  # an insecure master's extension carries none
    assert leases.check(7, 3, now=25.0).token == b"second term"


def test_serial_numbers_increase_per_chunk() -> None:
    leases = LeaseTable()
    assert [leases.next_serial(1), leases.next_serial(1), leases.next_serial(2)] == [1, 2, 1]


def push(spool: Spool, data_id: str, pieces: list[bytes], now: float) -> None:
    writer = spool.open(data_id, now, expected=sum(map(len, pieces)))
    for piece in pieces:
        writer.write(piece)
    spool.add(data_id, writer.finish(), now)


def test_the_spool_checksums_blocks_across_uneven_pieces(tmp_path: Path) -> None:
    spool = Spool(tmp_path, ttl=5.0, limit=10 * BLOCK)
    data = bytes(range(256)) * (3 * BLOCK // 256) + b"tail"
    cuts = [0, 1000, BLOCK + 5, BLOCK + 6, 2 * BLOCK, len(data)]
    push(spool, "a", [data[x:y] for x, y in itertools.pairwise(cuts)], now=0.0)
    pushed = spool.get("a")
    assert pushed.path.read_bytes() == data
    assert pushed.size == len(data)
    assert list(pushed.crcs) == block_crcs(data)


def test_the_spool_expires_pushes_and_enforces_a_limit(tmp_path: Path) -> None:
    spool = Spool(tmp_path, ttl=5.0, limit=10)
    push(spool, "a", [b"12345678"], now=0.0)
    with pytest.raises(errors.ResourceExhausted):
        spool.open("b", now=1.0, expected=5)
    spool.open("b", now=6.0, expected=5).abort()  # "a" expired meanwhile
    with pytest.raises(errors.Aborted, match="push it again"):
        spool.get("a")
    push(spool, "c", [b"xy"], now=7.0)
    spool.drop("c")
    assert spool.held == 0
    assert list(tmp_path.iterdir()) == [], "no spool file outlives its push"


def test_one_user_holds_a_bounded_share_of_the_spool(tmp_path: Path) -> None:
    """Pushes never written filled the spool for everyone until they expired."""
    spool = Spool(tmp_path, ttl=5.0, limit=100, per_owner=10)
    for i in range(2):
        writer = spool.open(f"alice-{i}", now=0.0, expected=1, owner="alice")
        writer.write(b"x" * 6)
        spool.add(f"alice-{i}", writer.finish(), 0.0, owner="alice")
    with pytest.raises(errors.ResourceExhausted, match="'alice' holds 12 bytes"):
        spool.open("alice-2", now=1.0, expected=1, owner="alice")
    spool.open("bob-0", now=1.0, expected=1, owner="bob").abort()  # others still push
    spool.forget("alice-0")  # written: installed as a replica
    spool.open("alice-2", now=1.0, expected=1, owner="alice").abort()
    spool.open("alice-3", now=6.0, expected=1, owner="alice").abort()  # or expired
    assert spool.held == 0


def test_malformed_data_ids_are_refused(tmp_path: Path) -> None:
    spool = Spool(tmp_path, ttl=5.0, limit=10)
    for bad in ["", "../x", ".hidden"]:
        with pytest.raises(errors.InvalidArgument):
            spool.open(bad, now=0.0, expected=1)
