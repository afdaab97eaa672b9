"""Figure 3 of the GFS paper (section 6.1): aggregate read, write and record-append throughput of
1 to N clients, against the network limit, reproduced on the compose cluster.

    sudo python benchmarks/figure3.py [--chunkservers 8] [--clients 1,2,4] [--seconds 20]

Shaped: deploy/docker-compose.yml with --chunkservers chunkservers (the extra ones from a
generated override), every container's link, clients' too, shaped to --mbit both ways
(benchmarks/shaping.py), each client a container of its own running figure3_worker.py. As in the
paper, reads take random 4 MB regions of the files the writers wrote, each writer writes a new
file in 1 MB writes, and all appenders append 1 MB records to one file. With L the link's rate
and C chunkservers, the limits are computed as the paper does:
    read    min(n L, C L)      the clients' links, then the chunkservers' (the paper's second
                               bound, 125 MB/s, was the link between its two switches; here one
                               non-blocking switch, so the chunkservers' links are the shared one)
    write   min(n L, C L / 3)  every byte enters 3 of the C chunkservers
    append  L                  the links of the servers holding the file's last chunk
Loopback: the same workloads on a local cluster (processes, nothing shaped), each beside the raw
Python gRPC limit measured right after it by the same number of clients: bare.py's 3-link chain
for writes and appends, its file source for reads.

Writes benchmarks/results/figure3.json and benchmarks/results/figure3.png (like Figure 3, drawn
by figure3_plot.py); prints the table. Needs root, a Docker engine and compose (as the fault
suite does).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks import shaping  # noqa: E402
from benchmarks.bare import spawn  # noqa: E402
from benchmarks.figure3_plot import plot  # noqa: E402
from benchmarks.shaping import sh  # noqa: E402
from client.client import Client  # noqa: E402
from client.localcluster import LocalCluster  # noqa: E402
from common import errors  # noqa: E402

MB = 1_000_000
OPS = ("read", "write", "put", "append")
# The paper's read region, write and record; a put streams a new file for the whole run.
SIZES = {"read": 4 * MB, "write": MB, "put": MB, "append": MB}
# Figure 3's ends (MB/s), as section 6.1.1 gives them: 1 client and 16 clients, and the limits.
PAPER = {
    "read": {"one": 10.0, "limit_one": 12.5, "many": 94.0, "limit_many": 125.0},
    "write": {"one": 6.3, "limit_one": 12.5, "many": 35.0, "limit_many": 67.0},
    "append": {"one": 6.0, "limit_one": 12.5, "many": 4.8, "limit_many": 12.5},
}
TARGET_ONE = {"read": 0.90, "write": 0.85, "put": 0.80, "append": 0.85}  # the issues'
TARGET_MANY = {"write": 0.60}  # beyond the paper's ratio, which is the target of the rest
TARGET_LOOPBACK = {"write": 0.60, "append": 0.60}  # pygfs on loopback against bare gRPC
PROJECT = "pygfsbench"
NET = "172.28.50"
MASTERS = f"{NET}.10:9000,{NET}.11:9000,{NET}.12:9000"  # the compose cluster's master replicas
IMAGE = "pygfs:bench"
WORKER = "benchmarks/figure3_worker.py"


def limit(op: str, clients: int, link: float, chunkservers: int) -> float:
    if op == "read":
        return min(clients * link, chunkservers * link)
    if op in ("write", "put"):
        return min(clients * link, chunkservers * link / 3)
    return link


def paper_ratio(op: str, which: str) -> float:
    paper = PAPER["write" if op == "put" else op]
    return paper[which] / paper[f"limit_{which}"]


# --- the compose cluster, shaped ------------------------------------------------------------


def override(chunkservers: int) -> str:
    """Compose services for the chunkservers past deploy/docker-compose.yml's four."""
    lines = ["services:"]
    names = [f"cs{i}" for i in range(4, chunkservers)]
    for i, name in zip(range(4, chunkservers), names, strict=True):
        ip = f"{NET}.{20 + i}"
        lines += [
            f"  {name}:",
            "    image: ${GFS_IMAGE}",
            f"    hostname: {name}",
            f"    command: gfs chunkserver --listen 0.0.0.0:9100 --advertise {ip}:9100"
            f" --master {MASTERS} --data-dir /data --rack {'ab'[i % 2]}",
            f'    volumes: ["{name}:/data"]',
            f'    networks: {{gfs: {{ipv4_address: "{ip}"}}}}',
            "    depends_on: {master0: {condition: service_healthy}}",
        ]
    lines += ["volumes:", *(f"  {name}: {{}}" for name in names)]
    return "\n".join(lines) + "\n"


