"""Master replicas under a real ZooKeeper (`gfs master --coordinator`, three replicas, one
active): the active dies, stalls, or loses the coordinator, and no acknowledged change is
lost; clients and chunkservers given the replicas' list follow the active one."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.client import Client
from client.localcluster import LocalCluster, Process
from client.replicas import MasterAnswer
from common import errors
from tests.conftest import FAST_TIMING, SMALL_CHUNK, needs_zookeeper, wait_until

pytestmark = pytest.mark.cluster


@pytest.fixture
def storms() -> Iterator[list[Storm]]:
    """Storms end with the test, however it ends (their threads would keep pytest alive)."""
    started: list[Storm] = []
    yield started
    for storm in started:
        storm.end()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    needs_zookeeper()
    cluster = LocalCluster(
        tmp_path / "c",
        masters=3,
        master_args=[f"--chunk-size={SMALL_CHUNK}", *FAST_TIMING, "--coordinator-timeout=3"],
    )
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


class Storm:
    """Clients making directories through the replicas' list; what each was answered."""

    def __init__(
        self, storms: list[Storm], masters: str, clients: int = 4, prefix: str = "/w"
    ) -> None:
        storms.append(self)
        self.acknowledged: list[tuple[float, str]] = []  # (when answered, path)
        self.sent: dict[str, float] = {}  # path -> when its call was made
        self.answers: list[MasterAnswer] = []  # which replica answered, in which term
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(masters, f"{prefix}{c}-"))
            for c in range(clients)
        ]
        for thread in self.threads:
            thread.start()

    def _run(self, masters: str, prefix: str) -> None:
        with Client(masters, timeout=30) as gfs:
            gfs.replicas.on_answer = self.answers.append
            i = 0
            while not self.stop.is_set():
                try:
                    self.sent[f"{prefix}{i}"] = time.monotonic()
                    gfs.mkdir(f"{prefix}{i}")
                    self.acknowledged.append((time.monotonic(), f"{prefix}{i}"))
                except errors.GfsError:
                    pass  # not acknowledged: it may or may not have taken effect
                i += 1

    def count(self) -> int:
        return len(self.acknowledged)

    def end(self) -> list[str]:
        """Stops the clients; what they were answered."""
        self.stop.set()
        for thread in self.threads:
            thread.join()
        return [path for _, path in self.acknowledged]


def missing_from(cluster: LocalCluster, paths: list[str]) -> list[str]:
    with Client(cluster.master_address, timeout=30) as gfs:
        present = {e.path for e in gfs.ls("/")}
    return [p for p in paths if p not in present]


def test_the_active_killed_during_a_storm_another_takes_over_and_nothing_answered_is_lost(
    cluster: LocalCluster, storms: list[Storm]
) -> None:
    data = os.urandom(3 * SMALL_CHUNK + 5)
    with Client(cluster.master_address, timeout=30) as gfs:
        gfs.put(io.BytesIO(data), "/before")
    first = cluster.active_master()
    storm = Storm(storms, cluster.master_address)
    wait_until(lambda: storm.count() >= 100, 60, "the storm is under way")
    killed_at = time.monotonic()
    cluster.kill(first)
    wait_until(
        lambda: any(t > killed_at + 0.5 for t, _ in storm.acknowledged[-20:]),
        60,
        "changes answered again after the active was killed",
    )
    answered = storm.end()
    second = cluster.active_master()
    assert second is not first
    with Client(cluster.master_address, timeout=30) as gfs:
        roles = {m["address"]: m["role"] for m in gfs.report().masters}
    (third,) = [p for p in cluster.replicas if p not in (first, second)]
    assert roles == {first.address: "down", second.address: "active", third.address: "standby"}
    lost = missing_from(cluster, answered)
    assert not lost, f"{len(lost)} of {len(answered)} acknowledged mkdirs lost: {lost[:5]}"
    # Each answer names its term: the first active's, then the second's, a newer one.
    terms = {a.term: a.address for a in storm.answers}
    assert len(terms) == 2 and sorted(terms.items())[-1][1] == second.address, terms
    assert sorted(terms.items())[0][1] == first.address, terms

    # The chunkservers follow the new active: the old file reads back, a new one writes.
    with Client(cluster.master_address, timeout=30) as gfs:
        out = io.BytesIO()
        gfs.get("/before", out)
        assert out.getvalue() == data
        gfs.put(io.BytesIO(data[:1000]), "/after")
        out = io.BytesIO()
        gfs.get("/after", out)
        assert out.getvalue() == data[:1000]

    # The killed replica comes back as a standby and follows the new active.
    cluster.restart(first)
    assert cluster.active_master() is second
    with Client(cluster.master_address, timeout=30) as gfs:
        gfs.mkdir("/later")
    wait_until(lambda: holds(first, "/later"), 30, "the old active follows the new one")


