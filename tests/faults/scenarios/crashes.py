"""Crashes: chunkservers, primaries, secondaries and the master killed mid-work."""

from __future__ import annotations

from tests.faults.scenarios.base import Ctx, scenario


@scenario("put")
def kill_chunkserver_during_put(ctx: Ctx) -> None:
    node = ctx.any_chunkserver()
    ctx.crash(node)
    ctx.hold(1)
    ctx.cluster.restart(node)


def _kill_primary(ctx: Ctx) -> None:
    primary, _ = ctx.roles()
    ctx.crash(primary)
    ctx.cluster.restart(primary)


@scenario("write")
def kill_primary_during_write(ctx: Ctx) -> None:
    _kill_primary(ctx)


@scenario("append")
def kill_secondary_during_append(ctx: Ctx) -> None:
    _, secondaries = ctx.roles()
    node = ctx.rng.choice(secondaries)
    ctx.crash(node)
    ctx.cluster.restart(node)


@scenario("append-no-ids")
def kill_primary_during_append_without_ids(ctx: Ctx) -> None:
    _kill_primary(ctx)


def _master_down_briefly(ctx: Ctx) -> None:
    ctx.cluster.kill(ctx.master)
    ctx.hold(1.5)
    ctx.cluster.restart(ctx.master)


@scenario("put")
def kill_master_during_put(ctx: Ctx) -> None:
    _master_down_briefly(ctx)


@scenario("append")
def kill_master_during_append(ctx: Ctx) -> None:
    _master_down_briefly(ctx)


@scenario("read")
def kill_master_during_read(ctx: Ctx) -> None:
    """Reads go on through the shadow (of replicas, a standby) while the master is down."""
    ctx.cluster.kill(ctx.master)
    ctx.workload.wait_progress(3)
    ctx.cluster.restart(ctx.master)


@scenario("read")
def kill_two_chunkservers_during_read(ctx: Ctx) -> None:
    """R-1 replicas of a chunk lost at once: reads fail over to the last one."""
    _, holders = ctx.replica_holders(ctx.workload.hot_path)
    lost = ctx.rng.sample(holders, 2)
    for node in lost:
        ctx.cluster.kill(node)
    ctx.hold(2)
    for node in lost:
        ctx.cluster.restart(node)
