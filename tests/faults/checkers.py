"""Judges a history after the faults healed, against docs/design.md section 5. Each checker
returns the violations it found, one line each; an empty list is a pass.

- acknowledged:  every byte an ok put/write defined reads back, from the client and from every
                 replica the master lists (so no stale replica is listed); an ok rm stays gone
- reads:         every ok read during the faults returned exactly the file's bytes
- appends:       every ok record is intact at its offset on every replica; nothing that was never
                 appended appears; a record appears twice only where a primary was asked twice
                 (by the workload's retry or the library's own)
- replication:   every chunk is back to R replicas, all healthy (fsck)
- reclaimed:     no chunkserver keeps a replica of a chunk that no file holds
- one primary:   no two primaries of a chunk acknowledged mutations in overlapping leases
- one active:    no two master replicas acknowledged changes in overlapping terms"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from client import records
from client.client import Client
from client.models import ChunkInfo
from common import errors, transport
from protos import chunkserver_pb2
from tests.faults.cluster import CHUNK_SIZE, CHUNKSERVERS, FaultCluster
from tests.faults.history import digest
from tests.faults.workloads import content

REPLICATION = 3


@dataclass
class FileModel:
    """What a file must hold: the bytes ok operations defined, and which bytes those are."""

    data: bytearray = field(default_factory=bytearray)
    defined: bytearray = field(default_factory=bytearray)  # 1 where data is known
    exact_size: bool = True  # every operation on it was ok: its size is known too
    exists: bool | None = True  # None: unknown

    def put(self, data: bytes) -> None:
        self.data, self.defined = bytearray(data), bytearray(b"\x01" * len(data))
        self.exact_size, self.exists = True, True

    def write(self, offset: int, data: bytes | None, length: int) -> None:
        end = offset + length
        if end > len(self.data):
            # The gap a write past the end leaves reads as zeros if it took place; one whose
            # outcome is unknown may not have, and then the file ends where it did.
            grow = end - len(self.data)
            self.data += bytes(grow)
            self.defined += (b"\x01" if self.exact_size and data is not None else b"\x00") * grow
        if data is None:
            self.defined[offset:end] = bytes(length)
            self.exact_size = False
        else:
            self.data[offset:end] = data
            self.defined[offset:end] = b"\x01" * length

    def mismatches(self, got: bytes, base: int = 0) -> list[int]:
        """Offsets (from `base`) where `got` differs from a defined byte."""
        out = []
        for i, byte in enumerate(got):
            j = base + i
            if j < len(self.data) and self.defined[j] and self.data[j] != byte:
                out.append(j)
                if len(out) > 3:
                    break
        return out


def models(events: list[dict[str, Any]]) -> dict[str, FileModel]:
    """Replays put/write/rm in the order they started (each path has one writer)."""
    files: dict[str, FileModel] = {}
    for e in sorted(events, key=lambda e: e["id"]):
        ok = e["outcome"] == "ok"
        if e["op"] == "put":
            model = files.setdefault(e["path"], FileModel())
            if ok:
                model.put(content(e["key"], e["size"]))
            else:
                files[e["path"]] = FileModel(exact_size=False, exists=None)
        elif e["op"] == "write":
            data = content(e["key"], e["length"]) if ok else None
            files[e["path"]].write(e["offset"], data, e["length"])
        elif e["op"] == "rm":
            if ok:
                files[e["path"]] = FileModel(exists=False)
            else:
                files[e["path"]].exists = None
    return files


def read_replica(channels: transport.Channels, address: str, chunk: ChunkInfo) -> bytes:
    """The whole replica of `chunk` at `address` (the chunk's token from its lookup shown, on
    a secure cluster). Retried for a few seconds while the server is unavailable: one just
    restarted learns the keys that sign tokens from its first heartbeat's reply."""
    request = chunkserver_pb2.ReadRequest(
        handle=chunk.handle, version=chunk.version, offset=0, length=chunk.size, token=chunk.token
    )

    def read() -> bytes:
        with transport.translating(address):
            stream = channels.chunkserver(address).Read(request, timeout=10)
            return b"".join(p.data for p in stream)

    data = transport.retry(read, within=10.0, retry_on=(errors.Unavailable,))
    return data + bytes(chunk.size - len(data))


