"""Snapshot time does not grow with the file: a 16 MiB and a 1 GiB file, median of 5 each.

python benchmarks/snapshot.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from client.client import Client  # noqa: E402
from client.localcluster import LocalCluster  # noqa: E402

MiB = 1024 * 1024


def main() -> None:
    sizes = {"16 MiB": 16 * MiB, "1 GiB": 1024 * MiB}
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cluster = LocalCluster(Path(tmp), chunkservers=3)
        try:
            cluster.start()
            with Client(cluster.master_address, timeout=120) as gfs:
                for label, size in sizes.items():
                    source = Path(tmp) / "source"
                    with open(source, "wb") as f:
                        for _ in range(size // MiB):
                            f.write(os.urandom(MiB))
                    name = "/" + label.replace(" ", "")
                    with open(source, "rb") as f:
                        gfs.put(f, name)
                    runs = []
                    for i in range(5):
                        started = time.perf_counter()
                        gfs.snapshot(name, f"{name}-snap{i}")
                        runs.append(time.perf_counter() - started)
                    timings[label] = statistics.median(runs)
        finally:
            cluster.stop()
    for label, seconds in timings.items():
        print(f"snapshot of a {label:>6} file: {seconds * 1000:7.1f} ms (median of 5)")
    ratio = timings["1 GiB"] / timings["16 MiB"]
    print(f"1 GiB / 16 MiB: {ratio:.2f} (the data is 64x larger)")
    out = ROOT / "benchmarks" / "results" / "snapshot.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"seconds": timings, "ratio": ratio}, indent=2) + "\n")


if __name__ == "__main__":
    main()