@contextmanager
def compose_cluster(chunkservers: int, mbit: float, work: Path) -> Iterator[str]:
    """The compose cluster up, every container shaped; yields the master replicas' addresses."""
    env = {
        **os.environ,
        "GFS_IMAGE": IMAGE,
        "GFS_NET": NET,
        "GFS_RESTART": "no",
        # The paper's measurement on a private network: no TLS (benchmarks/secure.py prices it).
        "GFS_INSECURE": "",
        "GFS_TLS_DIR": str(work / "tls"),
    }
    compose = ["docker-compose", "-p", PROJECT, "-f", str(ROOT / "deploy" / "docker-compose.yml")]
    if chunkservers > 4:
        extra = work / "chunkservers.yml"
        extra.write_text(override(chunkservers))
        compose += ["-f", str(extra)]
    sh(str(ROOT / "deploy" / "build.sh"), env=env)
    sh(*compose, "up", "-d", env=env)
    master = MASTERS
    try:
        for container in sh(*compose, "ps", "-q", env=env).split():
            # Not the one-shot ones that have done their work (the certificates' maker).
            if sh("docker", "inspect", "-f", "{{.State.Running}}", container).strip() == "true":
                shaping.shape_container(container, mbit)
        with Client(master, timeout=10) as gfs:
            deadline = time.monotonic() + 120
            while alive(gfs) < chunkservers:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{chunkservers} chunkservers did not come up in 120 s")
                time.sleep(1)
        yield master
    finally:
        subprocess.run([*compose, "down", "-v"], env=env, capture_output=True)


def alive(gfs: Client) -> int:
    """Chunkservers the active master replica calls alive (0 before one is elected)."""
    try:
        return sum(s.state == "alive" for s in gfs.report().chunkservers)
    except errors.Unavailable:
        return 0


def run_containers(
    master: str, op: str, n: int, paths: list[list[str]], seconds: float, mbit: float
) -> Measured:
    """n client containers, shaped, doing `op` together: their aggregate MB/s, and how busy
    the CPU was meanwhile."""
    start_at = time.time() + 5 + 1.5 * n
    cpu = CpuWatch(start_at, seconds)
    names = [f"{PROJECT}-client{k}" for k in range(n)]
    try:
        for name, own in zip(names, paths, strict=True):
            docker = ["docker", "run", "-d", "--name", name, "--network", f"{PROJECT}_gfs"]
            docker += ["-v", f"{ROOT}:/src:ro", IMAGE, "python3", f"/src/{WORKER}", op]
            sh(*docker, *worker_args(master, op, own, start_at, seconds))
            shaping.shape_container(name, mbit)
        if time.time() > start_at:
            raise RuntimeError("the clients were not ready before their common start")
        reports = []
        for name in names:
            code = subprocess.run(["docker", "wait", name], capture_output=True, text=True)
            logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True)
            if code.stdout.strip() != "0":
                raise RuntimeError(f"client {name} failed: {logs.stderr.strip()[-2000:]}")
            reports.append(json.loads(logs.stdout.strip().splitlines()[-1]))
        return measured(reports, cpu.busy())
    finally:
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True)


def worker_args(
    master: str, op: str, paths: list[str], start_at: float, seconds: float
) -> list[str]:
    args = ["--master", master, "--size", str(SIZES[op]), "--start-at", str(start_at)]
    args += ["--seconds", str(seconds)]
    for path in paths:
        args += ["--path", path]
    return args


