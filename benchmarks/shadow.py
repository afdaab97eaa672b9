"""A fresh shadow master catching up with a long op log.

    python benchmarks/shadow.py [--files 100000]

Writes a master's log of --files one-chunk files, one entry per mutation as a master logs them
(a directory per 1000 files; each file made, given its chunk, leased and given its length),
starts a master on it and then a shadow on an empty directory, and times the shadow from its
first answer to holding the master's last entry: entries replayed per second (target >= 20k).
The limit beside it is reading the same log with sqlite3 alone, measured in the same run.
Writes benchmarks/results/shadow.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import grpc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from scale import path_of, spawn, start_master  # noqa: E402

from common.transport import CHANNEL_OPTIONS  # noqa: E402
from master import namespace  # noqa: E402
from master.rows import LogEntry, change_json  # noqa: E402
from master.state import Mutation, PutChunk, PutNode  # noqa: E402
from master.store import Store  # noqa: E402
from protos import master_pb2, master_pb2_grpc  # noqa: E402

TARGET = 20_000.0  # entries per second


def build(files: int, directory: Path) -> int:
    """A master store whose log holds a mutation per entry; returns the entries written."""
    store = Store(directory / "master.db")
    state = store.load()
    entries: list[LogEntry] = []
    seq = 0

    def add(mutation: Mutation) -> None:
        nonlocal seq
        state.apply(mutation)
        seq += 1
        changes = json.dumps([change_json(c) for c in mutation.changes])
        entries.append(LogEntry(seq, 1.0, mutation.op, json.dumps(mutation.args), changes))
        if len(entries) >= 20_000:
            store.replay(entries)
            entries.clear()

    for i in range(files):
        path = path_of(i)
        if i % 1000 == 0:
            add(namespace.mkdir(state, path.rsplit("/", 1)[0], parents=False, now=1.0))
        add(namespace.create(state, path, now=1.0))
        add(namespace.add_chunks(state, path, 0, now=1.0))
        handle = state.nodes[path].chunks[0]
        chunk = state.chunks[handle]._replace(floor=0)
        add(Mutation("grant", {"handle": handle}, (PutChunk(chunk),)))
        node = state.nodes[path]._replace(size=1000)
        add(Mutation("set_length", {"path": path}, (PutNode(node),)))
    store.replay(entries)
    store.close()
    return seq


def raw_read(directory: Path) -> float:
    """Entries per second of reading the whole log with sqlite3 and decoding its JSON."""
    db = sqlite3.connect(directory / "master.db")
    began = time.monotonic()
    count = 0
    for _, args, changes in db.execute("SELECT seq, args, changes FROM oplog"):
        json.loads(args)
        json.loads(changes)
        count += 1
    took = time.monotonic() - began
    db.close()
    return count / took


def start_shadow(
    master: str, directory: Path, log: IO[bytes]
) -> tuple[subprocess.Popen[bytes], str]:
    args = ["--master", master, "shadow", "--listen", "127.0.0.1:0", "--data-dir", str(directory)]
    return spawn(args, log)


def log_seq(stub: master_pb2_grpc.MasterStub) -> int:
    try:
        return int(stub.Report(master_pb2.Empty(), timeout=10).log_seq)
    except grpc.RpcError:
        return -1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--master-log", type=Path, default=None)
    parser.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks" / "results" / "shadow.json"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        master_dir, shadow_dir = Path(tmp) / "master", Path(tmp) / "shadow"
        master_dir.mkdir()
        shadow_dir.mkdir()
        entries = build(args.files, master_dir)
        limit = raw_read(master_dir)
        log = args.master_log.open("wb") if args.master_log else open(os.devnull, "wb")  # noqa: SIM115
        master, address, _ = start_master(master_dir, log)
        shadow = None
        try:
            shadow, shadow_address = start_shadow(address, shadow_dir, log)
            stub = master_pb2_grpc.MasterStub(  # type: ignore[no-untyped-call]
                grpc.insecure_channel(shadow_address, options=CHANNEL_OPTIONS)
            )
            while (seq := log_seq(stub)) < 0:
                time.sleep(0.01)
            began, start_seq = time.monotonic(), seq
            while (seq := log_seq(stub)) < entries:
                time.sleep(0.05)
            took = time.monotonic() - began
        finally:
            for proc in filter(None, [shadow, master]):
                proc.terminate()
                proc.wait()
            log.close()
    rate = (entries - start_seq) / took
    result = {
        "files": args.files,
        "entries": entries,
        "catch_up_s": took,
        "entries_per_s": rate,
        "raw_read_entries_per_s": limit,
        "ratio_to_raw_read": rate / limit,
        "target_entries_per_s": TARGET,
        "cores": os.cpu_count(),
    }
    print(f"{entries} log entries ({args.files} files), {os.cpu_count()} cores")
    print(
        f"shadow catch-up {rate:9.0f} entries/s in {took:.1f} s (target >= {TARGET:.0f}; "
        f"sqlite3 read and decode of the log {limit:.0f}/s, ratio {rate / limit:.2f})"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print("target met" if rate >= TARGET else "TARGET MISSED")
    sys.exit(0 if rate >= TARGET else 1)


if __name__ == "__main__":
    main()
