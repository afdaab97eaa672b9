"""One client of the Figure 3 benchmark (benchmarks/figure3.py), as in GFS section 6.1.1.

    python figure3_worker.py write  --master ADDR --path /w/c0 --start-at T --seconds S
    python figure3_worker.py read   --master ADDR --path /w/c0 --path /w/c1 ... --start-at T ...
    python figure3_worker.py append --master ADDR --path /log --start-at T --seconds S

write: its own new file in a series of --size writes (1 MB in the paper); put: its own new file
streamed through the client's writer (Client.put: chunk-sized mutations, two in flight) until
the time is up; read: regions of --size (4 MB in the paper) at random offsets of the files
given; append: records of --size to one file shared with the other clients. For the limits on
loopback, bare-push streams --size bytes at a time into a bare.py chain at --bare, and bare-read
reads --size regions of the --bare-size bytes a bare.py source at --bare serves.

Waits until the wall-clock time --start-at (so that clients in different containers start
together), works for --seconds, and prints one JSON line: {"op", "bytes", "ops", "seconds"}.
Runs on the host or inside a pygfs container.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # a checkout; the image has pygfs
from client.client import Client
from common.transport import CHANNEL_OPTIONS
from protos import chunkserver_pb2 as pb

MB = 1_000_000


class Phases:
    """Where each call of a client's writes or appends went: `push` (until every server of the
    chain holds the data), `master` (its calls: the file's new length) and the rest, `apply`
    (the primary's Write or Append: the mutation on every replica, and the client's own work).
    Medians, and the means that add up to the throughput."""

    PARTS = ("push", "master")

    def __init__(self, gfs: Client) -> None:
        self.calls: list[dict[str, float]] = []
        self._spent = dict.fromkeys(self.PARTS, 0.0)
        gfs.io.push = self._timing("push", gfs.io.push)  # type: ignore[method-assign]
        gfs._master = self._timing("master", gfs._master)  # type: ignore[method-assign]

    def _timing(self, part: str, inner: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self._spent[part] += time.perf_counter() - start

        return timed

    def timed(self, step: Callable[[], int]) -> Callable[[], int]:
        def call() -> int:
            self._spent = dict.fromkeys(self.PARTS, 0.0)
            start = time.perf_counter()
            moved = step()
            total = time.perf_counter() - start
            self.calls.append(
                {**self._spent, "apply": total - sum(self._spent.values()), "call": total}
            )
            return moved

        return call

    def summary_ms(self) -> dict[str, float]:
        if not self.calls:
            return {}
        out = {
            part: 1000 * statistics.median(c[part] for c in self.calls)
            for part in (*self.PARTS, "apply", "call")
        }
        calls = sorted(c["call"] for c in self.calls)
        out["mean_call"] = 1000 * statistics.fmean(calls)
        out["p90_call"] = 1000 * calls[int(0.9 * len(calls))]
        out["max_call"] = 1000 * calls[-1]
        for part in (*self.PARTS, "apply"):
            out["mean_" + part] = 1000 * statistics.fmean(c[part] for c in self.calls)
        return out


class Until(io.RawIOBase):
    """A stream of `data` over and over, which ends once `seconds` have passed since its first
    read."""

    def __init__(self, data: bytes, seconds: float) -> None:
        self.data, self.seconds, self.deadline = data, seconds, 0.0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        now = time.monotonic()
        self.deadline = self.deadline or now + self.seconds
        if now >= self.deadline:
            return b""
        return (self.data * (size // len(self.data) + 1))[:size]


def operation(
    gfs: Client, op: str, paths: list[str], size: int, seconds: float
) -> Callable[[], int]:
    """A callable doing one operation of `op` and returning the bytes it moved."""
    data = os.urandom(size)
    if op == "put":
        return lambda: gfs.put(Until(data, seconds), paths[0])  # type: ignore[arg-type]
    if op == "write":
        path = paths[0]
        gfs.create(path)
        offset = [0]

        def write() -> int:
            gfs.write(path, offset[0], data)
            offset[0] += size
            return size

        return write
    if op == "read":
        sizes = {p: gfs.stat(p).size for p in paths}
        files = [p for p, n in sizes.items() if n >= size]
        if not files:
            raise SystemExit(f"no file of at least {size} bytes to read among {paths}")
        rng = random.Random()

        def read() -> int:
            path = rng.choice(files)
            offset = rng.randrange(sizes[path] - size + 1)
            return len(gfs.read(path, offset, size))

        return read
    if op == "append":

        def append() -> int:
            gfs.append(paths[0], data)
            return size

        return append
    raise SystemExit(f"unknown operation {op!r}")


def bare_operation(op: str, address: str, size: int, file_size: int) -> Callable[[], int]:
    channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
    if op == "bare-push":
        push = channel.stream_unary(
            "/bare.Chain/Push",
            request_serializer=pb.DataPiece.SerializeToString,
            response_deserializer=pb.PushDataResponse.FromString,
        )
        data = os.urandom(size)
        step = min(size, 1024 * 1024)

        def bare_push() -> int:
            pieces = (pb.DataPiece(data=data[i : i + step]) for i in range(0, size, step))
            push(pieces, timeout=600)
            return size

        return bare_push
    read = channel.unary_stream(
        "/bare.Source/Read",
        request_serializer=pb.ReadRequest.SerializeToString,
        response_deserializer=pb.ReadPiece.FromString,
    )
    rng = random.Random()

    def bare_read() -> int:
        offset = rng.randrange(file_size - size + 1)
        request = pb.ReadRequest(offset=offset, length=size)
        return sum(len(p.data) for p in read(request, timeout=120))

    return bare_read


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ops = ["write", "put", "read", "append", "bare-push", "bare-read"]
    parser.add_argument("op", choices=ops)
    parser.add_argument("--master", default="")
    parser.add_argument("--path", action="append", default=[])
    parser.add_argument("--bare", default="", help="a bare.py server's address")
    parser.add_argument("--bare-size", type=int, default=0, help="the bare source's file size")
    parser.add_argument("--size", type=int, default=MB)
    parser.add_argument("--start-at", type=float, required=True, help="wall-clock seconds")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if args.op.startswith("bare-"):
        report = run(bare_operation(args.op, args.bare, args.size, args.bare_size), args)
    else:
        with Client(args.master, timeout=120) as gfs:
            step = operation(gfs, args.op, args.path, args.size, args.seconds)
            if args.op in ("write", "append"):
                phases = Phases(gfs)
                report = run(phases.timed(step), args)
                report["phases_ms"] = phases.summary_ms()
            else:
                report = run(step, args)
    print(json.dumps({"op": args.op, **report}), flush=True)


def run(step: Callable[[], int], args: argparse.Namespace) -> dict[str, Any]:
    """Waits for the common start, then repeats `step` for the given seconds."""
    time.sleep(max(0.0, args.start_at - time.time()))
    moved = ops = 0
    start = time.monotonic()
    while time.monotonic() - start < args.seconds:
        moved += step()
        ops += 1
    return {"bytes": moved, "ops": ops, "seconds": time.monotonic() - start}


if __name__ == "__main__":
    main()