class CpuWatch:
    """The share of this machine's CPU time that was busy during [start_at, start_at + seconds]
    (wall clock), read from /proc/stat by a thread: near 1.0, the cores bound the figure."""

    def __init__(self, start_at: float, seconds: float) -> None:
        self._result: list[float] = []
        self._thread = threading.Thread(target=self._watch, args=(start_at, seconds), daemon=True)
        self._thread.start()

    @staticmethod
    def _sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle, iowait
        return sum(fields) - idle, sum(fields)

    def _watch(self, start_at: float, seconds: float) -> None:
        time.sleep(max(0.0, start_at - time.time()))
        busy0, total0 = self._sample()
        time.sleep(seconds)
        busy1, total1 = self._sample()
        self._result.append((busy1 - busy0) / max(1, total1 - total0))

    def busy(self) -> float:
        self._thread.join()
        return self._result[0]


@dataclass
class Measured:
    mb_per_s: float  # aggregate
    cpu_busy: float
    # The first client's calls, in ms, by part: medians, means, p90 (writes and appends; see
    # the worker's Phases).
    phases_ms: dict[str, float] = field(default_factory=dict)


def report(op: str, n: int, figure: Measured) -> None:
    line = (
        f"  {op:11} {n:>2} client(s): {figure.mb_per_s:7.1f} MB/s, CPU {figure.cpu_busy:4.0%} busy"
    )
    if figure.phases_ms:
        line += "; a call: " + ", ".join(f"{k} {v:.1f}" for k, v in figure.phases_ms.items())
        line += " ms"
    print(line, flush=True)


def measured(reports: list[dict[str, Any]], busy: float) -> Measured:
    mbs = sum(float(r["bytes"]) / float(r["seconds"]) for r in reports) / MB
    return Measured(mbs, busy, reports[0].get("phases_ms", {}))


def client_paths(op: str, n: int, written: list[str]) -> list[list[str]]:
    if op in ("write", "put"):
        return [[f"/fig3/{op}{n}-{k}"] for k in range(n)]
    if op == "read":
        return [written for _ in range(n)]
    return [[f"/fig3/append{n}"] for _ in range(n)]


Figures = dict[str, dict[int, Measured]]  # op -> clients -> figures


def measure(
    run: Any,
    master: str,
    counts: list[int],
    seconds: float,
    beside: Callable[[str, int], None] | None = None,
) -> Figures:
    """Writes first (the files reads then read), puts, reads, appends; after each,
    `beside(op, n)` if given (its limit, measured right after it). What the puts and the
    writes wrote is removed once done with (on loopback, tens of GB a run: kept, it filled
    the disk before the appends' turn)."""
    out: Figures = {op: {} for op in OPS}
    written: list[str] = []
    with Client(master, timeout=60) as gfs:
        gfs.mkdir("/fig3", parents=True)
        for op in ("write", "put", "read", "append"):
            for n in counts:
                paths = client_paths(op, n, written)
                if op == "append":
                    gfs.create(paths[0][0])
                out[op][n] = run(master, op, n, paths, seconds)
                report(op, n, out[op][n])
                if beside is not None:
                    beside(op, n)
                if op == "write":
                    written += [p[0] for p in paths]
                elif op == "put":
                    for p in paths:
                        gfs.rm(p[0], skip_trash=True)
            if op == "read":
                for path in written:
                    gfs.rm(path, skip_trash=True)
    return out


# --- loopback, against bare gRPC ------------------------------------------------------------


