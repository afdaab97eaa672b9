"""The administrator's half of the `gfs` command: the cluster's state and health, draining
and balancing, safe mode, the op log, and the certificates of a secure cluster."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from client.cli_common import client_of, human
from client.models import FileStat


@click.group()
def certs() -> None:
    """A certificate authority for a secure cluster, and the identities it issues."""


@certs.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def certs_init(directory: Path) -> None:
    """Make a CA (ca.pem, ca.key) in DIRECTORY."""
    from common import certs as authority

    click.echo(f"CA certificate: {authority.init_ca(directory)}")


@certs.command("issue")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("name")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["master", "shadow", "chunkserver", "admin", "user"]),
    help="What the holder may do; a user's NAME is its user name.",
)
@click.option(
    "--host",
    "hosts",
    multiple=True,
    help="A host (name or IP address) a server serves on (repeatable; servers need one).",
)
def certs_issue(directory: Path, name: str, role: str, hosts: tuple[str, ...]) -> None:
    """Issue NAME.pem and NAME.key in DIRECTORY, signed by its CA."""
    from common import certs as authority

    issued = authority.issue(directory, name, role, list(hosts))
    click.echo(f"{role} {name}: {issued.cert} {issued.key}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def report(ctx: click.Context, as_json: bool) -> None:
    """Show the chunkservers as the master sees them."""
    r = client_of(ctx).report()
    if as_json:
        click.echo(json.dumps(r.as_json(), indent=2))
        return
    lag = f", {r.lag_seconds:.1f}s behind the master" if r.role == "shadow" else ""
    t = r.totals()
    use = f"{100 * t['used_bytes'] / t['capacity_bytes']:.0f}%" if t["capacity_bytes"] else "-"
    click.echo(
        f"{r.role} at log entry {r.log_seq}{lag}; safe mode {'ON' if r.safe_mode else 'off'}"
    )
    click.echo(
        f"{t['alive']} alive, {t['dead']} dead, {t['decommissioning']} decommissioning;"
        f" capacity {human(t['capacity_bytes'])}, used {human(t['used_bytes'])} ({use}),"
        f" remaining {human(t['free_bytes'])}; {t['chunks']} replicas"
    )
    for s in r.chunkservers:
        click.echo(
            f"{s.address:22} {s.rack:10} {s.state:6} {s.chunks:>8} chunks "
            f"{s.used_bytes:>14} used {s.free_bytes:>16} free  {s.last_heartbeat_age_s:5.1f}s ago"
        )
        for failed in s.failed_dirs:
            click.echo(f"{'':22} failed data directory {failed}")
        for slow in s.slow_dirs:
            click.echo(f"{'':22} slow data directory {slow}")


@click.command()
@click.pass_context
def balance(ctx: click.Context) -> None:
    """Move replicas from the fullest chunkservers to the emptiest now (it also runs by itself)."""
    moves = client_of(ctx).balance()
    click.echo(f"{moves} move(s) started" if moves else "balanced: nothing to move")


@click.command()
@click.argument("address")
@click.option("--cancel", is_flag=True, help="Take a server being drained back into service.")
@click.pass_context
def decommission(ctx: click.Context, address: str, cancel: bool) -> None:
    """Drain a chunkserver; `gfs report` shows it decommissioned once it can be removed."""
    client_of(ctx).decommission(address, cancel=cancel)
    if cancel:
        click.echo(f"{address} is back in service")
    else:
        click.echo(f"decommissioning {address}; watch `gfs report` until it says decommissioned")


def _file_lines(stat: FileStat, chunks: bool, locations: bool) -> Iterator[str]:
    """As `hdfs fsck -files -blocks -locations`: a line per file, and per chunk below it."""
    want = stat.replication
    short = [c for c in stat.chunks if len(c.replicas) < want]
    status = "MISSING" if any(not c.replicas for c in short) else "UNDER_REPLICATED"
    yield (
        f"{stat.path} {stat.size} bytes, replication {want}, {len(stat.chunks)} chunk(s): "
        f"{status if short else 'OK'}"
    )
    for c in stat.chunks if chunks else ():
        where = f" [{', '.join(c.replicas)}]" if locations else ""
        live = len(c.replicas)
        yield f"  {c.index}. chunk {c.handle} v{c.version} len={c.size} live={live}{where}"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--files", is_flag=True, help="A line per file: size, chunks, OK or not.")
@click.option("--chunks", is_flag=True, help="With --files, a line per chunk.")
@click.option("--locations", is_flag=True, help="With --chunks, where each chunk's replicas are.")
@click.argument("path", default="/")
@click.pass_context
def fsck(
    ctx: click.Context, as_json: bool, files: bool, chunks: bool, locations: bool, path: str
) -> None:
    """Check replica health; exits 0 only when every chunk is healthy."""
    client = client_of(ctx)
    if files or chunks or locations:
        for stat in client.file_stats(path):
            for line in _file_lines(stat, chunks or locations, locations):
                click.echo(line)
    report = client.fsck(path)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in report.items()))
    if report["healthy"] != report["chunks"]:
        if not as_json:
            click.echo("gfs: not every chunk is healthy", err=True)
        sys.exit(1)


@click.command()
@click.argument("action", type=click.Choice(["get", "enter", "leave"]), default="get")
@click.pass_context
def safemode(ctx: click.Context, action: str) -> None:
    """Show, enter or leave safe mode (no replica deletions while it is on)."""
    state = client_of(ctx).safe_mode(action)
    how = " (entered by an operator)" if state.manual else ""
    click.echo(
        f"safe mode is {'ON' if state.active else 'off'}{how}: "
        f"{state.reported_chunks} of {state.known_chunks} chunks reported"
    )


@click.command()
@click.option("--since", type=click.IntRange(min=0), default=0, help="Entries after this one.")
@click.option("--limit", type=click.IntRange(min=0), default=0, help="At most this many (0: all).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def oplog(ctx: click.Context, since: int, limit: int, as_json: bool) -> None:
    """Show the master's operation log."""
    import datetime

    for r in client_of(ctx).oplog(since, limit):
        if as_json:
            click.echo(json.dumps({"seq": r.seq, "ts": r.ts, "op": r.op, "args": r.args}))
        else:
            when = datetime.datetime.fromtimestamp(r.ts).isoformat(sep=" ", timespec="milliseconds")
            click.echo(f"{r.seq:>8} {when} {r.op:14} {json.dumps(r.args)}")


@click.command()
@click.argument("address")
@click.pass_context
def health(ctx: click.Context, address: str) -> None:
    """Ask the gRPC health service of the server at ADDRESS; exit 0 only if it is SERVING."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from common import transport

    channels = transport.Channels(ctx.obj["tls"])
    try:
        stub = health_pb2_grpc.HealthStub(channels.get(address))
        reply = transport.call(
            stub.Check, health_pb2.HealthCheckRequest(), target=address, timeout=ctx.obj["timeout"]
        )
    finally:
        channels.close()
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    click.echo(f"{address}: {status}")
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        sys.exit(1)


COMMANDS = [certs, report, balance, decommission, fsck, safemode, oplog, health]
