"""Disks failing under a server: full, read-only, removed, failing with EIO, slow; and a
full master disk."""

from __future__ import annotations

from tests.faults.cluster import CHUNKSERVERS
from tests.faults.scenarios.base import Ctx, scenario

# Each chunkserver has two data directories and tolerates one failed: a failed one is taken out
# with its replicas (which the master copies elsewhere) and the server serves on from the other;
# both failed, it stops. Healing mends the directory and restarts the server.


@scenario("put", "small-disk")
def second_disk_read_only_during_put(ctx: Ctx) -> None:
    node = ctx.any_chunkserver()
    ctx.note("fail_dir", node=node, index=1, how="read-only")
    ctx.cluster.fail_dir(node, 1, "read-only")
    ctx.hold(4)


@scenario("append")
def primarys_disk_removed_during_append(ctx: Ctx) -> None:
    primary, _ = ctx.roles()
    index = ctx.rng.randrange(2)
    ctx.note("fail_dir", node=primary, index=index, how="removed")
    ctx.cluster.fail_dir(primary, index, "removed")
    ctx.hold(4)


@scenario("idle")
def disk_removed_at_idle(ctx: Ctx) -> None:
    """Nobody touches the server's replicas: the periodic probe finds the directory gone."""
    node = ctx.any_chunkserver()
    ctx.note("fail_dir", node=node, index=1, how="removed")
    ctx.cluster.fail_dir(node, 1, "removed")
    ctx.hold(3)


@scenario("write", "small-disk")
def both_disks_of_a_secondary_fail_during_write(ctx: Ctx) -> None:
    """One more failed directory than tolerated: the server stops, as a dead one."""
    _, secondaries = ctx.roles()
    node = ctx.rng.choice(secondaries)
    # (the first directory holds the push spool, always being written: the kernel refuses to
    # remount a filesystem read-only while a file on it is open for writing)
    ctx.note("fail_dir", node=node, index=1, how="read-only")
    ctx.cluster.fail_dir(node, 1, "read-only")
    ctx.note("fail_dir", node=node, index=0, how="removed")
    ctx.cluster.fail_dir(node, 0, "removed")
    ctx.wait_dead(node)
    ctx.hold(1)


@scenario("put", "small-disk")
def disks_fail_on_two_servers_during_put(ctx: Ctx) -> None:
    first, second = ctx.rng.sample(CHUNKSERVERS, 2)
    ctx.cluster.fail_dir(first, 0, "removed")  # (the second: see both_disks_of_a_secondary)
    ctx.cluster.fail_dir(second, 1, "read-only")
    ctx.note("fail_dir", node=first, index=0, how="removed")
    ctx.note("fail_dir", node=second, index=1, how="read-only")
    ctx.hold(4)


# Sick disks (local processes: diskfaults.c preloaded in each chunkserver): one that fails every
# I/O with EIO, as a dying disk, and one that answers every I/O late.


def _replica_dir(ctx: Ctx, node: str) -> int:
    """The data directory of `node` that holds the replica of the hot chunk."""
    handle = ctx.client.stat(ctx.workload.hot_path).chunks[-1].handle
    where = ctx.cluster.replica_file(node, handle).parents[1]
    return ctx.cluster.data_dirs(node).index(where)


@scenario("write")
def secondarys_disk_fails_with_eio_during_write(ctx: Ctx) -> None:
    """Under the replica being written: the server takes the disk out at the first EIO (or
    stops, if it is the first, with the push spool), the lease it was a secondary under ends,
    and the writes go on at a new version."""
    _, secondaries = ctx.roles()
    node = ctx.rng.choice(secondaries)
    index = _replica_dir(ctx, node)
    ctx.note("fail_dir", node=node, index=index, how="eio")
    ctx.cluster.fail_dir(node, index, "eio")
    ctx.workload.wait_progress(3, timeout=30)


@scenario("append")
def primarys_disk_fails_with_eio_during_append(ctx: Ctx) -> None:
    primary, _ = ctx.roles()
    index = _replica_dir(ctx, primary)
    ctx.note("fail_dir", node=primary, index=index, how="eio")
    ctx.cluster.fail_dir(primary, index, "eio")
    ctx.workload.wait_progress(3, timeout=30)


def _reported_slow(ctx: Ctx, node: str) -> None:
    """Until `gfs report` shows `node`'s slow disk and lookups list its replicas as slow (read
    last)."""
    address = ctx.cluster.address(node)

    def reported() -> bool:
        report = ctx.client.report().chunkservers
        return any(s.address == address and s.slow_dirs for s in report)

    ctx.cluster.wait_until(reported, 30, f"{node}'s slow disk is reported")
    chunks = ctx.client.stat(ctx.workload.hot_path).chunks
    assert all(address in c.slow for c in chunks if address in c.replicas), "read last"


@scenario("write")
def slow_disk_under_a_secondary_during_write(ctx: Ctx) -> None:
    """Every I/O of the replica takes 200 ms: slow, never wrong, and writes still finish."""
    _, secondaries = ctx.roles()
    node = ctx.rng.choice(secondaries)
    index = _replica_dir(ctx, node)
    ctx.note("slow_dir", node=node, index=index, delay_ms=200)
    ctx.cluster.slow_dir(node, index, 200)
    _reported_slow(ctx, node)
    ctx.workload.wait_progress(3, timeout=60)


@scenario("read")
def slow_disks_on_two_servers_during_read(ctx: Ctx) -> None:
    """Readers take the other replicas first; a chunk whose every replica is slow still reads."""
    for node in ctx.rng.sample(CHUNKSERVERS, 2):
        index = ctx.rng.randrange(2)
        ctx.note("slow_dir", node=node, index=index, delay_ms=300)
        ctx.cluster.slow_dir(node, index, 300)
        _reported_slow(ctx, node)
    ctx.workload.wait_progress(3, timeout=60)


def _master_disk_full(ctx: Ctx) -> None:
    """Mutations that need the log are refused with one line; nothing is applied halfway."""
    ctx.note("fill_disk", node=ctx.master)
    ctx.cluster.fill_disk(ctx.master)
    ctx.hold(4)
    ctx.cluster.heal()


@scenario("write", "small-disk")
def master_disk_full_during_write(ctx: Ctx) -> None:
    _master_disk_full(ctx)


@scenario("append", "small-disk")
def master_disk_full_during_append(ctx: Ctx) -> None:
    _master_disk_full(ctx)
