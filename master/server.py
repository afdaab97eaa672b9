"""Runs a master or a shadow master: builds the gRPC server (separately from running it, so
tests can bind port 0) and drives the timers the pure core does not run itself."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable

from prometheus_client import REGISTRY

from common import errors, transport
from common.admission import Shares
from common.events import RecentEvents
from common.exclusive import DirectoryLock
from common.loops import Loop
from common.serving import new_server
from common.statushttp import StatusHttp
from master.config import MasterConfig
from master.healthsnapshot import HealthSnapshot
from master.metrics import ClusterState
from master.pages import MasterPages
from master.service import MasterService
from master.servicer import POLICY, VITAL, MasterServicer
from master.shadow import ShadowService
from master.store import Store
from protos import master_pb2_grpc

log = logging.getLogger(__name__)


class MasterServer:
    def __init__(
        self,
        config: MasterConfig,
        shadow_of: str | None = None,
        epoch: int = 0,
        locate: Callable[[], str | None] | None = None,
    ) -> None:
        """With `shadow_of` (the master's address), a read-only shadow of that master; a
        standby replica follows whichever master `locate` names (the coordinator's active).
        A master elected by a coordinator is active for term `epoch`. Holds its data
        directory alone until stopped."""
        self.lock = DirectoryLock(config.data_dir, "master" if shadow_of is None else "shadow")
        self.locate = locate
        try:
            self._build(config, shadow_of, epoch)
        except BaseException:
            self.lock.release()
            raise

    def _build(self, config: MasterConfig, shadow_of: str | None, epoch: int) -> None:
        self.http = StatusHttp(config.http, self._health) if config.http else None
        if self.http is not None:  # reported as bound
            config = dataclasses.replace(
                config, http=self.http.reachable(config.listen.rsplit(":", 1)[0])
            )
        self.config = config
        self.events = RecentEvents()  # for the status page, watched while it is served
        self.store = Store(config.data_dir / "master.db")
        channels = transport.Channels(config.tls)
        self.shadow: ShadowService | None = None
        self.service: MasterService | ShadowService
        if shadow_of is None:
            self.service = MasterService(config, self.store, channels=channels, epoch=epoch)
        else:
            self.shadow = ShadowService(config, self.store, shadow_of, channels=channels)
            self.service = self.shadow
        shares = Shares(config.workers, config.reserved_workers, config.max_per_client, VITAL)
        self.server, self.port, self.health = new_server(
            config.listen, config.workers, config.tls, POLICY, shares
        )
        master_pb2_grpc.add_MasterServicer_to_server(MasterServicer(self.service), self.server)  # type: ignore[no-untyped-call]
        self.address = config.advertise or f"{config.listen.rsplit(':', 1)[0]}:{self.port}"
        if self.shadow is not None:
            self.shadow.name = self.address
            self.shadow.standby = self.locate is not None
        self._stopping = threading.Event()
        self._balanced_at = time.monotonic()
        self._connected = True

        def every_beat() -> float:
            return config.heartbeat_interval

        self.loops = [Loop("master-timer", self._tick, every_beat, self._stopping, log)]
        if self.shadow is not None:
            self.loops.append(Loop("follow", self._follow, every_beat, self._stopping, log))
        self._threads = [loop.thread() for loop in self.loops]
        # What /metrics reads of the cluster when scraped (registered while --http serves).
        service = self.service
        self.health_snapshot = HealthSnapshot(service.metadata)
        self.cloning = service.repairs.cloning if isinstance(service, MasterService) else None
        self.collector = ClusterState(
            service.metadata, service.safe_mode, self.health_snapshot, self.cloning
        )

    def _health(self) -> tuple[bool, str]:
        if not self.health.serving:
            return False, f"{self.service.role} stopping"
        safe = "on" if self.service.safe_mode.active else "off"
        return True, f"{self.service.role} serving; safe mode {safe}; log at {self.store.last_seq}"

    def start(self) -> None:
        self.server.start()
        if self.http is not None:
            service = self.service
            REGISTRY.register(self.collector)
            self.events.watch("master")
            pages = MasterPages(
                service.role, service.metadata, service.safe_mode, service.oplog, self.events,
                self.health_snapshot, self.cloning,
            )  # fmt: skip
            self.http.pages.update(pages.routes())
            self.http.start()
        for thread in self._threads:
            thread.start()
        state = self.service.metadata.state
        log.info(
            "%s serving on %s (%d paths, %d chunks, log at %d)",
            self.service.role,
            self.address,
            len(state.nodes),
            len(state.chunks),
            self.store.last_seq,
        )

    def loop_failures(self) -> int:
        """Rounds of the background loops that raised (each was logged, and the loop went on)."""
        return sum(loop.failures for loop in self.loops)

    def _tick(self) -> None:
        if self.shadow is not None:
            self.shadow.tick()
            return
        assert isinstance(self.service, MasterService)
        due = time.monotonic() - self._balanced_at >= self.config.balance_interval
        if due:
            self._balanced_at = time.monotonic()
        self.service.tick(balance=due)

    def _follow(self) -> float:
        """Follows the master's log until the stream breaks; then waits a heartbeat."""
        assert self.shadow is not None
        if self.locate is not None:  # a standby: the active one, unless none or this one
            active = self.locate()
            if not active or active == self.address:
                return self.config.heartbeat_interval
            self.shadow.master_address = active
        if not self.shadow.master_address:
            return self.config.heartbeat_interval
        log.info(
            "following master %s from entry %d", self.shadow.master_address, self.store.last_seq
        )
        try:
            self.shadow.follow(self._stopping)
        except errors.GfsError as err:
            if self._connected:
                log.warning("lost the master's log: %s; retrying", err)
            self._connected = False
            return self.config.heartbeat_interval
        self._connected = True
        return 0.0

    def wait(self) -> None:
        self.server.wait_for_termination()

    def stop(self, grace: float = 1.0) -> None:
        self._stopping.set()
        self.health.stopping()
        self.server.stop(grace).wait()
        if self.http is not None:
            self.http.stop()
            self.events.unwatch("master")
            REGISTRY.unregister(self.collector)
        self.service.close()
        self.store.close()
        self.lock.release()
