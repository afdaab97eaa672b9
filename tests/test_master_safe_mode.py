"""Safe mode's count: a chunk counts as reported when a live server holds its current version,
or when it was never written (nothing of it can be missing)."""

from __future__ import annotations

from pathlib import Path

from master import namespace
from master.chunkservers import Heartbeat, Report
from master.config import MasterConfig
from master.metadata import Metadata
from master.store import Store


def test_only_chunks_on_live_servers_or_never_written_count_as_reported(tmp_path: Path) -> None:
    now = [0.0]
    meta = Metadata(MasterConfig(data_dir=tmp_path), Store(tmp_path / "m.db"), lambda: now[0])
    meta.commit(namespace.create(meta.state, "/f", now=0.0))
    meta.commit(namespace.add_chunks(meta.state, "/f", 3, now=0.0))
    on_live, on_dead, nowhere, _blank = sorted(meta.state.chunks)
    for handle in (on_live, on_dead, nowhere):  # written: leased once, version 3
        chunk = meta.state.chunks[handle]._replace(version=3, floor=0)
        meta.state.chunks[handle] = chunk
    assert meta.chunk_counts() == (4, 1), "only the blank chunk, before any report"

    def report(address: str, *handles: int) -> None:
        beat = Heartbeat(address, "r", 0, 10**12, [Report(h, 3, 10) for h in handles])
        meta.servers.heartbeat(meta.state, beat, now[0])

    report("dies", on_dead, on_live)
    now[0] = 5.0
    report("lives", on_live)
    assert meta.chunk_counts() == (4, 3)
    now[0] = meta.config.dead_after + 1.0  # "dies" is silent past dead_after; "lives" is not
    assert meta.chunk_counts() == (4, 2)
    report("lives", on_live, 999)  # a replica of a chunk the master does not have
    assert meta.chunk_counts() == (4, 2)
