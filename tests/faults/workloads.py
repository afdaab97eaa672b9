"""What clients do while a fault happens: put, write, append, read, or nothing (idle).

Every operation goes to the history. Contents are not stored: they are a pure function of a
key (`content`), and the key and length are in the history, so a checker rebuilds every byte.
Each thread is its own Client, as separate clients would be. Loops are bounded in count and
stop when told."""

from __future__ import annotations

import dataclasses
import io
import random
import threading
import time
from collections import deque
from typing import ClassVar

from client.chunkio import Acknowledged
from client.client import Client
from client.replicas import MasterAnswer
from tests.faults.cluster import CHUNK_SIZE, FaultCluster
from tests.faults.history import History, digest

MAX_OPS = 2000  # per thread
MAX_SECONDS = 300  # per thread
RETRIES = 3  # a failed write or append is retried this many times (a new history entry each)


def content(key: str, length: int) -> bytes:
    return random.Random(key).randbytes(length)


class Workload:
    moment: ClassVar[str] = ""
    threads: ClassVar[int] = 2

    def __init__(self, cluster: FaultCluster, history: History, seed: int) -> None:
        self.cluster = cluster
        self.history = history
        self.seed = seed
        self.stop = threading.Event()
        self.ok = 0
        self.hot_path = ""  # the file being mutated most recently (a fault's target)
        self.max_ops, self.max_seconds = MAX_OPS, MAX_SECONDS  # per thread (a soak: more)
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()

    # --- for subclasses ---------------------------------------------------------------------------

    def setup(self, client: Client) -> None:
        """Runs before any fault; what it does must succeed."""

    def step(self, client: Client, rng: random.Random, worker: int, n: int) -> None:
        """One operation (or a few) of worker `worker`."""
        raise NotImplementedError

    # --- driving ----------------------------------------------------------------------------------

    def put(self, client: Client, path: str, key: str, size: int) -> bool:
        self.hot_path = path
        with self.history.op("put", path, key=key, size=size) as event:
            client.put(io.BytesIO(content(key, size)), path)
        return self._count(event)

    def watch(self, client: Client) -> None:
        """Notes every mutation a primary acknowledges to `client`, and every change a master
        replica does (naming its term), for the one-primary and one-active checks."""

        def acked(a: Acknowledged) -> None:
            self.history.note("ack", **dataclasses.asdict(a))

        def answered(a: MasterAnswer) -> None:
            self.history.note("master-ack", **dataclasses.asdict(a))

        client.io.on_acknowledged = acked
        client.replicas.on_answer = answered

    def _count(self, event: dict[str, object]) -> bool:
        ok = event.get("outcome") == "ok"
        if ok:
            with self._lock:
                self.ok += 1
        return ok

    def start(self) -> None:
        for worker in range(self.threads):
            thread = threading.Thread(target=self._run, args=(worker,), daemon=True)
            thread.start()
            self._workers.append(thread)

    def _run(self, worker: int) -> None:
        rng = random.Random(f"{self.seed}-{worker}")
        deadline = time.monotonic() + self.max_seconds
        with self.cluster.client() as client:
            self.watch(client)
            for n in range(self.max_ops):
                if self.stop.is_set() or time.monotonic() > deadline:
                    return
                self.step(client, rng, worker, n)

    def wait_progress(self, ops: int = 3, timeout: float = 60) -> None:
        """Until `ops` operations succeeded since start (so the fault lands mid-work)."""
        start = self.ok
        deadline = time.monotonic() + timeout
        while self._workers and self.ok < start + ops:
            assert time.monotonic() < deadline, f"{self.moment}: {ops} ops did not succeed in time"
            time.sleep(0.05)

    def finish(self, timeout: float = 120) -> None:
        """Stops the workers and waits for them (each op has its own deadlines)."""
        self.stop.set()
        for thread in self._workers:
            thread.join(timeout)
            assert not thread.is_alive(), f"{self.moment} worker still running after {timeout}s"


class Idle(Workload):
    """Files written before the fault; nobody touches them during it."""

    moment = "idle"
    threads = 0

    def setup(self, client: Client) -> None:
        client.mkdir("/idle", parents=True)
        rng = random.Random(self.seed)
        for i in range(4):
            path = f"/idle/f{i}"
            assert self.put(client, path, f"{self.seed}-idle-{i}", rng.randrange(1, 3 * CHUNK_SIZE))
        self.hot_path = "/idle/f0"


