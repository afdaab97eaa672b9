"""Master metadata throughput, beside the bare gRPC no-op rate measured in the same run.

    python benchmarks/metadata.py [--processes 3] [--threads 8] [--seconds 5] [--files 100000]

Several client processes, each with several threads, call as fast as they can for --seconds:
(1) a no-op unary call on a bare Python gRPC server (same thread pool as the master) - the
limit; (2) new files made through `Client.create`, each durable in SQLite before it returns
(a process's concurrent creates go to the master in one CreateMany call and one commit);
(3) the same, one raw Create call a file; (4) GetChunk (chunk-location lookups) on the master.
Prints calls/s and the ratios to the limit (targets: creates >= 0.8, lookups >= 0.8), as
medians of --rounds interleaved rounds. Then measures how long a master with --files files
takes from start to serving.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from client.client import Client  # noqa: E402
from client.localcluster import LocalCluster  # noqa: E402
from common.transport import CHANNEL_OPTIONS  # noqa: E402
from protos import master_pb2, master_pb2_grpc  # noqa: E402

KINDS = {
    "noop": "bare gRPC no-op (the limit)",
    "create": "creates (durable, Client.create)",
    "create_call": "creates, one Create call each",
    "lookup": "chunk-location lookups",
}
TARGETS = {"create": 0.8, "lookup": 0.8}


def noop_server() -> tuple[grpc.Server, str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), options=CHANNEL_OPTIONS)
    handler = grpc.unary_unary_rpc_method_handler(
        lambda request, context: master_pb2.Empty(),
        request_deserializer=master_pb2.Empty.FromString,
        response_serializer=master_pb2.Empty.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler("bench.Noop", {"Call": handler})]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"127.0.0.1:{port}"


def worker(kind: str, address: str, tag: str, threads: int, seconds: float, out: Any) -> None:
    """One client process: `threads` threads calling in a loop; puts its call count on `out`."""
    channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
    stub = master_pb2_grpc.MasterStub(channel)  # type: ignore[no-untyped-call]
    noop = channel.unary_unary(
        "/bench.Noop/Call",
        request_serializer=master_pb2.Empty.SerializeToString,
        response_deserializer=master_pb2.Empty.FromString,
    )
    gfs = Client(address) if kind == "create" else None
    if kind.startswith("create"):
        stub.Mkdir(master_pb2.MkdirRequest(path=f"/bench/{tag}", parents=True))
    counts: list[int | None] = [None] * threads  # None: the thread failed
    start = threading.Barrier(threads + 1)
    deadline = [0.0]

    def loop(t: int) -> None:
        start.wait()
        n = 0
        while time.monotonic() < deadline[0]:
            if kind == "noop":
                noop(master_pb2.Empty(), timeout=10)
            elif gfs is not None:  # "create", as users do: concurrent ones go in one call
                gfs.create(f"/bench/{tag}/t{t}-{n}")
            elif kind == "create_call":
                stub.Create(master_pb2.CreateRequest(path=f"/bench/{tag}/t{t}-{n}"), timeout=10)
            else:
                stub.GetChunk(master_pb2.GetChunkRequest(path="/lookup", index=n % 16), timeout=10)
            n += 1
        counts[t] = n

    pool = [threading.Thread(target=loop, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    deadline[0] = time.monotonic() + seconds
    start.wait()
    for thread in pool:
        thread.join()
    channel.close()
    if gfs is not None:
        gfs.close()
    out.put(None if None in counts else sum(c for c in counts if c is not None))


def rate(kind: str, address: str, processes: int, threads: int, seconds: float) -> float:
    """Calls per second of `kind`; raises if any client thread failed."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [
        ctx.Process(
            target=worker, args=(kind, address, f"{uuid.uuid4().hex}-{p}", threads, seconds, out)
        )
        for p in range(processes)
    ]
    for p in procs:
        p.start()
    counts = [out.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    if None in counts:
        raise SystemExit(f"a {kind} client failed; see the traceback above")
    return sum(counts) / seconds


def restart_seconds(files: int, work: Path) -> float:
    """Time from starting a master with `files` one-chunk files in its store (and its image)
    to its first answered Stat (benchmarks/scale.py measures the rest of such a master)."""
    from scale import build, ensure_image, start_master, stop_master

    directory = work / "big"
    directory.mkdir()
    build(files, directory)
    ensure_image(directory)  # as a running master would have written it
    with open(os.devnull, "wb") as log:
        proc, _, took = start_master(directory, log)
    stop_master(proc)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    # 3 x 8 calls at once: the master serves 28 (its 32 workers less 4 kept for heartbeats)
    # and refuses more, which these raw calls do not retry.
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks" / "results" / "metadata.json"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        server, noop_address = noop_server()
        cluster = LocalCluster(work / "cluster", chunkservers=3, master_args=["--chunk-size=65536"])
        try:
            cluster.start()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "client.cli",
                    "--master",
                    cluster.master_address,
                    "put",
                    "-",
                    "/lookup",
                ],
                input=os.urandom(16 * 65536),
                cwd=ROOT,
                check=True,
            )
            p, t, s = args.processes, args.threads, args.seconds
            samples: dict[str, list[float]] = {k: [] for k in KINDS}
            for _ in range(args.rounds):  # interleaved, so a slow spell hits every kind
                for kind in KINDS:
                    address = noop_address if kind == "noop" else cluster.master_address
                    samples[kind].append(rate(kind, address, p, t, s))
            rates = {k: statistics.median(v) for k, v in samples.items()}
        finally:
            cluster.stop()
            server.stop(0)
        restart = restart_seconds(args.files, work)

    ratios = {k: rates[k] / rates["noop"] for k in KINDS if k != "noop"}
    load = f"{args.processes} client processes x {args.threads} threads"
    rounds = f"{args.seconds:.0f}s x {args.rounds} rounds (medians)"
    print(f"{load}, {rounds}, {os.cpu_count()} cores")
    print(f"{KINDS['noop']:34}{rates['noop']:>10.0f} calls/s")
    for kind, label in KINDS.items():
        if kind != "noop":
            figure = f"{label:34}{rates[kind]:>10.0f} calls/s   ratio {ratios[kind]:.2f}"
            print(figure + (f" (target >= {TARGETS[kind]})" if kind in TARGETS else ""))
    print(f"master restart with {args.files} files: {restart:.2f}s to serving")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "rates": rates,
                "samples": samples,
                "ratios": ratios,
                "targets": TARGETS,
                "restart_seconds": restart,
                "files": args.files,
                "processes": args.processes,
                "threads": args.threads,
            },
            indent=2,
        )
        + "\n"
    )
    ok = all(ratios[k] >= TARGETS[k] for k in TARGETS)
    print("targets met" if ok else "TARGET MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
