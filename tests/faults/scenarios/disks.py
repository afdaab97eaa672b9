"""Damaged replicas on disk: a flipped byte, a truncated or deleted chunk file."""

from __future__ import annotations

from tests.faults.checkers import REPLICATION, read_replica
from tests.faults.scenarios.base import Ctx, scenario


def _damage(ctx: Ctx, count: int, how: str) -> None:
    """Damages the first chunk of the hot file on `count` of its servers (the file is read once:
    readers move the hot file on meanwhile), then waits until the chunk is whole
    again: R listed replicas, each of which reads back verified. The damage is found by the
    scrubber or by a read; the repair may drop a damaged replica or copy over it in place."""
    path = ctx.workload.hot_path
    handle, holders = ctx.replica_holders(path)
    nodes = ctx.rng.sample(holders, count)
    for node in nodes:
        ctx.note("damage", node=node, handle=handle, how=how)
        ctx.cluster.corrupt(node, handle, how, ctx.rng)

    def repaired() -> bool:
        chunk = ctx.client.stat(path).chunks[0]
        for address in chunk.replicas:  # a damaged one raises DataLoss: not yet
            read_replica(ctx.client.channels, address, chunk)
        return len(chunk.replicas) == REPLICATION

    ctx.cluster.wait_until(repaired, 30, f"chunk {handle}, damaged on {nodes}, is whole again")


@scenario("idle")
def flipped_byte_at_idle(ctx: Ctx) -> None:
    _damage(ctx, 1, "flip")


@scenario("idle")
def truncated_chunk_file_at_idle(ctx: Ctx) -> None:
    _damage(ctx, 1, "truncate")


@scenario("idle")
def deleted_chunk_file_at_idle(ctx: Ctx) -> None:
    _damage(ctx, 1, "delete")


@scenario("read")
def flipped_bytes_during_read(ctx: Ctx) -> None:
    """Two of three replicas damaged while clients read: none of them is given bad bytes."""
    _damage(ctx, 2, "flip")


@scenario("put", "small-disk")
def full_disk_during_put(ctx: Ctx) -> None:
    node = ctx.any_chunkserver()
    ctx.cluster.fill_disk(node)
    ctx.hold(4)
    ctx.cluster.heal()
