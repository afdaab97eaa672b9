"""put and get throughput of pygfs against the bare stack's limits, measured in the same run.

    python benchmarks/throughput.py [--size-mib 1024] [--rounds 3]

(a) put limit: three bare gRPC processes in a pipelined chain, each writing the stream to a file
    and syncing it, fed by one client-streaming call (bare.py chain);
(b) get limit: one bare server streaming a file to a client that writes it to a file (bare.py
    source).
Same bytes, same 1 MiB messages, same durability on both sides of each ratio. pygfs runs as a
local cluster (master + 3 chunkservers, replication 3, 64 MiB chunks). Each figure is the best of
--rounds runs, taken alternately with its limit so that the disk's write-back state is shared.
Prints MB/s (best and median of the rounds) and the ratios put/(a) and get/(b), judged on the
best rounds; writes the figures to --json.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.bare import spawn  # noqa: E402
from client.client import Client  # noqa: E402
from client.localcluster import LocalCluster  # noqa: E402
from common.transport import CHANNEL_OPTIONS  # noqa: E402
from protos import chunkserver_pb2 as pb  # noqa: E402

PIECE = 1024 * 1024
TARGET = 0.6


def file_pieces(path: Path) -> Iterator[pb.DataPiece]:
    with open(path, "rb") as f:
        while data := f.read(PIECE):
            yield pb.DataPiece(data=data)


def timed(action: Callable[[], object]) -> float:
    os.sync()  # no step pays for the write-back of the one before it
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks" / "results" / "throughput.json"
    )
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="where files go (default: a temp dir)"
    )
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024

    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp_name:
        tmp = Path(tmp_name)
        source = tmp / "source.bin"
        with open(source, "wb") as f:
            for _ in range(args.size_mib):
                f.write(os.urandom(1024 * 1024))

        bare: list[subprocess.Popen[bytes]] = []
        cluster = LocalCluster(tmp / "cluster", chunkservers=3)
        try:
            # (a) the bare chain, built from its tail.
            nxt = None
            for i in reversed(range(3)):
                proc, address = spawn(
                    "chain", "--out", str(tmp / f"bare{i}.bin"), *(["--next", nxt] if nxt else [])
                )
                bare.append(proc)
                nxt = address
            chain_head = nxt
            # (b) the bare source.
            proc, source_address = spawn("source", "--file", str(source))
            bare.append(proc)

            channel = grpc.insecure_channel(chain_head, options=CHANNEL_OPTIONS)
            push = channel.stream_unary(
                "/bare.Chain/Push",
                request_serializer=pb.DataPiece.SerializeToString,
                response_deserializer=pb.PushDataResponse.FromString,
            )
            src_channel = grpc.insecure_channel(source_address, options=CHANNEL_OPTIONS)
            read = src_channel.unary_stream(
                "/bare.Source/Read",
                request_serializer=pb.ReadRequest.SerializeToString,
                response_deserializer=pb.ReadPiece.FromString,
            )

            def bare_put() -> None:
                push(file_pieces(source), timeout=600)

            def bare_get() -> None:
                with open(tmp / "bare_out.bin", "wb") as out:
                    for piece in read(pb.ReadRequest(), timeout=600):
                        out.write(piece.data)

            cluster.start()
            gfs = Client(cluster.master_address, timeout=120)
            n = [0]

            def gfs_put() -> None:
                n[0] += 1
                with open(source, "rb") as f:
                    gfs.put(f, f"/bench{n[0]}")

            def gfs_get() -> None:
                with open(tmp / "gfs_out.bin", "wb") as out:
                    gfs.get(f"/bench{n[0]}", out)

            times: dict[str, list[float]] = {
                "bare_put": [],
                "gfs_put": [],
                "bare_get": [],
                "gfs_get": [],
            }
            for _ in range(args.rounds):
                times["bare_put"].append(timed(bare_put))
                times["gfs_put"].append(timed(gfs_put))
                times["bare_get"].append(timed(bare_get))
                times["gfs_get"].append(timed(gfs_get))
                if n[0] > 1:
                    gfs.rm(f"/bench{n[0] - 1}")
            if not filecmp.cmp(tmp / "gfs_out.bin", source, shallow=False):
                print("pygfs returned different bytes than were put", file=sys.stderr)
                sys.exit(2)
            gfs.close()
            channel.close()
            src_channel.close()
        finally:
            cluster.stop()
            for proc in bare:
                proc.kill()
                proc.wait()

    mbs = {k: size / min(v) / 1e6 for k, v in times.items()}
    median = {k: size / statistics.median(v) / 1e6 for k, v in times.items()}
    put_ratio = mbs["gfs_put"] / mbs["bare_put"]
    get_ratio = mbs["gfs_get"] / mbs["bare_get"]
    ratios_median = {
        "put": median["gfs_put"] / median["bare_put"],
        "get": median["gfs_get"] / median["bare_get"],
    }
    machine = f"{os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"size {args.size_mib} MiB, {args.rounds} rounds, {machine}")
    print(f"{'':32}{'best MB/s':>10}{'median':>10}")
    for key, label in (
        ("bare_put", "(a) bare 3-process chain"),
        ("gfs_put", "pygfs put, replication 3"),
        ("bare_get", "(b) bare file-to-file stream"),
        ("gfs_get", "pygfs get"),
    ):
        print(f"{label:32}{mbs[key]:>10.1f}{median[key]:>10.1f}")
    print(f"put/(a): best {put_ratio:.2f}, median {ratios_median['put']:.2f} (target >= {TARGET})")
    print(f"get/(b): best {get_ratio:.2f}, median {ratios_median['get']:.2f} (target >= {TARGET})")
    result = {
        "size_mib": args.size_mib,
        "rounds": args.rounds,
        "mb_per_s": mbs,
        "mb_per_s_median": median,
        "seconds": times,
        "put_ratio": put_ratio,
        "get_ratio": get_ratio,
        "ratios_median": ratios_median,
        "target": TARGET,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    ok = put_ratio >= TARGET and get_ratio >= TARGET
    print("targets met" if ok else "TARGET MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
