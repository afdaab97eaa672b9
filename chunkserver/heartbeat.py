"""The chunkserver's heartbeat loop: reports replicas and disk use, passes on the removals the
master asks for (chunkserver/removals.py).

Reports are incremental (HDFS's incremental block reports; GFS section 4.3 sent a subset of
the chunks per heartbeat): a beat lists only the replicas changed since the master took the
last report, so it costs what changed, not what is stored. A full report goes first, whenever
the master asks for one (it restarted, or counted this server dead), and every
`full_report_interval` seconds, the first of them at a random point of that interval so that
servers started together do not send theirs together. A full report of more replicas than
`full_report_part` goes in parts, one a beat (HDFS splits its block reports too): it would
pass the message limit at about a million replicas, and the master judges a part at a time."""

from __future__ import annotations

import logging
import random
import time

from chunkserver.config import ChunkserverConfig
from chunkserver.leases import lease_end
from chunkserver.mutations import Mutations
from chunkserver.removals import Removals
from chunkserver.storage import ChunkStore
from common import errors, transport
from common.logformat import fields
from common.loops import Background
from common.term import Term
from common.tokens import Key, KeyRing
from protos import master_pb2

log = logging.getLogger(__name__)


class Heartbeater(Background):
    def __init__(
        self,
        config: ChunkserverConfig,
        address: str,
        store: ChunkStore,
        leases: Mutations,
        channels: transport.Channels,
        removals: Removals,
        term: Term,
        keys: KeyRing | None = None,
    ) -> None:
        super().__init__("heartbeat", self._round, lambda: self.interval, log)
        self.config = config
        self.address = address
        self.store = store
        self.leases = leases  # the primary's leases: extensions asked for and granted
        self.keys = keys  # the master's token keys, as its replies say
        self.channels = channels
        self.removals = removals  # what the master's replies ask to remove, done elsewhere
        self.term = term  # the newest master term heard of (the servicer's)
        self.interval = config.heartbeat_interval
        self._reachable = True
        self._full_due = True
        self._next_full = time.monotonic() + random.uniform(0, 1) * config.full_report_interval
        self._parts: list[list[int]] = []  # of the full report under way: the parts to send
        self._sent = 0  # of those, the parts the master took

    def _round(self) -> None:
        try:
            self.beat()
            if not self._reachable:
                master = self.config.masters.current
                log.info(
                    "master %s reachable again",
                    master,
                    extra=fields("master_reachable", address=master),
                )
            self._reachable = True
        except errors.GfsError as err:
            if self._reachable:
                log.warning(
                    "heartbeat to master failed: %s",
                    err,
                    extra=fields("master_unreachable", address=self.config.masters.current),
                )
            self._reachable = False

    def beat(self) -> None:
        sent_at = time.monotonic()  # before the master can have extended anything
        extend = self.leases.extension_requests()
        lost = self.store.volumes.take_lost()
        try:
            reply = self._report(extend, lost)
            if reply.full_report:  # the master took nothing: the full report it asks for, now
                reply = self._report(extend, lost)
        except errors.GfsError:
            self.store.volumes.untold(lost)
            raise
        if reply.interval_seconds > 0:
            self.interval = reply.interval_seconds
        if self.keys is not None and reply.keys:
            keys = [Key(k.id, k.secret, k.until) for k in reply.keys]
            self.keys.replace(keys, reply.keys_time, time.monotonic())
        if reply.extended:
            tokens = dict(zip(reply.extended, reply.extended_tokens, strict=False))
            self.leases.extended(tokens, extend, lease_end(sent_at, reply.lease_seconds))
        self.removals.ask((r.handle, r.max_version) for r in reply.delete)

    def _report(
        self, extend: list[tuple[int, int]], lost: list[int]
    ) -> master_pb2.HeartbeatResponse:
        """Sends one heartbeat: every replica when a full report is due, its next part when one
        is under way, otherwise those changed since the master took the last report. What the
        master did not take is reported again next time."""
        started = time.monotonic()
        if not self._parts and (self._full_due or started >= self._next_full):
            handles = sorted(self.store.metas)
            step = self.config.full_report_part
            if len(handles) > step:
                self._parts = [handles[i : i + step] for i in range(0, len(handles), step)]
                self._sent = 0
            else:
                self._full_due = True
        full = self._full_due and not self._parts
        changed = self.store.changes.take()  # before the replicas are read: none is missed
        if full:
            reports, gone = self.store.reports(), list[int]()
        elif self._parts:
            reports, gone = self.store.reports_of(changed | set(self._parts[self._sent]))
        else:
            reports, gone = self.store.reports_of(changed)
        used, free = self.store.usage()
        request = master_pb2.HeartbeatRequest(
            address=self.address,
            rack=self.config.rack,
            http=self.config.http,
            plain_reads=self.config.plain_reads,
            failed_dirs=self.store.volumes.failed_dirs(),
            slow_dirs=self.store.volumes.slow_dirs(),
            lost=lost,
            used_bytes=used,
            free_bytes=free,
            replicas=[
                master_pb2.ReplicaReport(handle=h, version=v, length=n) for h, v, n in reports
            ],
            corrupt=sorted(self.store.corrupt),
            extend=[master_pb2.ReplicaReport(handle=h, version=v) for h, v in extend],
            incremental=not full,
            gone=gone,
            replica_count=len(self.store.metas),
            report_part=self._sent + 1 if self._parts else 0,
            report_parts=len(self._parts),
        )
        master = self.config.masters.current
        try:
            reply: master_pb2.HeartbeatResponse = transport.call(
                self.channels.master(master).Heartbeat,
                request,
                target=f"master {master}",
                timeout=self.config.rpc_timeout,
            )
            # A deposed master's reply is not acted on: its deletions, its lease extensions.
            self.term.check(reply.epoch, f"the heartbeat reply of master {master}")
        except errors.GfsError as err:
            self.store.changes.mark_all(changed)
            if isinstance(err, errors.FailedPrecondition | errors.Unavailable):
                self.config.masters.passed(master)  # of several replicas: the next one
            raise
        if reply.full_report:
            self.store.changes.mark_all(changed)
            self._full_due, self._parts = True, []  # over again, from the first part
        elif full or (self._parts and self._sent + 1 == len(self._parts)):
            self._full_due, self._parts = False, []
            self._next_full = started + self.config.full_report_interval
        elif self._parts:
            self._sent += 1
        self.store.changes.mark_all(reply.recheck)
        return reply