class Put(Workload):
    """Each worker puts new files of 0 to 3 chunks and removes every third one it made at
    once, and the oldest of the rest past the last KEEP_FILES (a soak's disks do not fill)."""

    moment = "put"
    KEEP_FILES: ClassVar[int] = 64

    def setup(self, client: Client) -> None:
        client.mkdir("/put", parents=True)
        self.kept: list[deque[str]] = [deque() for _ in range(self.threads)]

    def step(self, client: Client, rng: random.Random, worker: int, n: int) -> None:
        path = f"/put/w{worker}-{n}"
        size = rng.choice([0, rng.randrange(1, CHUNK_SIZE), rng.randrange(1, 3 * CHUNK_SIZE)])
        if not self.put(client, path, f"{self.seed}-put-{worker}-{n}", size):
            return
        kept = self.kept[worker]
        kept.append(path)
        if n % 3 == 2:
            self._remove(client, kept.pop())
        elif len(kept) > self.KEEP_FILES:
            self._remove(client, kept.popleft())

    def _remove(self, client: Client, path: str) -> None:
        with self.history.op("rm", path) as event:
            client.rm(path)
        self._count(event)


class Write(Workload):
    """Each worker owns a file of four chunks and overwrites random regions of it (sometimes
    past its end); a write that fails is retried."""

    moment = "write"

    def setup(self, client: Client) -> None:
        client.mkdir("/write", parents=True)
        for worker in range(self.threads):
            path = f"/write/w{worker}"
            assert self.put(client, path, f"{self.seed}-write-{worker}", 4 * CHUNK_SIZE)

    def step(self, client: Client, rng: random.Random, worker: int, n: int) -> None:
        path = f"/write/w{worker}"
        self.hot_path = path
        offset = rng.randrange(0, 4 * CHUNK_SIZE + CHUNK_SIZE // 2)
        length = rng.randrange(1, CHUNK_SIZE + CHUNK_SIZE // 2)
        key = f"{self.seed}-write-{worker}-{n}"
        data = content(key, length)
        for attempt in range(RETRIES):
            with self.history.op("write", path, key=key, offset=offset, length=length) as event:
                event["attempt"] = attempt
                client.write(path, offset, data)
            if self._count(event):
                return


class _Asks:
    """How many times the library asked a primary to apply a mutation (it retries too: a record
    without an id may be applied once an ask)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


class Append(Workload):
    """Four workers append framed records of 100 B to 16 KiB to one file, retrying a record
    that failed; with `with_ids` each record carries an id (exactly once), else not (at least
    once, as in GFS)."""

    moment = "append"
    threads = 4
    path = "/append/log"
    with_ids = True

    def setup(self, client: Client) -> None:
        client.mkdir("/append", parents=True)
        client.create(self.path)
        self.hot_path = self.path

    def step(self, client: Client, rng: random.Random, worker: int, n: int) -> None:
        key = f"{self.seed}-append-{worker}-{n}"
        length = rng.randrange(100, 16 * 1024)
        payload = content(key, length)
        record_id = key if self.with_ids else ""
        for attempt in range(RETRIES):
            asks = _Asks()
            client.io.on_asking = asks
            with self.history.op(
                "append", self.path, key=key, length=length, record_id=record_id
            ) as event:
                event["attempt"] = attempt
                try:
                    event["offset"] = client.append_record(self.path, payload, record_id)
                finally:
                    event["asks"] = asks.count
            if self._count(event):
                return


class AppendNoIds(Append):
    moment = "append-no-ids"
    with_ids = False


class Read(Workload):
    """Files written before the fault; workers read them whole or in ranges, and every read's
    bytes go to the history as a digest."""

    moment = "read"
    files = 4

    def setup(self, client: Client) -> None:
        client.mkdir("/read", parents=True)
        rng = random.Random(self.seed)
        self.sizes = [rng.randrange(1, 3 * CHUNK_SIZE) for _ in range(self.files)]
        for i, size in enumerate(self.sizes):
            assert self.put(client, f"/read/f{i}", f"{self.seed}-read-{i}", size)
        self.hot_path = "/read/f0"

    def step(self, client: Client, rng: random.Random, worker: int, n: int) -> None:
        i = rng.randrange(self.files)
        path = f"/read/f{i}"
        self.hot_path = path
        size = self.sizes[i]
        offset = rng.choice([0, rng.randrange(size)])
        length = size - offset if offset == 0 else rng.randrange(1, size - offset + 1)
        with self.history.op("read", path, offset=offset, length=length) as event:
            event["digest"] = digest(client.read(path, offset, length))
        self._count(event)
        time.sleep(0.02)  # reads are quick: spread them over the whole fault


WORKLOADS: dict[str, type[Workload]] = {
    w.moment: w for w in (Idle, Put, Write, Append, AppendNoIds, Read)
}
