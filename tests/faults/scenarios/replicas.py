"""Three master replicas, one active under a coordinator: the active killed, cut off or out
of disk, the coordinator down, a standby wiped or lagging."""

from __future__ import annotations

import shutil

from tests.faults.cluster import COORDINATOR, REPLICAS
from tests.faults.scenarios.base import Ctx, scenario

# A failover takes the coordinator's session timeout (3 s here) and an election; the workload's
# clients, given the replicas' list, find the new active one. The one-active checker judges the
# terms their answers name.


def _kill_the_active_master(ctx: Ctx) -> None:
    old = ctx.cluster.active()
    ctx.cluster.kill(old)
    ctx.note("active killed", node=old, new=ctx.cluster.active(other_than=old))
    ctx.workload.wait_progress(3)
    ctx.cluster.restart(old)  # back as a standby


@scenario("put", masters=3)
def kill_the_active_master_during_put(ctx: Ctx) -> None:
    _kill_the_active_master(ctx)


@scenario("append", masters=3)
def kill_the_active_master_during_append(ctx: Ctx) -> None:
    _kill_the_active_master(ctx)


@scenario("write", "partition", masters=3)
def active_master_cut_off_from_the_coordinator_during_write(ctx: Ctx) -> None:
    """Its session lapses: it steps down, another is elected, and the cut-off one, still
    running and still reached by clients, acknowledges nothing in its old term."""
    old = ctx.cluster.active()
    ctx.cluster.partition(old, COORDINATOR)
    ctx.note("active cut off", node=old, new=ctx.cluster.active(other_than=old))
    ctx.workload.wait_progress(3)


@scenario("put", "small-disk", masters=3)
def active_master_disk_full_during_put(ctx: Ctx) -> None:
    """Its sync fails with its standbys perhaps holding the entries already: it steps down
    and logs nothing more, another is elected and takes the newest log; healed, it follows."""
    old = ctx.cluster.active()
    ctx.note("fill_disk", node=old)
    ctx.cluster.fill_disk(old)
    ctx.workload.wait_progress(3, timeout=60)  # on another active (or on it, the disk freed)
    ctx.cluster.heal()


@scenario("put", masters=3)
def coordinator_down_during_put(ctx: Ctx) -> None:
    """No change is answered without it; they are again once it is back (the runner waits for
    progress after healing)."""
    ctx.cluster.kill(COORDINATOR)
    ctx.hold(4)
    ctx.cluster.restart(COORDINATOR)


@scenario("append", masters=3)
def standby_master_loses_its_disk_during_append(ctx: Ctx) -> None:
    """Wiped and back, it takes the checkpoint and the log tail; then the other standby dies,
    and no change is answered unless the wiped one holds it."""
    active = ctx.cluster.active()
    wiped, other = ctx.rng.sample([n for n in REPLICAS if n != active], 2)
    ctx.cluster.kill(wiped)
    for path in ctx.cluster.data_dir(wiped).iterdir():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    ctx.cluster.restart(wiped)
    ctx.cluster.kill(other)
    ctx.workload.wait_progress(3)
    ctx.cluster.restart(other)


@scenario("write", masters=3)
def lagging_standby_when_the_active_master_dies_during_write(ctx: Ctx) -> None:
    """A standby stalls and misses changes; the active dies; the two left elect one, which
    takes the newest log (the other standby's) before it serves."""
    active = ctx.cluster.active()
    lagging = ctx.rng.choice([n for n in REPLICAS if n != active])
    ctx.cluster.pause(lagging)
    ctx.workload.wait_progress(5)  # changes it misses
    ctx.cluster.kill(active)
    ctx.cluster.resume(lagging)
    ctx.note("active killed", node=active, new=ctx.cluster.active(other_than=active))
    ctx.workload.wait_progress(3)
    ctx.cluster.restart(active)
