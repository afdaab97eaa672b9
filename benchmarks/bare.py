"""Bare Python gRPC servers: the limits pygfs is measured against.

  python benchmarks/bare.py chain --out FILE [--next ADDR]
      a client-streaming sink that writes every piece to a file of its own (FILE.<n>) as it
      arrives and forwards it to the next server (pipelined), then fdatasyncs and deletes it:
      one link of a bare replication chain, which concurrent pushes may share.
  python benchmarks/bare.py source --file FILE
      a server-streaming source that sends FILE in pieces (the request's offset and length, if
      a length is given).

  python benchmarks/bare.py noop
      a unary call that does nothing, taking a StatRequest and answering an empty FileInfo:
      the most a Python gRPC server does per second, as a master's stat is measured against.
  python benchmarks/bare.py fanout [--next ADDR,ADDR]
      a unary call taking an AppendRequest that hands the same request to every --next server
      at once and answers when all did: a primary handing a record to its secondaries, with
      nothing written.

All use pygfs's own messages so serialization costs are the same. Each prints
'serving on ADDR' once it serves.
"""

from __future__ import annotations

import argparse
import itertools
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.transport import CHANNEL_OPTIONS
from protos import chunkserver_pb2 as pb
from protos import master_pb2 as mpb

PUSH = "/bare.Chain/Push"
READ = "/bare.Source/Read"


def chain_handler(out: Path, next_address: str | None) -> grpc.GenericRpcHandler:
    channel = grpc.insecure_channel(next_address, options=CHANNEL_OPTIONS) if next_address else None
    forward = (
        channel.stream_unary(
            PUSH,
            request_serializer=pb.DataPiece.SerializeToString,
            response_deserializer=pb.PushDataResponse.FromString,
        )
        if channel
        else None
    )
    numbers = itertools.count()

    def push(pieces: Iterator[pb.DataPiece], context: grpc.ServicerContext) -> pb.PushDataResponse:
        relay: queue.SimpleQueue[pb.DataPiece | None] = queue.SimpleQueue()

        def relayed() -> Iterator[pb.DataPiece]:
            while (item := relay.get()) is not None:
                yield item

        downstream = forward.future(relayed()) if forward else None
        size = 0
        path = out.with_name(f"{out.name}.{next(numbers)}")
        with open(path, "wb") as f:
            for piece in pieces:
                f.write(piece.data)
                size += len(piece.data)
                relay.put(pb.DataPiece(data=piece.data))
            relay.put(None)
            f.flush()
            os.fdatasync(f.fileno())
        path.unlink()
        if downstream is not None:
            downstream.result()
        return pb.PushDataResponse(length=size)

    return grpc.method_handlers_generic_handler(
        "bare.Chain",
        {
            "Push": grpc.stream_unary_rpc_method_handler(
                push,
                request_deserializer=pb.DataPiece.FromString,
                response_serializer=pb.PushDataResponse.SerializeToString,
            )
        },
    )


def source_handler(path: Path, piece: int) -> grpc.GenericRpcHandler:
    def read(request: pb.ReadRequest, context: grpc.ServicerContext) -> Iterator[pb.ReadPiece]:
        left = request.length or os.path.getsize(path)
        with open(path, "rb") as f:
            f.seek(request.offset)
            while left > 0 and (data := f.read(min(piece, left))):
                left -= len(data)
                yield pb.ReadPiece(data=data)

    return grpc.method_handlers_generic_handler(
        "bare.Source",
        {
            "Read": grpc.unary_stream_rpc_method_handler(
                read,
                request_deserializer=pb.ReadRequest.FromString,
                response_serializer=pb.ReadPiece.SerializeToString,
            )
        },
    )


NOOP = "/bare.Noop/Call"


def noop_handler() -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(
        "bare.Noop",
        {
            "Call": grpc.unary_unary_rpc_method_handler(
                lambda request, context: mpb.FileInfo(),
                request_deserializer=mpb.StatRequest.FromString,
                response_serializer=mpb.FileInfo.SerializeToString,
            )
        },
    )


FANOUT = "/bare.Fanout/Call"


def fanout_handler(next_addresses: list[str]) -> grpc.GenericRpcHandler:
    calls = [
        grpc.insecure_channel(a, options=CHANNEL_OPTIONS).unary_unary(
            FANOUT,
            request_serializer=pb.AppendRequest.SerializeToString,
            response_deserializer=pb.AppendResponse.FromString,
        )
        for a in next_addresses
    ]

    def call(request: pb.AppendRequest, context: grpc.ServicerContext) -> pb.AppendResponse:
        for future in [c.future(request) for c in calls]:
            future.result()
        return pb.AppendResponse(offset=len(request.data))

    return grpc.method_handlers_generic_handler(
        "bare.Fanout",
        {
            "Call": grpc.unary_unary_rpc_method_handler(
                call,
                request_deserializer=pb.AppendRequest.FromString,
                response_serializer=pb.AppendResponse.SerializeToString,
            )
        },
    )


def spawn(*args: str) -> tuple[subprocess.Popen[bytes], str]:
    """Starts `bare.py ARGS` as a process; returns it and the address it serves on."""
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()
    if not line.startswith("serving on "):
        proc.kill()
        raise RuntimeError(f"bare server failed to start: {line!r}")
    return proc, line.rsplit(" ", 1)[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["chain", "source", "noop", "fanout"])
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--next")
    parser.add_argument("--file", type=Path)
    parser.add_argument("--piece", type=int, default=1024 * 1024)
    args = parser.parse_args()
    workers = 32 if args.role == "noop" else 8  # the master's pool, for the no-op
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=CHANNEL_OPTIONS)
    if args.role == "chain":
        server.add_generic_rpc_handlers([chain_handler(args.out, args.next)])
    elif args.role == "noop":
        server.add_generic_rpc_handlers([noop_handler()])
    elif args.role == "fanout":
        server.add_generic_rpc_handlers([fanout_handler(args.next.split(",") if args.next else [])])
    else:
        server.add_generic_rpc_handlers([source_handler(args.file, args.piece)])
    port = server.add_insecure_port(args.listen)
    server.start()
    print(f"serving on 127.0.0.1:{port}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
