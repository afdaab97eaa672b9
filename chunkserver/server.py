"""Runs a chunkserver: builds the gRPC server (port 0 allowed), then heartbeats."""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path

from chunkserver.config import ChunkserverConfig
from chunkserver.heartbeat import Heartbeater
from chunkserver.metrics import FAILED_DIRS, REPLICAS, SLOW_DIRS, SPOOL_BYTES
from chunkserver.pages import ChunkserverPages
from chunkserver.removals import Removals
from chunkserver.scrubber import Scrubber
from chunkserver.servicer import POLICY, VITAL, ChunkServicer, PlainReads
from chunkserver.storage import ChunkStore
from chunkserver.volumes import Volume
from common import errors, transport
from common.admission import Shares
from common.events import RecentEvents
from common.exclusive import DirectoryLock
from common.loops import Loop
from common.serving import HEALTH_METHODS, Served, new_server
from common.statushttp import StatusHttp, reachable
from protos import chunkserver_pb2_grpc

log = logging.getLogger(__name__)


class ChunkServer:
    def __init__(self, config: ChunkserverConfig) -> None:
        """Holds its data directories alone until stopped."""
        self.locks: list[DirectoryLock | None] = [DirectoryLock(config.data_dir, "chunkserver")]
        try:
            for directory in config.more_data_dirs:
                self.locks.append(_lock(directory))
            self._build(config)
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        for lock in self.locks:
            if lock is not None:
                lock.release()

    def _build(self, config: ChunkserverConfig) -> None:
        self.config = config
        self.channels = transport.Channels(config.tls)
        self.store = ChunkStore(
            [d / "chunks" for d in config.data_dirs],
            config.max_chunk_size,
            config.failed_dirs_tolerated,
            config.slow_disk_ms / 1000,
        )
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
        self.plain: Served | None = None
        if config.plain_reads and config.tls is not None:
            # Its own server: one gRPC server is either all TLS or none. Reads only, bounded
            # by the same admission as the TLS port's.
            shares = Shares(config.max_reads + 2, 2, config.max_per_client, HEALTH_METHODS)
            self.plain = new_server(config.plain_reads, config.max_reads + 2, None, {}, shares)
            host = self.address.rsplit(":", 1)[0]
            bound = f"{config.plain_reads.rsplit(':', 1)[0]}:{self.plain.port}"
            config = self.config = dataclasses.replace(config, plain_reads=reachable(bound, host))
        self.servicer = ChunkServicer(config, self.store, self.channels, self.address)
        chunkserver_pb2_grpc.add_ChunkServerServicer_to_server(self.servicer, self.server)  # type: ignore[no-untyped-call]
        if self.plain is not None:
            chunkserver_pb2_grpc.add_ChunkServerServicer_to_server(  # type: ignore[no-untyped-call]
                PlainReads(self.servicer), self.plain.server
            )
        SPOOL_BYTES.set_function(lambda: self.servicer.spool.held)
        REPLICAS.set_function(lambda: len(self.store.metas))
        FAILED_DIRS.set_function(lambda: sum(1 for v in self.store.volumes if v.failed))
        SLOW_DIRS.set_function(lambda: len(self.store.volumes.slow_dirs()))
        self.scrubber = Scrubber(
            self.store, config.scrub_period, config.scrub_idle, config.scrub_rate
        )
        self.removals = Removals(self.store, config.heartbeat_interval)
        self.heartbeater = Heartbeater(
            config,
            self.address,
            self.store,
            self.servicer.mutations,
            self.channels,
            self.removals,
            self.servicer.term,
            self.servicer.tokens.keys,
        )
        self.events = RecentEvents()  # for the status page, watched while it is served
        self._stop_checks = threading.Event()
        # The spool's disk: every push lands there first, so its failure is the server's.
        self.spool_disk = Volume(self.servicer.spool.directory)
        self.spool_failed = ""
        self._checks = Loop(
            "data-dir-check",
            self._check_disks,
            lambda: config.dir_check_interval,
            self._stop_checks,
            log,
        ).thread()

    def _check_disks(self) -> None:
        self.store.check_volumes()
        reason = self.spool_disk.probe()
        if reason and not self.spool_failed:
            self.spool_failed = f"the push spool's directory failed ({reason})"
            log.error("%s: the chunkserver stops", self.spool_failed)

    def check(self) -> None:
        """Raises FailedPrecondition once more data directories failed than tolerated, or the
        spool's did (no push could land): the server is to stop (`gfs chunkserver` does, and
        exits 1)."""
        failed = self.store.volumes.gave_up or self.spool_failed
        if failed:
            raise errors.FailedPrecondition(f"chunkserver {self.address}: {failed}")

    def _health(self) -> tuple[bool, str]:
        if not self.health.serving:
            return False, "chunkserver stopping"
        return True, f"chunkserver serving; {len(self.store.metas)} replicas"

    def start(self) -> None:
        self.server.start()
        if self.plain is not None:
            self.plain.server.start()
            log.info("reads in clear, each proved by its token, on %s", self.config.plain_reads)
        if self.http is not None:
            self.events.watch("chunkserver")
            pages = ChunkserverPages(
                self.config, self.address, self.store, self.servicer.spool, self.scrubber,
                self.events,
            )  # fmt: skip
            self.http.pages.update(pages.routes())
            self.http.start()
        self.removals.start()
        self.heartbeater.start()
        self.scrubber.start()
        self._checks.start()
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
        self._stop_checks.set()
        self.scrubber.stop()
        self.heartbeater.stop()
        self.removals.stop()
        servers = [self.server]
        if self.plain is not None:
            self.plain.health.stopping()
            servers.append(self.plain.server)
        for stopped in [server.stop(grace) for server in servers]:
            stopped.wait()
        if self.http is not None:
            self.http.stop()
            self.events.unwatch("chunkserver")
        self.servicer.close()
        self.channels.close()
        self._release()


def _lock(directory: Path) -> DirectoryLock | None:
    """A further data directory's lock; None if its disk cannot take one (the store finds the
    directory failed, and the server starts if that is tolerated)."""
    try:
        return DirectoryLock(directory, "chunkserver")
    except OSError as err:
        if err.errno is None:  # in use by another server
            raise
        log.warning("cannot lock data directory %s: %s", directory, err.strerror or err)
        return None