def run_processes(
    master: str, op: str, n: int, paths: list[list[str]], seconds: float, bare: list[str]
) -> Measured:
    """n client processes on this host doing `op` together (with `bare`: the bare op against a
    bare.py server, args given): their aggregate MB/s, and how busy the CPU was meanwhile."""
    start_at = time.time() + 3 + 0.5 * n
    cpu = CpuWatch(start_at, seconds)
    procs = []
    for own in paths:
        if bare:
            args = [*bare, "--start-at", str(start_at), "--seconds", str(seconds)]
        else:
            args = [op, *worker_args(master, op, own, start_at, seconds)]
        procs.append(
            subprocess.Popen(
                [sys.executable, str(ROOT / WORKER), *args], stdout=subprocess.PIPE, text=True
            )
        )
    reports = []
    for proc in procs:
        stdout, _ = proc.communicate(timeout=seconds + 300)
        if proc.returncode != 0:
            raise RuntimeError(f"a client failed ({proc.returncode})")
        reports.append(json.loads(stdout.strip().splitlines()[-1]))
    return measured(reports, cpu.busy())


def loopback(
    chunkservers: int, counts: list[int], seconds: float, work: Path
) -> tuple[Figures, Figures]:
    """(pygfs, bare gRPC) on loopback."""
    bare_procs: list[subprocess.Popen[bytes]] = []
    cluster = LocalCluster(work / "cluster", chunkservers=chunkservers)
    try:
        nxt: str | None = None
        for i in reversed(range(3)):
            proc, nxt = spawn(
                "chain", "--out", str(work / f"bare{i}"), *(["--next", nxt] if nxt else [])
            )
            bare_procs.append(proc)
        assert nxt is not None
        source = work / "source.bin"
        with open(source, "wb") as f:
            for _ in range(256):
                f.write(os.urandom(MB))
        proc, source_address = spawn("source", "--file", str(source))
        bare_procs.append(proc)
        cluster.start()
        limits: Figures = {op: {} for op in OPS}

        def bare_beside(op: str, n: int) -> None:
            """The bare op, right after pygfs's: this host's speed drifts within minutes (the
            same bare push measured 62 and 112 MB/s a few minutes apart when every bare op
            came after all of pygfs's)."""
            size = str(64 * 2**20 if op == "put" else SIZES[op])  # a put pushes whole chunks
            if op == "read":
                bare = ["bare-read", "--bare", source_address, "--bare-size", str(256 * MB)]
            else:
                bare = ["bare-push", "--bare", nxt]
            limits[op][n] = run_processes("", op, n, [[]] * n, seconds, [*bare, "--size", size])
            report(f"bare {op}", n, limits[op][n])

        print("loopback, pygfs and after each the same op on bare gRPC:", flush=True)
        gfs = measure(
            lambda m, op, n, paths, s: run_processes(m, op, n, paths, s, []),
            cluster.master_address,
            counts,
            seconds,
            bare_beside,
        )
        return gfs, limits
    finally:
        cluster.stop()
        for proc in bare_procs:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunkservers", type=int, default=8)
    parser.add_argument("--clients", default="1,2,4", help="client counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--mbit", type=float, default=100.0)
    parser.add_argument("--skip-loopback", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    counts = sorted({int(c) for c in args.clients.split(",")})
    if args.chunkservers < 4:
        parser.error("the compose cluster has at least 4 chunkservers")
    link = args.mbit * 1e6 / 8 / MB
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print(f"shaped to {args.mbit:g} Mbit/s, {args.chunkservers} chunkservers:", flush=True)
        with compose_cluster(args.chunkservers, args.mbit, work) as master:
            shaped = measure(
                lambda m, op, n, paths, s: run_containers(m, op, n, paths, s, args.mbit),
                master,
                counts,
                args.seconds,
            )
        if not args.skip_loopback:
            looped, bare = loopback(args.chunkservers, counts, args.seconds, work)

    many = counts[-1]
    result: dict[str, Any] = {
        "command": "sudo python benchmarks/figure3.py " + " ".join(sys.argv[1:]),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}, kernel {platform.release()}",
        "chunkservers": args.chunkservers,
        "clients": counts,
        "mbit": args.mbit,
        "seconds": args.seconds,
        "clients_n": many,
        "shaped": {},
        "paper_ratios": {
            op: {"one": paper_ratio(op, "one"), "many": paper_ratio(op, "many")} for op in OPS
        },
        "targets_one": TARGET_ONE,
        "targets_many": TARGET_MANY,
        "targets_loopback": TARGET_LOOPBACK,
    }
    head = f"\n{'':8}{'clients':>8}{'MB/s':>8}{'limit':>8}{'ratio':>7}{'paper':>7}{'CPU':>6}"
    print(head + (f"{'loopback':>10}{'bare':>8}{'ratio':>7}" if not args.skip_loopback else ""))
    for op in OPS:
        entry: dict[str, Any] = {"mb_per_s": {}, "limit": {}, "ratio": {}, "cpu_busy": {}}
        for n in counts:
            mbs, busy = shaped[op][n].mb_per_s, shaped[op][n].cpu_busy
            lim = limit(op, n, link, args.chunkservers)
            for key, value in (("mb_per_s", mbs), ("limit", lim), ("ratio", mbs / lim)):
                entry[key][str(n)] = value
            entry["cpu_busy"][str(n)] = busy
            if shaped[op][n].phases_ms:
                entry.setdefault("call_ms", {})[str(n)] = shaped[op][n].phases_ms
            paper = paper_ratio(op, "one" if n == 1 else "many")
            line = f"{op:8}{n:>8}{mbs:>8.1f}{lim:>8.1f}{mbs / lim:>7.2f}{paper:>7.2f}{busy:>6.0%}"
            if not args.skip_loopback:
                ours, theirs = looped[op][n].mb_per_s, bare[op][n].mb_per_s
                line += f"{ours:>10.1f}{theirs:>8.1f}{ours / theirs:>7.2f}"
            print(line)
        result["shaped"][op] = entry
        result[f"{op}_ratio_1"] = entry["ratio"][str(counts[0])]
        result[f"{op}_ratio_n"] = entry["ratio"][str(many)]
    if not args.skip_loopback:
        result["loopback"] = {
            op: {
                "mb_per_s": {str(n): looped[op][n].mb_per_s for n in counts},
                "cpu_busy": {str(n): looped[op][n].cpu_busy for n in counts},
                "bare_grpc_mb_per_s": {str(n): bare[op][n].mb_per_s for n in counts},
                "bare_cpu_busy": {str(n): bare[op][n].cpu_busy for n in counts},
                "ratio": {str(n): looped[op][n].mb_per_s / bare[op][n].mb_per_s for n in counts},
            }
            for op in OPS
        }
        for op in OPS:  # the fewest clients' ratio, as for the shaped figures
            result[f"{op}_loopback_ratio_1"] = result["loopback"][op]["ratio"][str(counts[0])]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "figure3.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, args.out / "figure3.png")
    verdicts = []
    for op in OPS:
        one_ok = result[f"{op}_ratio_1"] >= TARGET_ONE[op]
        many_target = TARGET_MANY.get(op, paper_ratio(op, "many"))
        many_ok = result[f"{op}_ratio_n"] >= many_target
        verdicts.append(one_ok and many_ok)
        line = (
            f"{op}: 1 client {result[f'{op}_ratio_1']:.2f} (target {TARGET_ONE[op]:.2f}) "
            f"{'met' if one_ok else 'MISSED'}; {many} clients {result[f'{op}_ratio_n']:.2f} "
            f"(target {many_target:.2f}) {'met' if many_ok else 'MISSED'}"
        )
        if op in TARGET_LOOPBACK and not args.skip_loopback:
            looped_ok = result[f"{op}_loopback_ratio_1"] >= TARGET_LOOPBACK[op]
            verdicts.append(looped_ok)
            line += (
                f"; loopback {result[f'{op}_loopback_ratio_1']:.2f} of bare gRPC "
                f"(target {TARGET_LOOPBACK[op]:.2f}) {'met' if looped_ok else 'MISSED'}"
            )
        print(line)
    sys.exit(0 if all(verdicts) else 1)


if __name__ == "__main__":
    main()
