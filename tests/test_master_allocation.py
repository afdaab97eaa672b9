"""A new chunk's allocation: its replicas placed on distinct servers, apart from chunks made at
the same moment, one chunk at a time past a file's end; and its first lease, which needs no
version bump only when every creation was acknowledged and every replica lives (with a fake
clock and the fake chunkservers of tests/master_fakes.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from common import errors
from master import leases
from master.chunkservers import Heartbeat
from master.service import MasterService
from master.state import Chunk
from tests.master_fakes import FakeCluster, beat_all, four_servers


@pytest.fixture
def setup(tmp_path: Path) -> tuple[MasterService, FakeCluster, list[float]]:
    return four_servers(tmp_path)


def test_a_new_chunk_is_created_on_three_distinct_servers_and_leased_at_its_version(setup) -> None:  # type: ignore[no-untyped-def]
    """Every creation acknowledged, every replica alive: no creation can still arrive late, so
    the first lease needs no bump (its three version calls and two commits were most of a
    small file's cost). The grant clears the floor: replicas below v2 are stale from then."""
    service, fake, _ = setup
    view = service.get_chunk("/f", 0, for_write=True)
    creates = [s for s in fake.sent if s.method == "SetVersion" and s.request.create]
    assert len({s.address for s in creates}) == 3
    assert all(s.request.version == 2 and s.logged_version == 2 for s in creates)
    assert [s for s in fake.sent if s.method == "SetVersion" and not s.request.create] == []
    (grant,) = [s for s in fake.sent if s.method == "GrantLease"]
    assert grant.logged_holder == grant.address, "the lease is logged before the primary is told"
    assert view.primary == grant.address and view.version == 2
    assert sorted(grant.request.secondaries) == sorted(set(view.replicas) - {view.primary})
    chunk = service.chunk(1)
    assert chunk is not None and chunk.floor == 0 and not chunk.never_written


def test_chunks_created_at_the_same_moment_go_to_different_servers(setup) -> None:  # type: ignore[no-untyped-def]
    """Equally empty servers are ranked by the chunks they hold, which grows only once a
    creation is acknowledged: replicas still being made count too, or two files started
    together would get the same three servers and share every link."""
    service, fake, _ = setup
    for address in ("e:1", "f:1"):
        service.heartbeat(Heartbeat(address, "r", 0, 10**12))
    service.create("/g")
    go, first_sent = threading.Event(), threading.Event()

    def held(address: str) -> None:
        first_sent.set()
        assert go.wait(10), "the creations were never let through"

    fake.on_set_version = held
    first = threading.Thread(target=service.chunks._allocate_through, args=("/f", 0))
    first.start()
    assert first_sent.wait(10)  # the first chunk's servers are chosen, its creations held
    second = threading.Thread(target=service.chunks._allocate_through, args=("/g", 0))
    second.start()
    deadline = time.monotonic() + 10
    while len([s for s in fake.sent if s.method == "SetVersion"]) < 6:
        assert time.monotonic() < deadline, "the second chunk's creations were not sent"
        time.sleep(0.01)
    go.set()
    first.join(10)
    second.join(10)
    placed = {
        handle: {
            s.address for s in fake.sent if s.method == "SetVersion" and s.request.handle == handle
        }
        for handle in (1, 2)
    }
    assert len(placed[1]) == len(placed[2]) == 3
    assert not placed[1] & placed[2], f"both chunks placed on {placed[1] & placed[2]}"


def test_a_new_chunk_whose_replica_died_before_its_first_lease_is_bumped(setup) -> None:  # type: ignore[no-untyped-def]
    """The dead one would come back with an empty replica at the lease's version, beside
    replicas holding its writes: the bump makes it stale."""
    service, fake, clock = setup
    service.chunks._allocate_through("/f", 0)
    created = {s.address for s in fake.sent if s.method == "SetVersion" and s.request.create}
    dead = sorted(created)[0]
    clock[0] += 60  # past the dead-after: only the others report
    beat_all(service, fake, except_=dead)
    view = service.get_chunk("/f", 0, for_write=True)
    bumps = [s for s in fake.sent if s.method == "SetVersion" and not s.request.create]
    assert bumps and all(s.request.version == 3 for s in bumps)
    assert view.version == 3 and dead not in view.replicas


def test_a_creation_a_server_missed_is_fenced_out_by_a_bump(setup) -> None:  # type: ignore[no-untyped-def]
    """A creation that did not reach a server may reach it late (found by the fault suite):
    its empty replica must then be stale, not a current one without the data written since."""
    service, fake, _ = setup
    fake.down = {"a:1", "b:1"}  # at least one of them is among the three chosen
    view = service.get_chunk("/f", 0, for_write=True)
    missed = {s.address for s in fake.sent if s.method == "SetVersion"} & fake.down
    assert missed and view.version >= 3
    bumps = [s for s in fake.sent if s.method == "SetVersion" and not s.request.create]
    assert bumps and bumps[0].request.version == 3
    assert all(s.logged_version == s.request.version for s in bumps), "logged before sent"
    assert missed.isdisjoint(view.replicas)
    fake.down = set()
    for address in missed:  # the creation arrives after all
        fake.held.setdefault(address, {})[1] = 2
    beat_all(service, fake)
    assert missed.isdisjoint(service.get_chunk("/f", 0, for_write=False).replicas)


def test_a_write_lookup_adds_at_most_one_chunk_past_the_end(setup) -> None:  # type: ignore[no-untyped-def]
    """One GetChunk(for_write) with index 3000 used to create 3001 chunks, ~9000 replicas."""
    service, fake, _ = setup
    with pytest.raises(errors.OutOfRange, match="more than one past its end"):
        service.get_chunk("/f", 3000, for_write=True)
    assert service.state.chunks == {} and fake.sent == [], "nothing allocated, nobody told"
    service.get_chunk("/f", 0, for_write=True)
    service.get_chunk("/f", 1, for_write=True)
    assert len(service.stat("/f")[0].chunks) == 2


def test_only_a_never_leased_new_chunk_created_cleanly_skips_the_bump() -> None:
    new = Chunk(1, version=2, floor=1)
    both = ["a:1", "b:1"]
    clean = frozenset(both)
    assert leases.first_grant_needs_no_bump(new, both, [], clean)
    assert not leases.first_grant_needs_no_bump(new, both, [], None), "creations unknown"
    assert not leases.first_grant_needs_no_bump(new, ["a:1"], [], clean), "one not alive"
    assert not leases.first_grant_needs_no_bump(new, both, ["c:1"], clean), "one lost"
    for old in (
        Chunk(1, version=1),  # made before chunks started at version 2
        Chunk(1, version=2),  # leased once already
        Chunk(1, version=3, floor=1),  # a bump no replica took
        Chunk(1, version=2, floor=1, lease_holder="a:1", lease_expiry=5.0),
    ):
        assert not leases.first_grant_needs_no_bump(old, both, [], clean), old
