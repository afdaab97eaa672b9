"""The scenarios: a fault, the moment it strikes (the workload running meanwhile), and what it
needs of the cluster. Each fault function injects, holds, and heals what it can; the runner
heals everything again in a `finally` and then runs every checker (tests/faults/checkers.py).
Targets are drawn from the scenario's seeded random generator, so a seed replays a run."""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass

from client.client import Client
from tests.faults.checkers import REPLICATION, read_replica
from tests.faults.cluster import CHUNKSERVERS, CLIENT, COORDINATOR, REPLICAS, TIMING, FaultCluster
from tests.faults.history import History
from tests.faults.workloads import Workload

DEAD_AFTER = float(TIMING["dead-after"])
LEASE = float(TIMING["lease-seconds"])
LOCAL = ("local",)  # faked clocks and sick disks: local processes only, so far


@dataclass
class Ctx:
    cluster: FaultCluster
    client: Client
    history: History
    rng: random.Random
    workload: Workload

    def note(self, what: str, **fields: object) -> None:
        self.history.note(what, **fields)

    def hold(self, seconds: float) -> None:
        """Lets the fault last while the workload runs on."""
        time.sleep(seconds)

    def any_chunkserver(self) -> str:
        return self.rng.choice(CHUNKSERVERS)

    def roles(self) -> tuple[str, list[str]]:
        """(primary, secondaries) of the last chunk of the file the workload is mutating,
        waiting until it has a primary."""
        found: list[tuple[str, list[str]]] = []

        def leased() -> bool:
            chunks = self.client.stat(self.workload.hot_path).chunks
            if not chunks or chunks[-1].primary is None:
                return False
            chunk = chunks[-1]
            primary = self.cluster.node_of(chunk.primary)
            secondaries = [self.cluster.node_of(a) for a in chunk.replicas if a != chunk.primary]
            found.append((primary, secondaries))
            return True

        self.cluster.wait_until(leased, 30, f"{self.workload.hot_path} has a primary")
        return found[-1]

    def replica_holders(self, path: str) -> tuple[int, list[str]]:
        """(handle, nodes) of the first chunk of `path`."""
        chunk = self.client.stat(path).chunks[0]
        return chunk.handle, [self.cluster.node_of(a) for a in chunk.replicas]

    def crash(self, node: str) -> None:
        """SIGKILL `node` and wait until the master calls it dead."""
        self.cluster.kill(node)
        self.wait_dead(node)

    def wait_dead(self, node: str) -> None:
        timeout = 5 * DEAD_AFTER + 10
        self.cluster.wait_until(
            lambda: node not in self.cluster.alive(), timeout, f"{node} is declared dead"
        )


@dataclass(frozen=True)
class Scenario:
    name: str
    moment: str
    fault: Callable[[Ctx], None]
    needs: tuple[str, ...] = ()  # "partition", "shaping", "small-disk" (root powers)
    # A violation this scenario has found and that is not fixed yet: it runs, and its failure
    # is reported as XFAIL with this text (its pass as XPASS) until the bug is fixed.
    known_bug: str = ""
    # The clusters that can inject it (faked clocks: local processes only, so far).
    kinds: tuple[str, ...] = ("local", "docker")
    masters: int = 1  # the cluster's shape: a master and a shadow, or 3 master replicas


SCENARIOS: list[Scenario] = []


def scenario(
    moment: str,
    *needs: str,
    known_bug: str = "",
    kinds: tuple[str, ...] = ("local", "docker"),
    masters: int = 1,
) -> Callable[[Callable[[Ctx], None]], Callable[[Ctx], None]]:
    def register(fault: Callable[[Ctx], None]) -> Callable[[Ctx], None]:
        name = fault.__name__.replace("_", "-")
        SCENARIOS.append(Scenario(name, moment, fault, needs, known_bug, kinds, masters))
        return fault

    return register


# --- crashes ------------------------------------------------------------------------------------


