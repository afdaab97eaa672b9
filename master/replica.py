"""One master replica under a coordinator (`gfs master --coordinator`): a standby that
follows the active one's log until it is elected, the active one for its term, then a standby
again. HDFS's NameNode with its failover controller in one process.

Each role is a `MasterServer` of its own on the same address and data directory: promotion
and stepping down stop one and start the other (clients retry across the moment between).
"""

from __future__ import annotations

import logging
import threading
import time

from common import errors
from master.config import MasterConfig
from master.coordinator import Coordinator
from master.server import MasterServer
from master.service import MasterService
from master.takeover import take_over

log = logging.getLogger(__name__)


class Replica:
    def __init__(self, config: MasterConfig) -> None:
        self.config = config
        self.coordinator = Coordinator(
            config.coordinator, config.cluster_name, config.address, config.coordinator_timeout
        )
        self.server: MasterServer | None = None
        self.stopping = threading.Event()

    def start(self) -> None:
        """Connects to the coordinator and serves as a standby (Unavailable in one line if
        the coordinator cannot be reached)."""
        self.coordinator.start()
        self._serve(self._standby())

    def _standby(self) -> MasterServer:
        """A standby's server: it follows whichever replica the coordinator names active (not
        itself: the server skips its own address)."""
        return MasterServer(self.config, shadow_of="", locate=self.coordinator.active)

    def run(self) -> None:
        """Stands by, leads when elected, stands by again, until `stop`."""
        while not self.stopping.is_set():
            epoch = self._stand_by()
            if epoch:
                self._lead(epoch)

    def stop(self) -> None:
        self.stopping.set()

    def close(self) -> None:
        self._stop_server()
        self.coordinator.stop()

    def _serve(self, server: MasterServer) -> MasterServer:
        server.start()
        self.server = server
        return server

    def _stop_server(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def _stand_by(self) -> int:
        """Serves as a standby until elected and its takeover done; returns the new term (0
        when stopping)."""
        if self.server is None:
            self._serve(self._standby())
        while self.coordinator.campaign(self.stopping):
            server = self.server
            assert server is not None and server.shadow is not None
            others = self._others()
            epoch = self.coordinator.next_epoch()
            log.info("elected for term %d; asking %s to promise it", epoch, others or "no one")
            try:
                take_over(
                    server.shadow, epoch, others, self.config.master_replicas,
                    self.config.rpc_timeout,
                )  # fmt: skip
            except errors.GfsError as err:
                log.warning("could not take over for term %d: %s", epoch, err)
                self.coordinator.resign()
                self.stopping.wait(self.config.heartbeat_interval)
                continue
            self._stop_server()
            return epoch
        return 0

    def _others(self) -> list[str]:
        """The other replicas to ask for promises: once a majority are members (or after a
        while, for a takeover that will then say how many promised)."""
        majority = self.config.master_replicas // 2 + 1
        deadline = time.monotonic() + self.config.rpc_timeout
        while True:
            members = self.coordinator.members()
            if len(members) >= majority or time.monotonic() > deadline:
                return [a for a in members if a != self.config.address]
            self.stopping.wait(0.1)

    def _lead(self, epoch: int) -> None:
        """Serves as the active master for term `epoch` until the coordinator's session is
        interrupted, a replica tells of a newer term, or `stop`."""
        server = self._serve(MasterServer(self.config, epoch=epoch))
        service = server.service
        assert isinstance(service, MasterService)
        coordinator = self.coordinator
        while not (
            self.stopping.is_set() or coordinator.interrupted.is_set() or service.deposed.is_set()
        ):
            self.stopping.wait(0.1)
        if coordinator.interrupted.is_set():
            reason = f"this master lost the coordinator during its term {epoch}"
            service.metadata.quorum.depose(reason)  # before anything else: nothing more answered
            log.warning("stepping down: %s", reason)
        self._stop_server()
        coordinator.resign()
