"""Fake chunkservers for the master's tests, behind the stubs the master's calls use.

The fake stubs record what the durable store held when each RPC was sent, so the ordering GFS
needs can be asserted (the new version logged before any replica hears of it, the lease logged
before the primary hears of it), and can be held at a gate to open a race window on purpose."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import errors
from master import tables
from master.chunkservers import Heartbeat, Report
from master.config import MasterConfig
from master.service import MasterService
from master.store import Store

LEASE, MARGIN, DEAD_AFTER = 60.0, 5.0, 10.0


@dataclass
class Sent:
    method: str
    address: str
    request: Any
    logged_version: int
    logged_holder: str
    logged_next_handle: int = 0  # the handles issued, as the store held it


@dataclass
class FakeCluster:
    store: Store
    sent: list[Sent] = field(default_factory=list)
    down: set[str] = field(default_factory=set)
    held: dict[str, dict[int, int]] = field(default_factory=dict)  # address -> handle -> version
    on_revoke: Callable[[], None] = lambda: None
    on_set_version: Callable[[str], None] = lambda address: None  # before it takes effect
    refuse_grants: set[str] = field(default_factory=set)  # say they do not hold the chunk

    def chunkserver(self, address: str) -> Any:
        cluster = self

        class Stub:
            def _record(self, method: str, request: Any) -> object:
                row = cluster.store.db.execute(
                    "SELECT version, lease_holder FROM chunks WHERE handle = ?", [request.handle]
                ).fetchone()
                cluster.sent.append(Sent(method, address, request, row[0], row[1]))
                if address in cluster.down:
                    raise errors.Unavailable(f"cannot reach {address}")
                return object()

            def SetVersion(self, request: Any, timeout: float) -> object:
                reply = self._record("SetVersion", request)
                cluster.on_set_version(address)
                cluster.held.setdefault(address, {})[request.handle] = request.version
                return reply

            def CreateReplicas(self, request: Any, timeout: float) -> object:
                issued = tables.recorded(cluster.store.db.conn, "next_handle") or 0
                cluster.sent.append(Sent("CreateReplicas", address, request, 0, "", issued))
                if address in cluster.down:
                    raise errors.Unavailable(f"cannot reach {address}")
                for handle in request.handles:
                    cluster.held.setdefault(address, {})[handle] = request.version
                return object()

            def GrantLease(self, request: Any, timeout: float) -> object:
                reply = self._record("GrantLease", request)
                if address in cluster.refuse_grants:
                    raise errors.StaleReplica(f"cannot lead chunk {request.handle}: not held")
                return reply

            def RevokeLease(self, request: Any, timeout: float) -> object:
                cluster.on_revoke()
                return object()

            def CloneFrom(self, request: Any, timeout: float) -> object:
                return object()

        return Stub()

    def close(self) -> None:
        pass


def config(tmp_path: Path, chunk_pool: int = 0) -> MasterConfig:
    """No pool of new chunks unless asked for: each test sees the creations it makes."""
    return MasterConfig(
        data_dir=tmp_path,
        lease_seconds=LEASE,
        rpc_timeout=MARGIN,
        dead_after=DEAD_AFTER,
        chunk_pool=chunk_pool,
    )


class Gate:
    """Holds a thread that reaches it until `release()`; `entered` tells it got there."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self._open = threading.Event()

    def pass_through(self) -> None:
        self.entered.set()
        assert self._open.wait(30), "the gate was never released"

    def release(self) -> None:
        self._open.set()


class BlockingCluster(FakeCluster):
    """Fake chunkservers whose CopyLocal and CloneFrom can be held at a gate."""

    copy_gate: Gate | None = None
    clone_gate: Gate | None = None

    def chunkserver(self, address: str) -> Any:
        cluster = self
        stub = super().chunkserver(address)

        def copy_local(request: Any, timeout: float) -> object:
            if cluster.copy_gate is not None:
                cluster.copy_gate.pass_through()
            held = cluster.held.setdefault(address, {})
            held[request.new_handle] = request.new_version
            return object()

        def clone_from(request: Any, timeout: float) -> object:
            if cluster.clone_gate is not None:
                cluster.clone_gate.pass_through()
            cluster.held.setdefault(address, {})[request.handle] = request.version
            return object()

        stub.CopyLocal = copy_local
        stub.CloneFrom = clone_from
        return stub


def four_servers(
    tmp_path: Path, chunk_pool: int = 0
) -> tuple[MasterService, FakeCluster, list[float]]:
    """A master (its clock the list's one value) beside four fake servers, with an empty
    file `/f`."""
    clock = [1000.0]
    store = Store(tmp_path / "m.db")
    fake = FakeCluster(store)
    master_config = config(tmp_path, chunk_pool)
    service = MasterService(master_config, store, clock=lambda: clock[0], channels=fake)  # type: ignore[arg-type]
    for address in ("a:1", "b:1", "c:1", "d:1"):
        service.heartbeat(Heartbeat(address, "r", 0, 10**12))
    service.create("/f")
    return service, fake, clock


def beat_all(
    service: MasterService,
    fake: FakeCluster,
    except_: str = "",
    extend: list[tuple[int, int]] | None = None,
) -> list[int]:
    """Every live server reports the replicas it holds, as real chunkservers do; the holder of
    chunk 1's lease also asks for `extend`. Returns the handles extended."""
    chunk = service.chunk(1)
    holder = chunk.lease_holder if chunk is not None else ""
    extended: list[int] = []
    for address in ("a:1", "b:1", "c:1", "d:1"):
        if address == except_:
            continue
        reports = [Report(h, v, 0) for h, v in fake.held.get(address, {}).items()]
        asks = (extend or []) if address == holder else []
        granted = service.heartbeat(Heartbeat(address, "r", 0, 10**12, reports, [], asks)).extended
        extended += [handle for handle, _ in granted]
    return extended
