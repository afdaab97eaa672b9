"""Record-append throughput into one file, from one client and from N at once.

    python benchmarks/append.py [--clients 8] [--seconds 5] [--record-kib 64]

Three chunkservers, 64 MiB chunks, replication 3; every client appends framed records of
--record-kib to the same file for --seconds. Prints MB/s and records/s for 1 and N clients,
and for N the limit measured in the same run: N clients making an append's call to bare
Python gRPC servers (benchmarks/bare.py), a record to a server that hands it to two others
and answers when they did, nothing stored (the primary's batching and its one call to the
master a batch are pygfs's own).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks import bare  # noqa: E402
from client import records  # noqa: E402
from client.client import Client  # noqa: E402
from client.localcluster import LocalCluster  # noqa: E402
from common.transport import CHANNEL_OPTIONS  # noqa: E402
from protos import chunkserver_pb2  # noqa: E402


def appender(master: str, record: int, seconds: float, k: int, out: Any) -> None:
    payload = os.urandom(record)
    count = 0
    with Client(master, timeout=60) as gfs:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            gfs.append_record("/log", payload, f"c{k}-{count}")
            count += 1
    out.put(count)


def bare_appender(primary: str, record: int, seconds: float, k: int, out: Any) -> None:
    import grpc

    append = grpc.insecure_channel(primary, options=CHANNEL_OPTIONS).unary_unary(
        bare.FANOUT,
        request_serializer=chunkserver_pb2.AppendRequest.SerializeToString,
        response_deserializer=chunkserver_pb2.AppendResponse.FromString,
    )
    payload = os.urandom(record)
    count = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        framed = records.frame(payload, f"c{k}-{count}")
        append(chunkserver_pb2.AppendRequest(handle=1, version=1, data=framed), timeout=60)
        count += 1
    out.put(count)


def rate(target: str, clients: int, record: int, seconds: float, bare_calls: bool = False) -> float:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    work = bare_appender if bare_calls else appender
    procs = [
        ctx.Process(target=work, args=(target, record, seconds, k, out)) for k in range(clients)
    ]
    for p in procs:
        p.start()
    total = sum(out.get(timeout=seconds + 120) for _ in procs)
    for p in procs:
        p.join()
    return total / seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--record-kib", type=int, default=64)
    parser.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks" / "results" / "append.json"
    )
    args = parser.parse_args()
    record = args.record_kib * 1024
    with tempfile.TemporaryDirectory() as tmp:
        cluster = LocalCluster(Path(tmp), chunkservers=3)
        try:
            cluster.start()
            with Client(cluster.master_address) as gfs:
                gfs.create("/log")
            one = rate(cluster.master_address, 1, record, args.seconds)
            many = rate(cluster.master_address, args.clients, record, args.seconds)
        finally:
            cluster.stop()
    servers = [bare.spawn("fanout") for _ in range(2)]
    servers.append(bare.spawn("fanout", "--next", ",".join(a for _, a in servers)))
    try:
        limit = rate(servers[2][1], args.clients, record, args.seconds, True)
    finally:
        for proc, _ in servers:
            proc.kill()
    shape = f"{args.record_kib} KiB records, replication 3, {os.cpu_count()} cores"
    print(f"record append into one file, {shape}")
    for n, r in ((1, one), (args.clients, many)):
        print(f"{n:>3} client(s): {r:8.0f} records/s {r * record / 1e6:8.1f} MB/s")
    print(
        f"limit, {args.clients} clients' records to a bare server handing each to two: "
        f"{limit:.0f} records/s; "
        f"ratio {many / limit:.2f}"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "record_bytes": record,
                "clients": args.clients,
                "records_per_s_1": one,
                "mb_per_s_1": one * record / 1e6,
                "records_per_s_n": many,
                "mb_per_s_n": many * record / 1e6,
                "bare_records_per_s_n": limit,
                "ratio_n": many / limit,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
