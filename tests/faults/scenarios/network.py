"""The network: partitions, isolation, packet loss and slow links."""

from __future__ import annotations

from tests.faults.cluster import CHUNKSERVERS, CLIENT
from tests.faults.scenarios.base import LEASE, Ctx, scenario


@scenario("put", "partition")
def isolate_chunkserver_during_put(ctx: Ctx) -> None:
    node = ctx.any_chunkserver()
    ctx.cluster.isolate(node)
    ctx.wait_dead(node)
    ctx.hold(1)
    ctx.cluster.heal()


@scenario("append", "partition")
def isolate_primary_past_its_lease_during_append(ctx: Ctx) -> None:
    primary, _ = ctx.roles()
    ctx.cluster.isolate(primary)
    ctx.wait_dead(primary)
    ctx.hold(LEASE + 1)
    ctx.cluster.heal()


@scenario("read", "partition")
def partition_client_from_master_during_read(ctx: Ctx) -> None:
    """Reads of located chunks go on; the shadow answers lookups."""
    ctx.cluster.partition(CLIENT, ctx.master)
    ctx.hold(4)
    ctx.cluster.heal()


@scenario("write", "partition")
def partition_master_from_chunkserver_during_write(ctx: Ctx) -> None:
    """The master declares a live server dead and re-replicates; on healing its replicas are
    surplus (or stale) and are trimmed."""
    _, secondaries = ctx.roles()
    node = ctx.rng.choice(secondaries)
    ctx.cluster.partition(ctx.master, node)
    ctx.wait_dead(node)
    ctx.hold(2)
    ctx.cluster.heal()


@scenario("write", "partition")
def partition_client_from_primary_during_write(ctx: Ctx) -> None:
    primary, _ = ctx.roles()
    ctx.cluster.partition(CLIENT, primary)
    ctx.hold(4)
    ctx.cluster.heal()


@scenario("append", "partition")
def partition_primary_from_secondary_during_append(ctx: Ctx) -> None:
    primary, secondaries = ctx.roles()
    ctx.cluster.partition(primary, ctx.rng.choice(secondaries))
    ctx.hold(4)
    ctx.cluster.heal()


@scenario("put", "partition")
def packet_loss_during_put(ctx: Ctx) -> None:
    ctx.cluster.lossy(ctx.any_chunkserver(), 0.15)
    ctx.hold(5)
    ctx.cluster.heal()


@scenario("write", "shaping")
def slow_links_on_every_chunkserver_during_write(ctx: Ctx) -> None:
    ctx.cluster.slow(list(CHUNKSERVERS), "4mbit")
    ctx.hold(5)
    ctx.cluster.heal()


@scenario("append", "partition")
def packet_loss_at_the_primary_during_append(ctx: Ctx) -> None:
    primary, _ = ctx.roles()
    ctx.cluster.lossy(primary, 0.1)
    ctx.hold(5)
    ctx.cluster.heal()