def holds(replica: Process, path: str) -> bool:
    """Whether `replica`'s store has `path` (read beside it, as SQLite lets a reader)."""
    db = Path(replica.args[replica.args.index("--data-dir") + 1]) / "master.db"
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute("SELECT 1 FROM nodes WHERE path = ?", [path]).fetchone() is not None


def test_a_stalled_active_is_replaced_and_answers_nothing_when_it_wakes(
    cluster: LocalCluster, storms: list[Storm]
) -> None:
    """SIGSTOP the active while one client sends it changes directly: its coordinator session
    lapses, another replica is elected and takes the others' changes. Woken, the old active
    has been deposed: the changes it was sent while stalled get no acknowledgement. (One sent
    before, and held by a standby before that standby promised the new term, may be: the new
    active took that standby's log, so it is not lost, which the end checks.)"""
    stalled = cluster.active_master()
    assert stalled.popen is not None
    storm = Storm(storms, cluster.master_address, clients=2)
    pinned = Storm(storms, stalled.address, clients=1, prefix="/pinned")  # this one address only
    wait_until(lambda: pinned.count() >= 20 and storm.count() >= 20, 60, "both are answered")
    stalled.popen.send_signal(signal.SIGSTOP)
    stopped_at = time.monotonic()
    try:
        wait_until(
            lambda: any(t > stopped_at + 0.5 for t, _ in storm.acknowledged[-10:]),
            60,
            "another replica took over",
        )
    finally:
        stalled.popen.send_signal(signal.SIGCONT)
    woke_at = time.monotonic()
    wait_until(lambda: cluster.active_master() is not stalled, 30, "a new active")
    time.sleep(2)  # the pinned client's stalled call and a few more meet the woken replica
    from_old = pinned.acknowledged[:]
    answered = storm.end() + pinned.end()
    late = [p for _, p in from_old if pinned.sent[p] > stopped_at]
    assert not late, f"the deposed active acknowledged {late[:5]} after it was stalled"
    assert woke_at > stopped_at
    lost = missing_from(cluster, answered)
    assert not lost, f"{len(lost)} of {len(answered)} acknowledged mkdirs lost: {lost[:5]}"


def test_writes_pause_while_the_coordinator_is_down_and_resume_when_it_is_back(
    cluster: LocalCluster, storms: list[Storm]
) -> None:
    assert cluster.coordinator is not None
    storm = Storm(storms, cluster.master_address, clients=2)
    wait_until(lambda: storm.count() >= 50, 60, "the storm is under way")
    time.sleep(1.5)  # changes a standby holds by the time the coordinator dies
    cluster.kill(cluster.coordinator)
    down_at = time.monotonic()
    time.sleep(4)
    with Client(cluster.master_address, timeout=10) as gfs:
        read = {e.path for e in gfs.ls("/")}  # no active replica: a standby answers reads
    during = [p for t, p in storm.acknowledged if t > down_at + 1.0]
    cluster.restart(cluster.coordinator)
    back_at = time.monotonic()
    wait_until(
        lambda: any(t > back_at for t, _ in storm.acknowledged[-10:]),
        60,
        "changes answered again once the coordinator is back",
    )
    answered = storm.end()
    assert not during, f"{len(during)} changes answered with no coordinator: {during[:3]}"
    # A standby may lag by what was acknowledged last; not by what is a second older.
    before = [p for t, p in storm.acknowledged if t < down_at - 1.0]
    assert before and set(before) <= read, "a standby's listing lacks old acknowledged changes"
    lost = missing_from(cluster, answered)
    assert not lost, f"{len(lost)} of {len(answered)} acknowledged mkdirs lost: {lost[:5]}"


def test_a_replica_that_lost_its_data_directory_catches_up_and_counts_again(
    cluster: LocalCluster,
) -> None:
    """A standby's directory wiped: back, it takes the whole log before it counts toward the
    majority, which then needs it (the other standby is down)."""
    active = cluster.active_master()
    standbys = [p for p in cluster.replicas if p is not active]
    with Client(cluster.master_address, timeout=30) as gfs:
        for i in range(50):
            gfs.mkdir(f"/early{i}")
    wiped, other = standbys
    cluster.kill(wiped)
    data_dir = Path(wiped.args[wiped.args.index("--data-dir") + 1])
    for path in sorted(data_dir.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    cluster.restart(wiped)
    cluster.kill(other)
    with Client(cluster.master_address, timeout=30) as gfs:
        gfs.mkdir("/with-the-wiped-one")  # acknowledged only once the wiped replica holds it
        assert cluster.active_master() is active
    cluster.kill(active)  # the wiped replica alone is left of the three: it has everything
    cluster.restart(other)
    with Client(cluster.master_address, timeout=60) as gfs:
        names = {e.path for e in gfs.ls("/")}
    assert {f"/early{i}" for i in range(50)} | {"/with-the-wiped-one"} <= names
