"""`Client.open` file objects against `put`/`get`, measured in the same run.

    python benchmarks/fileobjects.py [--size-mib 512] [--rounds 3]

A local cluster (master and 3 chunkservers, replication 3, 64 MiB chunks). Each round, in turn:
`Client.put` of a local file (what `gfs put` runs) against writing the same bytes through
`Client.open(path, "wb")` in 1 MiB writes; `Client.get` into a local file (what `gfs get`
runs) against reading through `Client.open(path, "rb")` into a 1 MiB buffer (`readinto`) and
writing each buffer to a local file. The best of --rounds of each; the ratios open/put and
open/get (target: at least 0.8). Exits 1 if a target is missed; writes the figures to --json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.throughput import timed  # noqa: E402
from client.client import Client  # noqa: E402
from client.localcluster import LocalCluster  # noqa: E402

BUFFER = 1024 * 1024
TARGET = 0.8


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks" / "results" / "fileobjects.json"
    )
    args = parser.parse_args()
    size = args.size_mib * BUFFER
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        source = tmp / "source.bin"
        with open(source, "wb") as f:
            for _ in range(args.size_mib):
                f.write(os.urandom(BUFFER))
        cluster = LocalCluster(tmp / "cluster", chunkservers=3)
        times: dict[str, list[float]] = {"put": [], "open_wb": [], "get": [], "open_rb": []}
        try:
            cluster.start()
            with Client(cluster.master_address, timeout=120) as gfs:
                for r in range(args.rounds):

                    def put(r: int = r) -> None:
                        with open(source, "rb") as f:
                            gfs.put(f, f"/put{r}")

                    def open_wb(r: int = r) -> None:
                        with open(source, "rb") as f, gfs.open(f"/open{r}", "wb") as out:
                            while data := f.read(BUFFER):
                                out.write(data)

                    def get(r: int = r) -> None:
                        with open(tmp / "got.bin", "wb") as out:
                            gfs.get(f"/put{r}", out)

                    def open_rb(r: int = r) -> None:
                        buffer = bytearray(BUFFER)
                        view = memoryview(buffer)
                        with gfs.open(f"/open{r}", "rb") as f, open(tmp / "read.bin", "wb") as out:
                            while got := f.readinto(buffer):
                                out.write(view[:got])

                    for name, action in (
                        ("put", put), ("open_wb", open_wb), ("get", get), ("open_rb", open_rb)
                    ):  # fmt: skip
                        times[name].append(timed(action))
                    same = (tmp / "read.bin").read_bytes() == source.read_bytes()
                    if not same or (tmp / "got.bin").read_bytes() != source.read_bytes():
                        print("a file read back different bytes than were written")
                        sys.exit(2)
                    gfs.rm(f"/put{r}", skip_trash=True)
                    gfs.rm(f"/open{r}", skip_trash=True)
        finally:
            cluster.stop()
    mbs = {k: size / min(v) / 1e6 for k, v in times.items()}
    ratios = {"write": mbs["open_wb"] / mbs["put"], "read": mbs["open_rb"] / mbs["get"]}
    print(f"{args.size_mib} MiB, best of {args.rounds}; 1 MiB writes and reads")
    print(f"{'':36}{'MB/s':>8}")
    for key, label in (
        ("put", "Client.put (gfs put)"),
        ("open_wb", 'Client.open("wb"), 1 MiB writes'),
        ("get", "Client.get (gfs get)"),
        ("open_rb", 'Client.open("rb"), 1 MiB readinto'),
    ):
        print(f"{label:36}{mbs[key]:8.1f}")
    met = all(r >= TARGET for r in ratios.values())
    print(f"open/put {ratios['write']:.2f}, open/get {ratios['read']:.2f} (target >= {TARGET}):"
          f" {'met' if met else 'NOT met'}")  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps({"size_mib": args.size_mib, "mb_per_s": mbs, "ratios": ratios}, indent=2) + "\n"
    )
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
