"""The administration calls of the client library: the cluster's report (of several master
replicas, each one's role), space and replica health under a path, safe mode, the op-log,
balancing and decommissioning. `Client` has them as its own methods."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from client.models import ClusterReport, LogRecord, SafeModeState, ServerState
from common import errors, paths, transport
from common.masters import MasterList
from protos import master_pb2


class Administration:
    """What `Client` adds to the administration calls: its master replicas, its channels and
    calls' deadline, and its way of calling the master (with retries, shadows for reads)."""

    masters: MasterList
    channels: transport.Channels
    timeout: float

    def _master(self, method: str, request: Any, read_only: bool = False) -> Any:
        raise NotImplementedError

    def balance(self) -> int:
        """Starts a round of balancing moves now; returns how many started."""
        return int(self._master("Balance", master_pb2.Empty()).moves)

    def decommission(self, address: str, cancel: bool = False) -> None:
        """Drains a chunkserver; `report` shows it `decommissioned` once it can be removed.
        With `cancel`, takes it back into service."""
        request = master_pb2.DecommissionRequest(address=address, cancel=cancel)
        self._master("Decommission", request)

    def report(self) -> ClusterReport:
        """The chunkservers as the master (or, with it down, a shadow) sees them; of several
        master replicas, as the active one sees them, and each replica's role."""
        masters: list[dict[str, Any]] = []
        if len(self.masters) > 1:
            r, masters = self._replicas_report()
        else:
            r = self._master("Report", master_pb2.Empty(), read_only=True)
        servers = [ServerState.of(s) for s in r.chunkservers]
        return ClusterReport(
            servers,
            r.safe_mode,
            r.role,
            r.log_seq,
            r.lag_seconds,
            r.master_http,
            masters,
            tuple(r.pooled),
        )

    def _replicas_report(self) -> tuple[master_pb2.ClusterReport, list[dict[str, Any]]]:
        """The active replica's report, and each replica's role and newest log entry."""
        replies: dict[str, master_pb2.ClusterReport | None] = {}
        for address in self.masters.addresses:
            try:
                replies[address] = transport.call(
                    self.channels.master(address).Report,
                    master_pb2.Empty(),
                    target=f"master {address}",
                    timeout=min(self.timeout, 5.0),
                )
            except errors.GfsError:
                replies[address] = None
        roles = {"master": "active", "shadow": "standby"}
        masters = [
            {"address": a, "role": roles.get(r.role, r.role), "log_seq": r.log_seq}
            if r is not None
            else {"address": a, "role": "down", "log_seq": 0}
            for a, r in replies.items()
        ]
        active = [r for r in replies.values() if r is not None and r.role == "master"]
        if not active:
            raise errors.Unavailable(f"no active master among the replicas {self.masters}")
        return active[0], masters

    def summary(self, path: str) -> dict[str, int]:
        """{"length", "files", "directories", "consumed"} at or under `path`: bytes in files,
        how many of each (a directory counts itself), bytes on disk with every replica."""
        request = master_pb2.SummaryRequest(path=paths.normalize(path))
        r = self._master("Summary", request, read_only=True)
        return {k: int(getattr(r, k)) for k in ("length", "files", "directories", "consumed")}

    def fsck(self, path: str = "/") -> dict[str, int]:
        """Replica health of the files at or under `path`: `gfs fsck --json`'s keys."""
        r = self._master("Fsck", master_pb2.FsckRequest(path=paths.normalize(path)), read_only=True)
        keys = (
            "files",
            "chunks",
            "healthy",
            "under_replicated",
            "over_replicated",
            "missing",
            "corrupt",
            "stale_replicas",
        )
        return {k: int(getattr(r, k)) for k in keys}

    def safe_mode(self, action: str = "get") -> SafeModeState:
        reply = self._master("SafeMode", master_pb2.SafeModeRequest(action=action))
        return SafeModeState(reply.active, reply.manual, reply.known_chunks, reply.reported_chunks)

    def oplog(self, since: int = 0, limit: int = 0) -> Iterator[LogRecord]:
        """The master's op-log entries after `since`, oldest first."""
        address = self.masters.current
        stub = self.channels.master(address)
        request = master_pb2.StreamLogRequest(since=since, limit=limit, batch=1000)
        with transport.translating(f"master {address}"):
            for record in stub.StreamLog(request, timeout=self.timeout):
                for r in record.entries or [record]:  # one a record from an older master
                    yield LogRecord(r.seq, r.ts, r.op, json.loads(r.args_json))