def check_acknowledged(files: dict[str, FileModel], client: Client) -> list[str]:
    problems: list[str] = []
    channels = client.channels
    for path, model in files.items():
        if model.exists is False:
            if client.exists(path):
                problems.append(f"{path}: removed (ok) but still there")
            continue
        if model.exists is None or not any(model.defined):
            continue
        try:
            stat = client.stat(path)
            got = client.read(path, 0, stat.size)
        except errors.GfsError as err:
            problems.append(f"{path}: acknowledged data unreadable: {err}")
            continue
        if model.exact_size and stat.size != len(model.data):
            problems.append(f"{path}: size {stat.size}, acknowledged {len(model.data)}")
        if stat.size < len(model.data) and any(model.defined[stat.size :]):
            problems.append(f"{path}: size {stat.size} cuts acknowledged bytes")
        bad = model.mismatches(got)
        if bad:
            problems.append(f"{path}: client read differs at offsets {bad}")
        for chunk in stat.chunks:
            for replica in chunk.replicas:
                try:
                    data = read_replica(channels, replica, chunk)
                except errors.GfsError as err:
                    if still_listed(client, path, chunk, replica):
                        problems.append(f"{path} chunk {chunk.index} on {replica}: {err}")
                    continue
                bad = model.mismatches(data, chunk.index * CHUNK_SIZE)
                if bad:
                    problems.append(
                        f"{path} chunk {chunk.index}: replica {replica} v{chunk.version} "
                        f"differs at offsets {bad}"
                    )
    return problems


def still_listed(client: Client, path: str, chunk: ChunkInfo, replica: str) -> bool:
    """Whether the master lists `replica` for `chunk` at the same version after a read of it
    failed: a surplus replica may be removed between a listing and the read (its copy landed
    after fsck turned healthy), which no reader is promised otherwise."""
    now = client.stat(path).chunks
    return any(
        c.handle == chunk.handle and c.version == chunk.version and replica in c.replicas
        for c in now
    )


def check_reads(events: list[dict[str, Any]], files: dict[str, FileModel]) -> list[str]:
    problems = []
    for e in events:
        if e["op"] == "read" and e["outcome"] == "ok":
            model = files[e["path"]]
            want = bytes(model.data[e["offset"] : e["offset"] + e["length"]])
            if digest(want) != e["digest"]:
                problems.append(f"read #{e['id']} of {e['path']} at {e['offset']}: wrong bytes")
    return problems


def check_appends(events: list[dict[str, Any]], client: Client) -> list[str]:
    appends = [e for e in events if e["op"] == "append"]
    if not appends:
        return []
    problems: list[str] = []
    asks: Counter[str] = Counter()  # how many times a primary was asked to append each record
    for e in appends:
        asks[e["key"]] += e["asks"]
    digests = {e["key"]: digest(content(e["key"], e["length"])) for e in appends}
    payloads = {d: key for key, d in digests.items()}
    acked = {e["key"]: e for e in appends if e["outcome"] == "ok"}
    path = appends[0]["path"]
    stat = client.stat(path)
    channels = client.channels
    replicas: dict[str, dict[int, records.Record]] = defaultdict(dict)  # by replica index
    for chunk in stat.chunks:
        assert len(chunk.replicas) == REPLICATION, f"chunk {chunk.index}: {chunk.replicas}"
        for i, replica in enumerate(sorted(chunk.replicas)):
            data = read_replica(channels, replica, chunk)
            for rec in records.parse(data, chunk.index * CHUNK_SIZE):
                replicas[f"{chunk.index}/{i}"][rec.offset] = rec
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    for where, found in replicas.items():
        for rec in found.values():
            key = payloads.get(digest(rec.payload))
            if key is None:
                problems.append(f"phantom record at {rec.offset} ({where})")
                continue
            seen[where][key] += 1
    for where, counts in seen.items():
        for key, n in counts.items():
            if n > asks[key]:
                problems.append(f"record {key} appears {n} times on {where}, asked {asks[key]}")
    for key, e in acked.items():
        index = e["offset"] // CHUNK_SIZE
        for where, found in replicas.items():
            if not where.startswith(f"{index}/"):
                continue
            rec = found.get(e["offset"])
            if rec is None or digest(rec.payload) != digests[key]:
                problems.append(f"acknowledged record {key} missing at {e['offset']} on {where}")
    return problems


