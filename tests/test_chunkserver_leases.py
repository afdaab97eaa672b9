"""The primary's lease clock and the push buffers, with a fake clock."""

from __future__ import annotations

import pytest

from chunkserver.buffers import DataBuffers
from chunkserver.leases import LeaseTable
from client import errors


def test_a_primary_refuses_mutations_once_its_own_lease_clock_runs_out() -> None:
    leases = LeaseTable()
    leases.grant(7, version=3, seconds=10.0, secondaries=["b", "c"], now=100.0)
    assert leases.check(7, 3, now=109.9).secondaries == ("b", "c")
    with pytest.raises(errors.Aborted, match="expired"):
        leases.check(7, 3, now=110.0)
    with pytest.raises(errors.Aborted, match="not the primary"):
        leases.check(7, 4, now=101.0)
    with pytest.raises(errors.Aborted):
        leases.check(8, 1, now=101.0)


def test_serial_numbers_increase_per_chunk() -> None:
    leases = LeaseTable()
    assert [leases.next_serial(1), leases.next_serial(1), leases.next_serial(2)] == [1, 2, 1]


def test_buffers_expire_and_enforce_a_limit() -> None:
    buffers = DataBuffers(ttl=5.0, limit=10)
    buffers.put("a", b"12345678", now=0.0)
    with pytest.raises(errors.ResourceExhausted):
        buffers.reserve(5, now=1.0)
    buffers.reserve(5, now=6.0)  # "a" expired
    with pytest.raises(errors.Aborted, match="push it again"):
        buffers.get("a")
    buffers.put("b", b"xy", now=7.0)
    buffers.drop("b")
    assert buffers.held == 0
