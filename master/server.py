"""Runs a master: builds the gRPC server (separately from running it, so tests can bind port 0)
and drives the timers the pure core does not run itself."""

from __future__ import annotations

import logging
import threading
from concurrent import futures

import grpc

from client.rpc import CHANNEL_OPTIONS
from master.config import MasterConfig
from master.service import MasterService
from master.servicer import MasterServicer
from master.store import Store
from protos import master_pb2_grpc

log = logging.getLogger(__name__)


class MasterServer:
    def __init__(self, config: MasterConfig) -> None:
        self.config = config
        self.store = Store(config.data_dir / "master.db")
        self.service = MasterService(config, self.store)
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="master"),
            options=CHANNEL_OPTIONS,
        )
        master_pb2_grpc.add_MasterServicer_to_server(MasterServicer(self.service), self.server)  # type: ignore[no-untyped-call]
        self.port = self.server.add_insecure_port(config.listen)
        if self.port == 0:
            raise OSError(f"cannot listen on {config.listen}")
        self.address = f"{config.listen.rsplit(':', 1)[0]}:{self.port}"
        self._stopping = threading.Event()
        self._timer = threading.Thread(target=self._tick, name="master-timer", daemon=True)

    def start(self) -> None:
        self.server.start()
        self._timer.start()
        state = self.service.state
        log.info(
            "master serving on %s (%d paths, %d chunks)",
            self.address,
            len(state.nodes),
            len(state.chunks),
        )

    def _tick(self) -> None:
        ticks = 0
        while not self._stopping.wait(self.config.heartbeat_interval):
            self.service.check_liveness()
            ticks += 1
            if ticks % 60 == 0:
                self.service.compact_log()

    def wait(self) -> None:
        self.server.wait_for_termination()

    def stop(self, grace: float = 1.0) -> None:
        self._stopping.set()
        self.server.stop(grace).wait()
        self.service.close()
        self.store.close()