def replication_healthy(client: Client) -> bool:
    report = client.fsck("/")
    bad = ("under_replicated", "over_replicated", "missing", "corrupt", "stale_replicas")
    return report["healthy"] == report["chunks"] and not any(report[k] for k in bad)


def live_handles(client: Client, path: str = "/") -> set[int]:
    handles: set[int] = set()
    for entry in client.ls(path):
        if entry.is_dir:
            handles |= live_handles(client, entry.path)
        else:
            handles |= {c.handle for c in client.stat(entry.path).chunks}
    return handles


def unreclaimed(cluster: FaultCluster, client: Client) -> set[int]:
    """Replicas on some chunkserver's disk of chunks no file holds, nor the master's pool of
    new chunks."""
    live = set(client.report().pooled) | live_handles(client)
    on_disk = {
        int(p.stem)
        for node in CHUNKSERVERS
        for d in cluster.data_dirs(node)
        for p in (d / "chunks").glob("*.chunk")
    }
    return on_disk - live


def _overlapping(what: str, terms: dict[int, list[dict[str, Any]]], holder: str) -> list[str]:
    """Acknowledgements grouped by term (a chunk's version, a master's term), each naming who
    gave it (`holder`) and when its request left and its answer came (`sent`, `answered`):
    a term has one holder, and no older term's holder acknowledged a request sent after a
    newer term's had acknowledged one (the old one would still have been serving while the
    new one was)."""
    problems = []
    for term, these in terms.items():
        holders = sorted({a[holder] for a in these})
        if len(holders) > 1:
            problems.append(f"{what} term {term} was held by {holders} at once")
    ordered = sorted(terms)
    for i, older in enumerate(ordered):
        late = max(terms[older], key=lambda a: a["sent"])
        for newer in ordered[i + 1 :]:
            early = min(terms[newer], key=lambda a: a["answered"])
            if late["sent"] > early["answered"]:
                problems.append(
                    f"{what}: {late[holder]} (term {older}) acknowledged a request sent at "
                    f"{late['sent']:.3f}, after {early[holder]} (term {newer}) had acknowledged "
                    f"one at {early['answered']:.3f}"
                )
    return problems


def check_one_primary(notes: list[dict[str, Any]]) -> list[str]:
    """No two primaries ordered mutations of one chunk at once (GFS section 3.1: leases): a
    version is a lease's term (a new lease raises it)."""
    acks: dict[int, dict[int, list[dict[str, Any]]]] = {}
    for e in notes:
        if e.get("note") == "ack":
            acks.setdefault(e["handle"], {}).setdefault(e["version"], []).append(e)
    return [
        problem
        for handle, versions in acks.items()
        for problem in _overlapping(f"chunk {handle}", versions, "primary")
    ]


def check_one_active(notes: list[dict[str, Any]]) -> list[str]:
    """No two master replicas acknowledged changes in overlapping terms (a deposed active
    that still runs acknowledges nothing)."""
    terms: dict[int, list[dict[str, Any]]] = {}
    for e in notes:
        if e.get("note") == "master-ack":
            terms.setdefault(e["term"], []).append(e)
    return _overlapping("master", terms, "address")


def check_all(cluster: FaultCluster, history: list[dict[str, Any]]) -> list[str]:
    """Waits for the cluster to repair itself, then runs every checker on the history (its
    operations and its notes)."""
    events = [e for e in history if "op" in e]
    notes = [e for e in history if "note" in e]
    with cluster.client(timeout=10) as client:
        try:
            cluster.wait_until(lambda: replication_healthy(client), 90, "fsck is healthy")
        except AssertionError as err:
            return [f"replication: {err}: {client.fsck('/')}"]
        try:
            cluster.wait_until(lambda: not unreclaimed(cluster, client), 60, "garbage is reclaimed")
        except AssertionError:
            left = sorted(unreclaimed(cluster, client))
            return [f"reclaimed: replicas of chunks no file holds remain: {left}"]
        files = models(events)
        return [
            *check_acknowledged(files, client),
            *check_reads(events, files),
            *check_appends(events, client),
            *check_one_primary(notes),
            *check_one_active(notes),
        ]
