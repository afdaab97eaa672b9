"""Runs a chunkserver: builds the gRPC server (port 0 allowed), then heartbeats."""

from __future__ import annotations

import dataclasses
import logging

from chunkserver.config import ChunkserverConfig
from chunkserver.heartbeat import Heartbeater
from chunkserver.metrics import REPLICAS, SPOOL_BYTES
from chunkserver.pages import ChunkserverPages
from chunkserver.scrubber import Scrubber
from chunkserver.servicer import POLICY, VITAL, ChunkServicer
from chunkserver.storage import ChunkStore
from common import transport
from common.admission import Shares
from common.events import RecentEvents
from common.exclusive import DirectoryLock
from common.serving import new_server
from common.statushttp import StatusHttp
from protos import chunkserver_pb2_grpc

log = logging.getLogger(__name__)


class ChunkServer:
    def __init__(self, config: ChunkserverConfig) -> None:
        """Holds its data directory alone until stopped."""
        self.lock = DirectoryLock(config.data_dir, "chunkserver")
        try:
            self._build(config)
        except BaseException:
            self.lock.release()
            raise

    def _build(self, config: ChunkserverConfig) -> None:
        self.config = config
        self.channels = transport.Channels(config.tls)
        self.store = ChunkStore(config.data_dir / "chunks", config.max_chunk_size)
        shares = Shares(config.workers, config.reserved_workers, config.max_per_client, VITAL)
        self.server, port, self.health = new_server(
            config.listen, config.workers, config.tls, POLICY, shares
        )
        self.address = config.advertise or f"{config.listen.rsplit(':', 1)[0]}:{port}"
        self.http = StatusHttp(config.http, self._health) if config.http else None
        if self.http is not None:  # reported as bound, on the host others reach this server by
            config = self.config = dataclasses.replace(
                config, http=self.http.reachable(self.address.rsplit(":", 1)[0])
            )
        self.servicer = ChunkServicer(config, self.store, self.channels, self.address)
        chunkserver_pb2_grpc.add_ChunkServerServicer_to_server(self.servicer, self.server)  # type: ignore[no-untyped-call]
        SPOOL_BYTES.set_function(lambda: self.servicer.spool.held)
        REPLICAS.set_function(lambda: len(self.store.metas))
        self.scrubber = Scrubber(
            self.store, config.scrub_period, config.scrub_idle, config.scrub_rate
        )
        self.heartbeater = Heartbeater(
            config,
            self.address,
            self.store,
            self.servicer.mutations,
            self.channels,
            self.servicer.tokens.keys,
        )
        self.events = RecentEvents()  # for the status page, watched while it is served

    def _health(self) -> tuple[bool, str]:
        if not self.health.serving:
            return False, "chunkserver stopping"
        return True, f"chunkserver serving; {len(self.store.metas)} replicas"

    def start(self) -> None:
        self.server.start()
        if self.http is not None:
            self.events.watch("chunkserver")
            pages = ChunkserverPages(
                self.config, self.address, self.store, self.servicer.spool, self.scrubber,
                self.events,
            )  # fmt: skip
            self.http.pages.update(pages.routes())
            self.http.start()
        self.heartbeater.start()
        self.scrubber.start()
        log.info(
            "chunkserver serving on %s (rack %s), master %s",
            self.address,
            self.config.rack,
            self.config.master,
        )

    def wait(self) -> None:
        self.server.wait_for_termination()

    def stop(self, grace: float = 1.0) -> None:
        self.health.stopping()
        self.scrubber.stop()
        self.heartbeater.stop()
        self.server.stop(grace).wait()
        if self.http is not None:
            self.http.stop()
            self.events.unwatch("chunkserver")
        self.servicer.close()
        self.channels.close()
        self.lock.release()
