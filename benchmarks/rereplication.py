"""How fast a cluster heals: kill the chunkserver holding the most replica bytes and time the
return to full replication, beside the put rate measured in the same run.

    python benchmarks/rereplication.py [--victim-mib 1024] [--dead-after 3]

Four chunkservers, 64 MiB chunks, replication 3. A file is put so that the busiest server holds
about --victim-mib of replicas; that server is killed. Reported: the put rate, the time until
the master declares the server dead (bounded by --dead-after), the time from then until every
chunk again has three live replicas, and the copy rate (the victim's bytes over that time).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from client.client import Client  # noqa: E402
from client.localcluster import LocalCluster  # noqa: E402

MiB = 1024 * 1024
CHUNK = 64 * MiB


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--victim-mib", type=int, default=1024)
    parser.add_argument("--dead-after", type=float, default=3.0)
    parser.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks" / "results" / "rereplication.json"
    )
    args = parser.parse_args()
    chunks = max(2, round(args.victim_mib * MiB * 4 / 3 / CHUNK))  # 3 of 4 servers hold each

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "source.bin"
        with open(source, "wb") as f:
            for _ in range(chunks * CHUNK // MiB):
                f.write(os.urandom(MiB))
        cluster = LocalCluster(
            work / "cluster",
            chunkservers=4,
            master_args=["--heartbeat-interval=0.5", f"--dead-after={args.dead_after}"],
        )
        try:
            cluster.start()
            with Client(cluster.master_address, timeout=120) as gfs:
                os.sync()
                started = time.perf_counter()
                with open(source, "rb") as f:
                    size = gfs.put(f, "/big")
                put_rate = size / (time.perf_counter() - started) / 1e6

                stat = gfs.stat("/big")
                held: dict[str, int] = {}
                for c in stat.chunks:
                    for address in c.replicas:
                        held[address] = held.get(address, 0) + c.size
                victim = max(held, key=lambda a: held[a])
                os.sync()
                killed = time.perf_counter()
                cluster.kill(next(p for p in cluster.servers if p.address == victim))
                while (
                    next(s.state for s in gfs.report().chunkservers if s.address == victim)
                    != "dead"
                ):
                    time.sleep(0.05)
                declared = time.perf_counter()
                while not all(len(c.replicas) == 3 for c in gfs.stat("/big").chunks):
                    time.sleep(0.05)
                healed = time.perf_counter()
                assert gfs.fsck("/")["healthy"] == len(stat.chunks)
        finally:
            cluster.stop()

    copy_seconds = healed - declared
    copy_rate = held[victim] / copy_seconds / 1e6
    print(f"4 chunkservers, 64 MiB chunks, replication 3, {os.cpu_count()} cores")
    print(f"put of {size / MiB:.0f} MiB: {put_rate:.1f} MB/s")
    print(f"killed {victim}, holding {held[victim] / MiB:.0f} MiB of replicas")
    print(f"declared dead after {declared - killed:.1f}s (--dead-after {args.dead_after})")
    print(
        f"full replication restored {copy_seconds:.1f}s later: {copy_rate:.1f} MB/s copied, "
        f"{copy_rate / put_rate:.2f} x the put rate; {healed - killed:.1f}s from the kill"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "victim_bytes": held[victim],
                "put_mb_per_s": put_rate,
                "detect_seconds": declared - killed,
                "copy_seconds": copy_seconds,
                "copy_mb_per_s": copy_rate,
                "total_seconds": healed - killed,
                "dead_after": args.dead_after,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