@scenario("put")
def kill_chunkserver_during_put(ctx: Ctx) -> None:
    node = ctx.any_chunkserver()
    ctx.crash(node)
    ctx.hold(1)
    ctx.cluster.restart(node)


@scenario("write")
def kill_primary_during_write(ctx: Ctx) -> None:
    primary, _ = ctx.roles()
    ctx.crash(primary)
    ctx.cluster.restart(primary)


@scenario("append")
def kill_secondary_during_append(ctx: Ctx) -> None:
    _, secondaries = ctx.roles()
    node = ctx.rng.choice(secondaries)
    ctx.crash(node)
    ctx.cluster.restart(node)


@scenario("append-no-ids")
def kill_primary_during_append_without_ids(ctx: Ctx) -> None:
    primary, _ = ctx.roles()
    ctx.crash(primary)
    ctx.cluster.restart(primary)


def _master_down_briefly(ctx: Ctx) -> None:
    ctx.cluster.kill("master")
    ctx.hold(1.5)
    ctx.cluster.restart("master")


@scenario("put")
def kill_master_during_put(ctx: Ctx) -> None:
    _master_down_briefly(ctx)


@scenario("append")
def kill_master_during_append(ctx: Ctx) -> None:
    _master_down_briefly(ctx)


@scenario("read")
def kill_master_during_read(ctx: Ctx) -> None:
    """Reads go on through the shadow while the master is down."""
    ctx.cluster.kill("master")
    ctx.workload.wait_progress(3)
    ctx.cluster.restart("master")


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


# --- pauses ---------------------------------------------------------------------------------------


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
    ctx.cluster.pause("master")
    ctx.hold(3)
    ctx.cluster.resume("master")


# --- network --------------------------------------------------------------------------------------


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
    ctx.cluster.partition(CLIENT, "master")
    ctx.hold(4)
    ctx.cluster.heal()


@scenario("write", "partition")
def partition_master_from_chunkserver_during_write(ctx: Ctx) -> None:
    """The master declares a live server dead and re-replicates; on healing its replicas are
    surplus (or stale) and are trimmed."""
    _, secondaries = ctx.roles()
    node = ctx.rng.choice(secondaries)
    ctx.cluster.partition("master", node)
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


# --- disks ----------------------------------------------------------------------------------------


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


# --- failed data directories and a full master disk --------------------------------------------
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


@scenario("write", kinds=LOCAL)
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


@scenario("append", kinds=LOCAL)
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


@scenario("write", kinds=LOCAL)
def slow_disk_under_a_secondary_during_write(ctx: Ctx) -> None:
    """Every I/O of the replica takes 200 ms: slow, never wrong, and writes still finish."""
    _, secondaries = ctx.roles()
    node = ctx.rng.choice(secondaries)
    index = _replica_dir(ctx, node)
    ctx.note("slow_dir", node=node, index=index, delay_ms=200)
    ctx.cluster.slow_dir(node, index, 200)
    _reported_slow(ctx, node)
    ctx.workload.wait_progress(3, timeout=60)


@scenario("read", kinds=LOCAL)
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
    ctx.note("fill_disk", node="master")
    ctx.cluster.fill_disk("master")
    ctx.hold(4)
    ctx.cluster.heal()


@scenario("write", "small-disk")
def master_disk_full_during_write(ctx: Ctx) -> None:
    _master_disk_full(ctx)


@scenario("append", "small-disk")
def master_disk_full_during_append(ctx: Ctx) -> None:
    _master_disk_full(ctx)


# --- clocks ---------------------------------------------------------------------------------------
# A node restarted on a faked clock (libfaketime): set an hour wrong, or running slow or fast.
# Leases are counted on monotonic clocks with a drift margin, and a new lease raises the chunk's
# version, so however wrong a clock, the one-primary checker finds no two primaries at once.

HOUR = 3600


