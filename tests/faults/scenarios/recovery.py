"""Faults while the cluster recovers: stale replicas, rolling restarts, re-replication."""

from __future__ import annotations

from tests.faults.cluster import CHUNKSERVERS
from tests.faults.scenarios.base import Ctx, scenario


@scenario("write")
def stale_replica_rejoins_after_writes(ctx: Ctx) -> None:
    """A server down while its chunks are written comes back with old versions."""
    _, secondaries = ctx.roles()
    node = ctx.rng.choice(secondaries)
    ctx.cluster.kill(node)
    ctx.workload.wait_progress(5)
    ctx.cluster.restart(node)
    ctx.hold(2)


def _rolling_restart(ctx: Ctx, progress: int) -> None:
    """R-1 servers per round, two rounds, each round waiting for the restarted to rejoin and
    for `progress` operations to succeed."""
    order = list(CHUNKSERVERS)
    ctx.rng.shuffle(order)
    for pair in (order[:2], order[2:]):
        for node in pair:
            ctx.cluster.restart(node)
        ctx.cluster.wait_serving()
        ctx.workload.wait_progress(progress)


@scenario("append")
def rolling_restart_during_append(ctx: Ctx) -> None:
    _rolling_restart(ctx, 3)


@scenario("put")
def rolling_restart_during_put(ctx: Ctx) -> None:
    _rolling_restart(ctx, 2)


def _start_rereplication(ctx: Ctx) -> str:
    node = ctx.any_chunkserver()
    ctx.crash(node)
    return node


@scenario("idle")
def master_restart_during_rereplication(ctx: Ctx) -> None:
    _start_rereplication(ctx)
    ctx.cluster.restart(ctx.master)
    ctx.hold(1)


@scenario("idle")
def second_chunkserver_lost_during_rereplication(ctx: Ctx) -> None:
    first = _start_rereplication(ctx)
    second = ctx.rng.choice([n for n in CHUNKSERVERS if n != first])
    ctx.crash(second)
    ctx.cluster.restart(first)
    ctx.cluster.restart(second)


@scenario("write")
def chunkserver_killed_while_master_restarts(ctx: Ctx) -> None:
    """The master restarts (safe mode, waiting out leases) and meanwhile a server dies."""
    ctx.cluster.kill(ctx.master)
    node = ctx.any_chunkserver()
    ctx.cluster.kill(node)
    ctx.cluster.restart(ctx.master)
    ctx.hold(2)
    ctx.cluster.restart(node)
