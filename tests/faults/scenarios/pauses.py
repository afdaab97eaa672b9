"""Pauses: servers stopped (SIGSTOP, the freezer) while alive to the kernel."""

from __future__ import annotations

from tests.faults.scenarios.base import DEAD_AFTER, LEASE, Ctx, scenario


@scenario("read")
def pause_chunkserver_during_read(ctx: Ctx) -> None:
    node = ctx.any_chunkserver()
    ctx.cluster.pause(node)
    ctx.hold(3)
    ctx.cluster.resume(node)


@scenario("put")
def pause_chunkserver_during_put(ctx: Ctx) -> None:
    node = ctx.any_chunkserver()
    ctx.cluster.pause(node)
    ctx.wait_dead(node)
    ctx.cluster.resume(node)


@scenario("write")
def pause_primary_past_its_lease_during_write(ctx: Ctx) -> None:
    """The master must not name a new primary before the old lease ran out, and the old
    primary, resumed, must not order writes any more."""
    primary, _ = ctx.roles()
    ctx.cluster.pause(primary)
    ctx.wait_dead(primary)
    ctx.hold(LEASE + 1)
    ctx.cluster.resume(primary)


@scenario("append")
def pause_secondary_during_append(ctx: Ctx) -> None:
    _, secondaries = ctx.roles()
    node = ctx.rng.choice(secondaries)
    ctx.cluster.pause(node)
    ctx.hold(DEAD_AFTER + 1)
    ctx.cluster.resume(node)


@scenario("write")
def pause_master_during_write(ctx: Ctx) -> None:
    ctx.cluster.pause(ctx.master)
    ctx.hold(3)
    ctx.cluster.resume(ctx.master)