@scenario("write", kinds=LOCAL)
def master_restarts_an_hour_behind_and_a_primary_dies_during_write(ctx: Ctx) -> None:
    """The leases the master stored end an hour ahead of its clock now: waiting them out
    would stall every chunk whose primary is gone for an hour."""
    ctx.note("clock", node="master", faketime=f"-{HOUR}")
    ctx.cluster.skew_clock("master", f"-{HOUR}")
    ctx.cluster.wait_serving()
    primary, _ = ctx.roles()
    ctx.crash(primary)
    ctx.workload.wait_progress(3, timeout=30)  # on the wrong clock still


@scenario("append", kinds=LOCAL)
def master_restarts_an_hour_ahead_during_append(ctx: Ctx) -> None:
    """Every stored lease looks long over: new primaries are named at once, each under a
    new version, while the old ones may still count theirs."""
    ctx.note("clock", node="master", faketime=f"+{HOUR}")
    ctx.cluster.skew_clock("master", f"+{HOUR}")
    ctx.cluster.wait_serving()
    ctx.workload.wait_progress(3, timeout=30)


@scenario("write", "partition", kinds=LOCAL)
def slow_primary_cut_off_past_its_lease_during_write(ctx: Ctx) -> None:
    """A primary whose clock runs at half speed believes in its lease twice as long as the
    master does (far past the drift margin), and is cut off from the master past its end."""
    primary, _ = ctx.roles()
    ctx.note("clock", node=primary, faketime="+0 x0.5")
    ctx.cluster.skew_clock(primary, "+0 x0.5")
    ctx.cluster.wait_serving()
    primary, _ = ctx.roles()
    ctx.note("partition", a=primary, b="master")
    ctx.cluster.partition(primary, "master")
    ctx.hold(2.5 * LEASE)


@scenario("append", kinds=LOCAL)
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


# --- recovery under way ---------------------------------------------------------------------------


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
    ctx.cluster.restart("master")
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
    ctx.cluster.kill("master")
    node = ctx.any_chunkserver()
    ctx.cluster.kill(node)
    ctx.cluster.restart("master")
    ctx.hold(2)
    ctx.cluster.restart(node)


# --- master replicas (three, one active, under a coordinator) -------------------------------------
# A failover takes the coordinator's session timeout (3 s here) and an election; the workload's
# clients, given the replicas' list, find the new active one. The one-active checker judges the
# terms their answers name.


def _kill_the_active_master(ctx: Ctx) -> None:
    old = ctx.cluster.active()
    ctx.cluster.kill(old)
    ctx.note("active killed", node=old, new=ctx.cluster.active(other_than=old))
    ctx.workload.wait_progress(3)
    ctx.cluster.restart(old)  # back as a standby


@scenario("put", kinds=LOCAL, masters=3)
def kill_the_active_master_during_put(ctx: Ctx) -> None:
    _kill_the_active_master(ctx)


@scenario("append", kinds=LOCAL, masters=3)
def kill_the_active_master_during_append(ctx: Ctx) -> None:
    _kill_the_active_master(ctx)


@scenario("write", "partition", kinds=LOCAL, masters=3)
def active_master_cut_off_from_the_coordinator_during_write(ctx: Ctx) -> None:
    """Its session lapses: it steps down, another is elected, and the cut-off one, still
    running and still reached by clients, acknowledges nothing in its old term."""
    old = ctx.cluster.active()
    ctx.cluster.partition(old, COORDINATOR)
    ctx.note("active cut off", node=old, new=ctx.cluster.active(other_than=old))
    ctx.workload.wait_progress(3)


@scenario("put", kinds=LOCAL, masters=3)
def coordinator_down_during_put(ctx: Ctx) -> None:
    """No change is answered without it; they are again once it is back (the runner waits for
    progress after healing)."""
    ctx.cluster.kill(COORDINATOR)
    ctx.hold(4)
    ctx.cluster.restart(COORDINATOR)


@scenario("append", kinds=LOCAL, masters=3)
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


@scenario("write", kinds=LOCAL, masters=3)
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
