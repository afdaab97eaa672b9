"""Durable creates with the log on a majority of the master's replicas, beside a lone master's.

    python benchmarks/quorum.py [--processes 3] [--threads 8] [--seconds 5] [--rounds 3]

Starts as local processes a lone master and three master replicas under a ZooKeeper
(`gfs cluster up --masters 3`'s layout: one active, two standbys), whose active answers a
create only once a standby holds its log entry too. The same client processes make files
on each as fast as they can, in interleaved rounds (medians), and the ratio replicated / lone
is printed beside its goal (>= 0.7).
Writes benchmarks/results/quorum.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from metadata import rate  # noqa: E402

from client.localcluster import LocalCluster  # noqa: E402

GOAL = 0.7


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks" / "results" / "quorum.json"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        work = Path(tmp)
        lone = LocalCluster(work / "lone", chunkservers=1, master_args=["--chunk-size=65536"])
        replicated = LocalCluster(
            work / "replicated", chunkservers=1, masters=3, master_args=["--chunk-size=65536"]
        )
        try:
            lone.start()
            replicated.start()
            active = replicated.active_master().address
            p, t, s = args.processes, args.threads, args.seconds
            samples: dict[str, list[float]] = {"lone": [], "replicated": []}
            for _ in range(args.rounds):
                samples["lone"].append(rate("create", lone.master_address, p, t, s))
                samples["replicated"].append(rate("create", active, p, t, s))
        finally:
            replicated.stop()
            lone.stop()

    rates = {k: statistics.median(v) for k, v in samples.items()}
    ratio = rates["replicated"] / rates["lone"]
    print(f"{p} client processes x {t} threads, {s:.0f}s x {args.rounds} rounds (medians), "
          f"{os.cpu_count()} cores")  # fmt: skip
    print(f"{'creates, a lone master (the limit)':44}{rates['lone']:>8.0f} /s")
    print(f"{'creates, on 2 of 3 master replicas first':44}{rates['replicated']:>8.0f} /s")
    print(f"ratio {ratio:.2f} (goal >= {GOAL})")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    result = {"rates": rates, "samples": samples, "ratio": ratio, "goal": GOAL,
              "processes": p, "threads": t, "seconds": s, "cores": os.cpu_count()}  # fmt: skip
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print("goal met" if ratio >= GOAL else "GOAL MISSED")
    sys.exit(0 if ratio >= GOAL else 1)


if __name__ == "__main__":
    main()
