"""pygfs beside MooseFS, the production GFS-style file system a user would install instead,
measured in the same run on this host.

    sudo python benchmarks/peer.py [--size-mib 1024] [--files 2000] [--threads 8] [--rounds 3]

Both run a master and 3 chunkservers on local processes, replication ("goal") 3, 64 MiB chunks,
data on the same disk; MooseFS is Debian's (installed if missing, benchmarks/moosefs.py) with
durable settings (its change log written synchronously, chunks fsynced before close) and is
used through its FUSE mount, as its users use it; pygfs through its Python client, as `gfs`
and fsspec use it. The threads of a phase share one mount, and one pygfs client (whose
concurrent stats travel to the master in one call, as a FUSE mount's share its connection).
Each round measures every phase on both, back to back (which goes first alternating from round
to round), with the page cache dropped before each phase:
- write: a local file of --size-mib copied in (pygfs: put, acknowledged by every replica;
  MooseFS: copy, fsync and close, then every chunk's copies counted);
- read: the file copied back out to a local file;
- creates: --files files of 4 KiB written by --threads threads;
- stats: each of those files stat'ed once by --threads threads;
- server CPU per GiB written: the master's and chunkservers' CPU time (from /proc) during the
  write, per GiB (clients not counted: MooseFS's is the FUSE mount).
With pygfs's stats, the limit of one call a stat, in the same round: a bare Python gRPC server
(benchmarks/bare.py noop, in its own process) answering as many no-op calls from --threads
threads, each on its own connection (stats batched by the client pass it).
Prints each figure's median with its min-max and the ratios pygfs/MooseFS (CPU: the ratio of
CPU seconds, lower is better); writes --json. Needs root (the mount, dropping caches).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks import bare, moosefs  # noqa: E402
from client.client import Client  # noqa: E402
from client.localcluster import LocalCluster  # noqa: E402
from common.transport import CHANNEL_OPTIONS  # noqa: E402
from protos import master_pb2  # noqa: E402

SMALL = 4096
# figure -> (label, unit, its ratio's name in the results)
FIGURES = {
    "write_mb_s": ("write", "MB/s", "write_ratio"),
    "read_mb_s": ("read", "MB/s", "read_ratio"),
    "creates_s": ("small-file creates", "files/s", "create_ratio"),
    "stats_s": ("stats", "stats/s", "stat_ratio"),
    "cpu_s_per_gib": ("server CPU per GiB written", "s", "cpu_per_gib_ratio"),
}


def drop_caches() -> None:
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def in_threads(threads: int, items: list[str], work: Callable[[int, str], object]) -> float:
    """Seconds `threads` threads take to do `work(thread, item)` for every item."""

    def run(thread: int) -> None:
        for item in items[thread::threads]:
            work(thread, item)

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(run, range(threads)))
    return time.perf_counter() - start


class Pygfs:
    name = "pygfs"

    def __init__(self, base: Path) -> None:
        self.cluster = LocalCluster(base, chunkservers=3)
        self.cluster.start()
        self.gfs = Client(self.cluster.master_address, timeout=300)  # the threads share it

    def pids(self) -> list[int]:
        procs = [self.cluster.master, *self.cluster.servers]
        return [p.popen.pid for p in procs if p is not None and p.popen is not None]

    def write(self, source: Path, name: str) -> None:
        with open(source, "rb") as f:
            self.gfs.put(f, f"/{name}")

    def read(self, name: str, target: Path) -> None:
        with open(target, "wb") as f:
            self.gfs.get(f"/{name}", f)
            f.flush()
            os.fsync(f.fileno())

    def mkdir(self, name: str) -> None:
        self.gfs.mkdir(f"/{name}", parents=True)

    def create(self, thread: int, name: str, data: bytes) -> None:
        self.gfs.put(io.BytesIO(data), f"/{name}")

    def stat(self, thread: int, name: str) -> None:
        self.gfs.stat(f"/{name}")

    def remove(self, name: str) -> None:
        self.gfs.rm(f"/{name}", recursive=True, skip_trash=True)

    def logs(self) -> dict[str, str]:
        procs = [self.cluster.master, *self.cluster.servers]
        return {str(p.log_path): p.log_path.read_text(errors="replace") for p in procs if p}

    def stop(self) -> None:
        self.gfs.close()
        self.cluster.stop()


class Moose:
    name = "MooseFS"

    def __init__(self, base: Path) -> None:
        self.fs = moosefs.MooseFS(base)
        self.fs.start()

    def pids(self) -> list[int]:
        return self.fs.pids()

    def write(self, source: Path, name: str) -> None:
        target = self.fs.mount / name
        with open(source, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
            dst.flush()
            os.fsync(dst.fileno())
        while not self.fs.fully_replicated(target):
            time.sleep(0.05)

    def read(self, name: str, target: Path) -> None:
        with open(self.fs.mount / name, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
            dst.flush()
            os.fsync(dst.fileno())

    def mkdir(self, name: str) -> None:
        (self.fs.mount / name).mkdir(parents=True)

    def create(self, thread: int, name: str, data: bytes) -> None:
        with open(self.fs.mount / name, "wb") as f:
            f.write(data)

    def stat(self, thread: int, name: str) -> None:
        os.stat(self.fs.mount / name)

    def remove(self, name: str) -> None:
        path = self.fs.mount / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()

    def logs(self) -> dict[str, str]:
        return {}  # MooseFS logs to syslog (SYSLOG_IDENT pygfs-peer-*)

    def stop(self) -> None:
        self.fs.stop()


System = Pygfs | Moose


def one_round(
    system: System, r: int, source: Path, out: Path, files: int, threads: int
) -> dict[str, float]:
    size = source.stat().st_size
    big = f"big-{r}"
    drop_caches()
    pids = system.pids()
    cpu = cpu_seconds(pids)
    start = time.perf_counter()
    system.write(source, big)
    write = time.perf_counter() - start
    cpu = cpu_seconds(pids) - cpu
    drop_caches()
    start = time.perf_counter()
    system.read(big, out)
    read = time.perf_counter() - start
    if not _same(source, out):
        raise SystemExit(f"{system.name}: {big} read back different")
    out.unlink()
    system.remove(big)
    small = f"small-{r}"
    system.mkdir(small)
    names = [f"{small}/f{i}" for i in range(files)]
    data = os.urandom(SMALL)
    drop_caches()
    creates = in_threads(threads, names, lambda t, n: system.create(t, n, data))
    drop_caches()
    stats = in_threads(threads, names, system.stat)
    system.remove(small)
    got = {
        "write_mb_s": size / write / 1e6,
        "read_mb_s": size / read / 1e6,
        "creates_s": files / creates,
        "stats_s": files / stats,
        "cpu_s_per_gib": cpu / (size / 2**30),
    }
    if isinstance(system, Pygfs):
        got["bare_calls_s"] = bare_calls_s(threads, names)
    return got


def bare_calls_s(threads: int, names: list[str]) -> float:
    """A stat's limit: no-op calls per second (one per name) that a bare Python gRPC server
    answers to `threads` threads, each on its own connection, connected before the clock."""
    proc, address = bare.spawn("noop")
    channels = [grpc.insecure_channel(address, options=CHANNEL_OPTIONS) for _ in range(threads)]
    try:
        calls = [
            c.unary_unary(
                bare.NOOP,
                request_serializer=master_pb2.StatRequest.SerializeToString,
                response_deserializer=master_pb2.FileInfo.FromString,
            )
            for c in channels
        ]
        for call in calls:
            call(master_pb2.StatRequest(path="/"), timeout=10)
        seconds = in_threads(
            threads, names, lambda t, n: calls[t](master_pb2.StatRequest(path=f"/{n}"), timeout=10)
        )
        return len(names) / seconds
    finally:
        for channel in channels:
            channel.close()
        proc.kill()
        proc.wait()


def _same(a: Path, b: Path) -> bool:
    with open(a, "rb") as x, open(b, "rb") as y:
        while True:
            left, right = x.read(1 << 20), y.read(1 << 20)
            if left != right:
                return False
            if not left:
                return True


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "peer.json")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("benchmarks/peer.py needs root (a FUSE mount, dropping caches)")
    moosefs.install()

    figures: dict[str, list[dict[str, float]]] = {"pygfs": [], "MooseFS": []}
    with tempfile.TemporaryDirectory(prefix="pygfs-peer-", dir="/var/tmp") as tmp_name:
        tmp = Path(tmp_name)
        tmp.chmod(0o755)  # MooseFS's servers run as its own user
        source, out = tmp / "source", tmp / "out"
        with open(source, "wb") as f:
            for _ in range(args.size_mib):
                f.write(os.urandom(1024 * 1024))
        systems: list[System] = []
        try:
            systems.append(Pygfs(tmp / "pygfs"))
            systems.append(Moose(tmp / "moosefs"))
            for r in range(args.rounds):
                for system in systems if r % 2 == 0 else reversed(systems):
                    got = one_round(system, r, source, out, args.files, args.threads)
                    figures[system.name].append(got)
                    print(f"round {r + 1} {system.name}: " + ", ".join(
                        f"{key} {value:.1f}" for key, value in got.items()
                    ), flush=True)  # fmt: skip
        except BaseException:
            for system in systems:  # what the servers said, before the directory goes
                for path, text in system.logs().items():
                    print(f"--- the end of {path}:", *text.splitlines()[-15:], sep="\n")
            raise
        finally:
            for system in systems:
                system.stop()
    report(args, figures)


def report(args: argparse.Namespace, figures: dict[str, list[dict[str, float]]]) -> None:
    ours, peer = figures["pygfs"], figures["MooseFS"]
    results: dict[str, object] = {
        "machine": f"{platform.node()} {os.cpu_count()} CPUs, {platform.platform()}",
        "size_mib": args.size_mib,
        "files": args.files,
        "threads": args.threads,
        "rounds": args.rounds,
        "raw": figures,
    }
    print(
        f"\n{args.size_mib} MiB written and read, {args.files} files of {SMALL} B created and "
        f"stat'ed by {args.threads} threads; medians (min-max) of {args.rounds} rounds"
    )
    print(f"{'':32}{'pygfs':>24}{'MooseFS':>24}{'ratio':>8}")
    for key, (label, unit, ratio_name) in FIGURES.items():
        cells = []
        for rounds in (ours, peer):
            values = [f[key] for f in rounds]
            cells.append(f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})")
        ratio = statistics.median(f[key] for f in ours) / statistics.median(f[key] for f in peer)
        results[ratio_name] = ratio
        results[key] = {
            "pygfs": statistics.median(f[key] for f in ours),
            "MooseFS": statistics.median(f[key] for f in peer),
        }
        print(f"{label + ' (' + unit + ')':32}{cells[0]:>24}{cells[1]:>24}{ratio:8.2f}")
    bare_calls = statistics.median(f["bare_calls_s"] for f in ours)
    of_bare = [statistics.median(f["stats_s"] for f in r) / bare_calls for r in (ours, peer)]
    results["bare_calls_s"] = bare_calls
    results["stat_of_bare_ratio"] = of_bare[0]
    print(
        f"the limit of a stat here, bare Python gRPC no-op calls/s: {bare_calls:.0f}; "
        f"pygfs's stats {of_bare[0]:.2f} of it, MooseFS's {of_bare[1]:.2f}"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
