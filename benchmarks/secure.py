"""What mutual TLS and the per-RPC role checks cost: put, get and metadata operations on an
insecure and a secure local cluster, measured in the same run.

    python benchmarks/secure.py [--size-mib 256] [--rounds 5] [--bursts 5] [--seconds 1]

Two clusters of a master and 3 chunkservers (replication 3, 64 MiB chunks) run side by side:
one insecure, one started as `gfs cluster up --secure` starts it (mutual TLS on every channel,
every RPC's caller checked; chunkservers serve reads in clear on a port of their own, each
proved by its chunk token, as HDFS moves block data unencrypted unless asked). Each round
measures both in pairs, the two sides of a pair back to back and which goes first
alternating, so a slow spell of the machine (this disk's fsyncs vary severalfold) hits both
sides: a put, 3 gets and --bursts bursts each of durable creates and chunk-location lookups
(4 threads, their clients connected before the clock starts). Prints the median of each
figure and the median of the pairs' secure/insecure ratios; the target is a cost of at most
10% (ratios >= 0.9). Also prints, outside the target, get with every byte over TLS (a
client with `encrypted_reads`, `gfs --encrypted-reads`). Writes the figures to --json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from client.client import Client  # noqa: E402
from client.localcluster import LocalCluster  # noqa: E402
from common import transport  # noqa: E402
from common.tls import TlsFiles  # noqa: E402
from protos import master_pb2  # noqa: E402

TARGET = 0.9
THREADS = 4
GETS = 3  # pairs of gets a round
FIGURES = {
    "put_mb_s": "put MB/s",
    "get_mb_s": "get MB/s",
    "creates_s": "creates/s (durable)",
    "lookups_s": "lookups/s",
    "get_tls_mb_s": "get MB/s, all over TLS",
}
OUTSIDE_TARGET = "get_tls_mb_s"  # compared with the insecure get
BASE = "/tmp"  # where user `client` may write on both clusters (the secure root is admin's)


def timed(action: Callable[[], object]) -> float:
    os.sync()  # no step pays for the write-back of the one before it
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def put_mb_s(gfs: Client, data: bytes, path: str) -> float:
    return len(data) / timed(partial(gfs.put, io.BytesIO(data), path)) / 1e6


def get_mb_s(gfs: Client, data: bytes, path: str) -> float:
    sink = io.BytesIO()
    seconds = timed(partial(gfs.get, path, sink))
    assert sink.getvalue() == data, f"{path} read back different"
    return len(data) / seconds / 1e6


def pair(measure: Mapping[str, Callable[[], float]], secure_first: bool) -> tuple[float, float]:
    """(insecure, secure), measured back to back in the order given."""
    order = ("secure", "insecure") if secure_first else ("insecure", "secure")
    got = {name: measure[name]() for name in order}
    return got["insecure"], got["secure"]


class MetadataLoad:
    """THREADS clients of one cluster, connected (and each given a directory) before any clock
    starts, so a burst times calls and not TLS handshakes."""

    def __init__(self, master: str, tls: TlsFiles | None) -> None:
        self.master = master
        self.clients = [Client(master, timeout=30, tls=tls) for _ in range(THREADS)]
        self.prefix = f"{BASE}/meta-{uuid.uuid4().hex[:8]}"
        for i, gfs in enumerate(self.clients):
            gfs.mkdir(f"{self.prefix}-{i}", parents=True)
        self.created = [0] * THREADS

    def rate(self, kind: str, seconds: float) -> float:
        """Calls/s of `kind` (create or lookup) from THREADS threads for `seconds`."""
        counts = [0] * THREADS
        lookup = master_pb2.GetChunkRequest(path=f"{BASE}/lookup", index=0)
        ready = threading.Barrier(THREADS + 1)
        stop = [0.0]

        def work(i: int) -> None:
            gfs = self.clients[i]
            stub = gfs.channels.master(self.master)
            ready.wait()
            n = 0
            while time.monotonic() < stop[0]:
                if kind == "create":
                    gfs.create(f"{self.prefix}-{i}/f{self.created[i]}")
                    self.created[i] += 1
                else:
                    transport.call(stub.GetChunk, lookup, target="master", timeout=30)
                n += 1
            counts[i] = n

        threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
        for t in threads:
            t.start()
        stop[0] = time.monotonic() + seconds
        ready.wait()
        for t in threads:
            t.join()
        return sum(counts) / seconds

    def close(self) -> None:
        for gfs in self.clients:
            gfs.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="one metadata burst")
    parser.add_argument("--bursts", type=int, default=5, help="metadata pairs per round")
    parser.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks" / "results" / "secure.json"
    )
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024
    data = os.urandom(size)

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        clusters = {
            "insecure": LocalCluster(tmp / "insecure", chunkservers=3),
            "secure": LocalCluster(tmp / "secure", chunkservers=3, secure=True),
        }
        # figure -> [(insecure, secure)], each pair measured back to back
        pairs: dict[str, list[tuple[float, float]]] = {key: [] for key in FIGURES}
        try:
            for cluster in clusters.values():
                cluster.start()
            clients = {
                name: Client(c.master_address, timeout=300, tls=c.tls_for("client"))
                for name, c in clusters.items()
            }
            secure = clusters["secure"]
            encrypted = Client(
                secure.master_address,
                timeout=300,
                tls=secure.tls_for("client"),
                encrypted_reads=True,
            )
            for gfs in clients.values():
                gfs.mkdir(BASE, parents=True)
                gfs.put(io.BytesIO(b"x" * 1024), f"{BASE}/lookup")
            loads = {
                name: MetadataLoad(c.master_address, c.tls_for("client"))
                for name, c in clusters.items()
            }
            for r in range(args.rounds):
                secure_first = r % 2 == 1
                path = f"{BASE}/big-{r}"

                puts = {n: partial(put_mb_s, gfs, data, path) for n, gfs in clients.items()}
                gets = {n: partial(get_mb_s, gfs, data, path) for n, gfs in clients.items()}
                pairs["put_mb_s"].append(pair(puts, secure_first))
                for k in range(GETS):  # a get is short: several pairs a round, for the noise
                    pairs["get_mb_s"].append(pair(gets, secure_first != (k % 2 == 1)))
                tls = {**gets, "secure": partial(get_mb_s, encrypted, data, path)}
                pairs["get_tls_mb_s"].append(pair(tls, secure_first))
                for gfs in clients.values():
                    gfs.rm(path, skip_trash=True)
                os.sync()
                for kind in ("create", "lookup"):
                    bursts = {
                        n: partial(load.rate, kind, args.seconds) for n, load in loads.items()
                    }
                    for burst in range(args.bursts):
                        pairs[f"{kind}s_s"].append(pair(bursts, secure_first != (burst % 2 == 1)))
            for gfs in [*clients.values(), encrypted]:
                gfs.close()
            for load in loads.values():
                load.close()
        finally:
            for cluster in clusters.values():
                cluster.stop()

    median = {
        key: [statistics.median(p[side] for p in measured) for side in (0, 1)]
        for key, measured in pairs.items()
    }
    ratios = {
        key: statistics.median(secure / insecure for insecure, secure in measured)
        for key, measured in pairs.items()
    }

    print(
        f"{args.size_mib} MiB puts ({args.rounds}) and gets ({args.rounds * GETS}), {THREADS} "
        "threads of metadata "
        f"calls ({args.rounds * args.bursts} bursts of {args.seconds:g} s); medians, and the "
        "median of the secure/insecure ratios of pairs measured back to back"
    )
    print(f"{'':24}{'insecure':>12}{'secure':>12}{'ratio':>8}")
    for key, label in FIGURES.items():
        insecure = "" if key == OUTSIDE_TARGET else f"{median[key][0]:12.1f}"
        note = "  (--encrypted-reads; not in the target)" if key == OUTSIDE_TARGET else ""
        print(f"{label:24}{insecure:>12}{median[key][1]:12.1f}{ratios[key]:8.2f}{note}")
    met = all(r >= TARGET for k, r in ratios.items() if k != OUTSIDE_TARGET)
    print(f"target: secure >= {TARGET} of insecure: {'met' if met else 'NOT met'}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "size_mib": args.size_mib,
                "rounds": args.rounds,
                "pairs": pairs,
                "median": median,
                "ratios": ratios,
            },
            indent=2,
        )
        + "\n"
    )
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
