"""Runs a master or a shadow master: builds the gRPC server (separately from running it, so
tests can bind port 0) and drives the timers the pure core does not run itself."""

from __future__ import annotations

import logging
import threading
import time
from concurrent import futures

import grpc

from client import errors
from client.rpc import CHANNEL_OPTIONS
from master.config import MasterConfig
from master.service import MasterService
from master.servicer import MasterServicer
from master.shadow import ShadowService
from master.store import Store
from protos import master_pb2_grpc

log = logging.getLogger(__name__)


class MasterServer:
    def __init__(self, config: MasterConfig, shadow_of: str | None = None) -> None:
        """With `shadow_of` (the master's address), a read-only shadow of that master."""
        self.config = config
        self.store = Store(config.data_dir / "master.db")
        self.shadow: ShadowService | None = None
        if shadow_of is None:
            self.service = MasterService(config, self.store)
        else:
            self.shadow = ShadowService(config, self.store, shadow_of)
            self.service = self.shadow
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
        self._threads = [threading.Thread(target=self._tick, name="master-timer", daemon=True)]
        if self.shadow is not None:
            self._threads.append(threading.Thread(target=self._follow, name="follow", daemon=True))

    def start(self) -> None:
        self.server.start()
        for thread in self._threads:
            thread.start()
        state = self.service.state
        log.info(
            "%s serving on %s (%d paths, %d chunks, log at %d)",
            self.service.role,
            self.address,
            len(state.nodes),
            len(state.chunks),
            self.store.last_seq,
        )

    def _tick(self) -> None:
        balanced_at = time.monotonic()
        while not self._stopping.wait(self.config.heartbeat_interval):
            if (
                self.shadow is None
                and time.monotonic() - balanced_at >= self.config.balance_interval
            ):
                balanced_at = time.monotonic()
                self.service.balance()
            if self.shadow is not None:
                self.shadow.poll_chunkservers()
            self.service.check_liveness()
            self.service.repair()
            self.service.purge_trash()
            self.service.compact_log()  # one min/max query unless there is work to do

    def _follow(self) -> None:
        assert self.shadow is not None
        connected = True
        while not self._stopping.is_set():
            log.info(
                "following master %s from entry %d", self.shadow.master_address, self.store.last_seq
            )
            try:
                self.shadow.follow(self._stopping)
            except errors.GfsError as err:
                if connected:
                    log.warning("lost the master's log: %s; retrying", err)
                connected = False
                self._stopping.wait(self.config.heartbeat_interval)
                continue
            connected = True

    def wait(self) -> None:
        self.server.wait_for_termination()

    def stop(self, grace: float = 1.0) -> None:
        self._stopping.set()
        self.server.stop(grace).wait()
        self.service.close()
        self.store.close()
