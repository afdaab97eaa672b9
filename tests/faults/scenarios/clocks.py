"""Clocks: servers on clocks set wrong or running fast or slow (libfaketime)."""

from __future__ import annotations

from tests.faults.cluster import CHUNKSERVERS
from tests.faults.scenarios.base import LEASE, LOCAL, Ctx, scenario

# A node restarted on a faked clock (libfaketime): set an hour wrong, or running slow or fast.
# Leases are counted on monotonic clocks with a drift margin, and a new lease raises the chunk's
# version, so however wrong a clock, the one-primary checker finds no two primaries at once.

HOUR = 3600


@scenario("write")
def master_restarts_an_hour_behind_and_a_primary_dies_during_write(ctx: Ctx) -> None:
    """The leases the master stored end an hour ahead of its clock now: waiting them out
    would stall every chunk whose primary is gone for an hour."""
    ctx.note("clock", node=ctx.master, faketime=f"-{HOUR}")
    ctx.cluster.skew_clock(ctx.master, f"-{HOUR}")
    ctx.cluster.wait_serving()
    primary, _ = ctx.roles()
    ctx.crash(primary)
    ctx.workload.wait_progress(3, timeout=30)  # on the wrong clock still


@scenario("append")
def master_restarts_an_hour_ahead_during_append(ctx: Ctx) -> None:
    """Every stored lease looks long over: new primaries are named at once, each under a
    new version, while the old ones may still count theirs."""
    ctx.note("clock", node=ctx.master, faketime=f"+{HOUR}")
    ctx.cluster.skew_clock(ctx.master, f"+{HOUR}")
    ctx.cluster.wait_serving()
    ctx.workload.wait_progress(3, timeout=30)


@scenario("write")
def secondary_restarts_an_hour_ahead_during_write(ctx: Ctx) -> None:
    """By its own clock every token the master signs ended an hour ago (a secure cluster's):
    it judges them by the master's clock, which comes with the keys, so writes go on through
    it instead of failing at it until someone sets its clock."""
    _, secondaries = ctx.roles()
    node = ctx.rng.choice(secondaries)
    ctx.note("clock", node=node, faketime=f"+{HOUR}")
    ctx.cluster.skew_clock(node, f"+{HOUR}")
    ctx.cluster.wait_serving()
    ctx.workload.wait_progress(5, timeout=30)
    ctx.hold(LEASE)


@scenario("write", "partition")
def slow_primary_cut_off_past_its_lease_during_write(ctx: Ctx) -> None:
    """A primary whose clock runs at half speed believes in its lease twice as long as the
    master does (far past the drift margin), and is cut off from the master past its end."""
    primary, _ = ctx.roles()
    ctx.note("clock", node=primary, faketime="+0 x0.5")
    ctx.cluster.skew_clock(primary, "+0 x0.5")
    ctx.cluster.wait_serving()
    primary, _ = ctx.roles()
    ctx.note("partition", a=primary, b=ctx.master)
    ctx.cluster.partition(primary, ctx.master)
    ctx.hold(2.5 * LEASE)


@scenario("append")
def chunkservers_clocks_fast_and_slow_during_append(ctx: Ctx) -> None:
    """Two servers' clocks at twice the speed, two at 0.9: within and past the margin."""
    order = list(CHUNKSERVERS)
    ctx.rng.shuffle(order)
    for node, rate in zip(order, ("x2", "x2", "x0.9", "x0.9"), strict=True):
        ctx.note("clock", node=node, faketime=f"+0 {rate}")
        ctx.cluster.skew_clock(node, f"+0 {rate}")
    ctx.cluster.wait_serving()
    ctx.workload.wait_progress(5)
    ctx.hold(2 * LEASE)  # leases extended and given up on those clocks
    ctx.cluster.wait_serving(timeout=10)  # each still beating


@scenario("read", kinds=LOCAL)
def shadow_an_hour_ahead_while_the_master_is_down_during_read(ctx: Ctx) -> None:
    ctx.note("clock", node="shadow", faketime=f"+{HOUR}")
    ctx.cluster.skew_clock("shadow", f"+{HOUR}")
    ctx.cluster.wait_serving()
    ctx.cluster.kill("master")
    ctx.workload.wait_progress(3)  # reads through the shadow
    ctx.cluster.restart("master")
