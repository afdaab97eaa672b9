"""The `gfs` command: a thin shell over the client library (and the servers' entry points).

Every failure the user can cause ends as one line on stderr and a non-zero exit."""

from __future__ import annotations

import os

# gRPC's core logs a failed TLS handshake on stderr itself, before the library turns it into
# one line for the user. It reads its verbosity when it is first imported: before the rest.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import importlib
import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import click

from client import cli_admin, cli_files, cli_space
from client.cli_common import client_of, human
from client.cli_files import local_file
from common import errors
from common.launching import master_options, serve_forever, tls_options
from common.logformat import TEXT_FORMAT
from common.tls import TlsFiles


class ServerCommands(click.Group):
    """The server commands live in their own packages and are loaded only when run (or
    listed): `gfs put` never imports the master."""

    SERVERS: ClassVar[dict[str, str]] = {
        "master": "master.cli:master",
        "shadow": "master.cli:shadow",
        "chunkserver": "chunkserver.cli:chunkserver",
        "restore-master": "master.restore:restore_master",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.SERVERS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        where = self.SERVERS.get(name)
        if where is None:
            return super().get_command(ctx, name)
        module, attribute = where.split(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command


@click.group(cls=ServerCommands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--master",
    envvar="GFS_MASTER",
    default="127.0.0.1:9000",
    show_default=True,
    help="Master address HOST:PORT (env GFS_MASTER).",
)
@click.option(
    "--shadow",
    "shadows",
    envvar="GFS_SHADOWS",
    multiple=True,
    help="A shadow master to read from while the master is down (repeatable; env GFS_SHADOWS, "
    "space-separated).",
)
@click.option(
    "--timeout", type=float, default=30.0, show_default=True, help="Per-RPC deadline, seconds."
)
@tls_options
@click.option(
    "--encrypted-reads",
    envvar="GFS_ENCRYPTED_READS",
    is_flag=True,
    help="Read over TLS even from chunkservers that serve reads in clear (--plain-reads).",
)
@click.option("-v", "--verbose", count=True, help="Log more (-vv for debug).")
@click.pass_context
def cli(
    ctx: click.Context,
    master: str,
    shadows: tuple[str, ...],
    timeout: float,
    tls_ca: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    encrypted_reads: bool,
    verbose: int,
) -> None:
    """pygfs: a distributed chunk store modelled on the Google File System."""
    if ctx.invoked_subcommand not in ("master", "chunkserver", "shadow", "cluster"):
        logging.basicConfig(level=logging.WARNING - 10 * verbose, format=TEXT_FORMAT)
    ctx.obj = {
        "master": master,
        "shadows": list(shadows),
        "timeout": timeout,
        "verbose": verbose,
        "tls": TlsFiles.given(tls_ca, tls_cert, tls_key),
        "encrypted_reads": encrypted_reads,
    }


# --- servers ----------------------------------------------------------------------------------


@cli.group()
def cluster() -> None:
    """A whole cluster as local processes."""


@cluster.command("up")
@click.option("--chunkservers", type=int, default=3, show_default=True)
@click.option(
    "--data-dir", type=click.Path(path_type=Path), default=Path("gfs-data"), show_default=True
)
@click.option(
    "--port",
    type=int,
    default=9000,
    show_default=True,
    help="Master port; chunkservers take the next ones.",
)
@click.option(
    "--secure",
    is_flag=True,
    help="Mutual TLS: a CA and certificates in DATA_DIR/tls (admin, client and one per server).",
)
@click.option(
    "--plain-reads/--no-plain-reads",
    default=True,
    show_default=True,
    help="With --secure: chunkservers also serve reads in clear, each proved by its chunk token "
    "(as HDFS moves block data unencrypted unless asked); --no-plain-reads: all over TLS.",
)
@click.option(
    "--masters",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Master replicas; above 1, one elected active by a ZooKeeper of their own (started "
    "too), the others standbys, a change answered once a majority holds it.",
)
@master_options
@click.pass_context
def cluster_up(
    ctx: click.Context,
    /,
    chunkservers: int,
    data_dir: Path,
    port: int,
    secure: bool,
    plain_reads: bool,
    masters: int,
    **tuning: Any,
) -> None:
    """Run a master (or --masters N replicas and their coordinator) and N chunkservers in the
    foreground until Ctrl-C. A server that exits is started again (after 1 s, doubling while
    it keeps exiting at once); one that exits six times in a row within a minute of starting
    stops the cluster."""
    from client.client import Client
    from client.localcluster import HOME, LocalCluster
    from client.supervision import ClusterFailed, Supervisor

    # Stopped while starting, it stops what it started (later, serve_forever takes SIGTERM).
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    if chunkservers < 1:
        raise click.BadParameter("need at least one chunkserver", param_hint="--chunkservers")
    if ctx.get_parameter_source("replication") != click.core.ParameterSource.COMMANDLINE:
        tuning["replication"] = min(tuning["replication"], chunkservers)
    tuning.pop("http")  # every server serves /metrics and /healthz on a port of its own
    if masters > 1:  # the cluster runs the coordinator and numbers the replicas itself
        for given in ("coordinator", "master_replicas", "cluster_name"):
            tuning.pop(given)
    args = [f"--{k.replace('_', '-')}={v}" for k, v in tuning.items()]
    local = LocalCluster(
        data_dir.resolve(),
        chunkservers=chunkservers,
        port=port,
        master_args=args,
        secure=secure,
        plain_reads=plain_reads,
        http=True,
        masters=masters,
    )
    try:
        local.start()
        click.echo(f"master serving on {local.master_address}")
        if local.coordinator is not None:
            active = local.active_master().address
            click.echo(f"{masters} master replicas (active: {active}); --master takes the list")
            click.echo(f"coordinator (ZooKeeper) on {local.coordinator.address}")
        click.echo(f"{chunkservers} chunkservers: {', '.join(p.address for p in local.servers)}")
        with Client(local.master_address, timeout=10, tls=local.tls_for("admin", "admin")) as gfs:
            report = gfs.report()
        click.echo(f"master metrics and health: http://{report.master_http}/metrics, /healthz")
        for server in report.chunkservers:
            click.echo(f"chunkserver {server.address} metrics: http://{server.http}/metrics")
        if secure:
            tls = local.tls_for("client")
            assert tls is not None
            click.echo(f"mutual TLS; certificates in {local.tls_dir} (admin: the superuser). As")
            click.echo(f"  user client: export GFS_TLS_CA={tls.ca} GFS_TLS_CERT={tls.cert}")
            click.echo(f"               export GFS_TLS_KEY={tls.key}")
            click.echo(f"  (the root is the superuser's; client's home is {HOME}, /tmp is open)")
        click.echo(f"data and logs under {data_dir}; Ctrl-C stops the cluster")
        sys.stdout.flush()
        supervisor = Supervisor(local, _say, time.monotonic)
        serve_forever(lambda: None, supervisor.check)
    except ClusterFailed as err:
        raise click.ClickException(str(err)) from None
    finally:
        local.stop()


def _say(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


# --- files ------------------------------------------------------------------------------------


@cli.command()
@click.argument("remote")
@click.argument("local")
@click.option("--offset", type=click.IntRange(min=0), required=True)
@click.pass_context
def write(ctx: click.Context, remote: str, local: str, offset: int) -> None:
    """Overwrite a region of an existing file with a local file's bytes, extending it if needed."""
    with local_file(local, "rb") as source:
        data = source.read()
    client_of(ctx).write(remote, offset, data)


@cli.command()
@click.argument("remote")
@click.argument("local")
@click.option("--record-id", default="", help="Makes retries exactly-once: a repeat lands once.")
@click.option("--raw", is_flag=True, help="Append the bytes as they are (no record framing).")
@click.pass_context
def append(ctx: click.Context, remote: str, local: str, record_id: str, raw: bool) -> None:
    """Append a local file's bytes as one record; prints the offset it landed at."""
    with local_file(local, "rb") as source:
        data = source.read()
    client = client_of(ctx)
    offset = (
        client.append(remote, data, record_id)
        if raw
        else client.append_record(remote, data, record_id)
    )
    click.echo(offset)


@cli.command()
@click.argument("remote")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per record.")
@click.pass_context
def records(ctx: click.Context, remote: str, as_json: bool) -> None:
    """Print each intact record of a file once (skipping padding, fragments and repeats)."""
    import base64

    for r in client_of(ctx).records(remote):
        if as_json:
            data = base64.b64encode(r.payload).decode()
            click.echo(json.dumps({"offset": r.offset, "id": r.record_id, "data_b64": data}))
        else:
            sys.stdout.buffer.write(r.payload if r.payload.endswith(b"\n") else r.payload + b"\n")


@cli.command(context_settings={"help_option_names": ["--help"]})
@click.option(
    "-l", "long", is_flag=True, help="Long listing: mode, replication, owner, group, size, mtime."
)
@click.option("-h", "readable", is_flag=True, help="Sizes as 1.5 K, 64 M (with -l).")
@click.argument("patterns", nargs=-1, metavar="PATH...")
@click.pass_context
def ls(ctx: click.Context, long: bool, readable: bool, patterns: tuple[str, ...]) -> None:
    """List directories (patterns allowed; a file lists as itself). With -l, as `hdfs dfs
    -ls`: "Found N items", then mode, replication, owner, group, size, date and path."""
    import datetime

    from common.modes import mode_string

    client = client_of(ctx)
    for pattern in patterns or ("/",):
        for path in client.glob(pattern):
            entries = client.ls(path)
            if not long:
                for e in entries:
                    click.echo(e.path + ("/" if e.is_dir else ""))
                continue
            if client.stat(path).is_dir:
                click.echo(f"Found {len(entries)} items")
            for e in entries:
                when = datetime.datetime.fromtimestamp(e.mtime).strftime("%Y-%m-%d %H:%M")
                replication = str(e.replication) if not e.is_dir else "-"
                shown = human(e.size) if readable else str(e.size)
                click.echo(
                    f"{mode_string(e.is_dir, e.mode)} {replication:>3} {e.owner or '-'} "
                    f"{e.group or '-'} {shown:>14} {when} {e.path}"
                )


@cli.command()
@click.argument("mode")
@click.argument("path")
@click.pass_context
def chmod(ctx: click.Context, mode: str, path: str) -> None:
    """Set the permission bits of PATH to octal MODE (as 644 or 0755)."""
    from common.modes import parse_mode

    client_of(ctx).chmod(path, parse_mode(mode))


@cli.command()
@click.argument("owner", metavar="USER[:GROUP]")
@click.argument("path")
@click.pass_context
def chown(ctx: click.Context, owner: str, path: str) -> None:
    """Give PATH to USER (a superuser may) and/or to GROUP (`:GROUP` alone changes only it)."""
    user, _, group = owner.partition(":")
    client_of(ctx).chown(path, user, group)


@cli.command()
@click.option(
    "-p", "parents", is_flag=True, help="Create parents as needed; no error if it exists."
)
@click.argument("path")
@click.pass_context
def mkdir(ctx: click.Context, parents: bool, path: str) -> None:
    """Create a directory."""
    client_of(ctx).mkdir(path, parents)


@cli.command()
@click.option("-r", "recursive", is_flag=True, help="Remove directories and their contents.")
@click.option("--skip-trash", is_flag=True, help="Delete for good now (no undelete).")
@click.argument("patterns", nargs=-1, required=True, metavar="PATH...")
@click.pass_context
def rm(ctx: click.Context, recursive: bool, skip_trash: bool, patterns: tuple[str, ...]) -> None:
    """Remove files or directories (patterns allowed; restorable with `gfs undelete` until
    the grace period ends)."""
    client = client_of(ctx)
    for path in [p for pattern in patterns for p in client.glob(pattern)]:
        client.rm(path, recursive, skip_trash)


@cli.command()
@click.argument("path")
@click.pass_context
def undelete(ctx: click.Context, path: str) -> None:
    """Restore the most recently deleted file or directory at PATH."""
    client_of(ctx).undelete(path)


@cli.command()
@click.argument("src")
@click.argument("dst")
@click.pass_context
def mv(ctx: click.Context, src: str, dst: str) -> None:
    """Rename a file or directory."""
    client_of(ctx).mv(src, dst)


@cli.command()
@click.argument("src")
@click.argument("dst")
@click.pass_context
def snapshot(ctx: click.Context, src: str, dst: str) -> None:
    """Copy a file or directory in an instant (chunks are copied only when next written)."""
    client_of(ctx).snapshot(src, dst)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.argument("path")
@click.pass_context
def stat(ctx: click.Context, as_json: bool, path: str) -> None:
    """Show a file's size and chunks with their replicas."""
    info = client_of(ctx).stat(path)
    if as_json:
        click.echo(json.dumps(info.as_json(), indent=2))
        return
    if info.is_dir:
        click.echo(f"{info.path}: directory")
        return
    click.echo(f"{info.path}: {info.size} bytes, {len(info.chunks)} chunks")
    for c in info.chunks:
        where = ", ".join(c.replicas) or "NO LIVE REPLICA"
        primary = f" (primary {c.primary})" if c.primary else ""
        head = f"  chunk {c.index}: handle {c.handle} v{c.version} {c.size} bytes"
        click.echo(f"{head} on {where}{primary}")


# --- administration ---------------------------------------------------------------------------


for _command in [*cli_files.COMMANDS, *cli_space.COMMANDS, *cli_admin.COMMANDS]:
    cli.add_command(_command)


def main() -> None:
    try:
        cli.main(standalone_mode=False, prog_name="gfs")
    except click.exceptions.Abort:
        click.echo("gfs: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        click.echo(f"gfs: {err.format_message()}", err=True)
        sys.exit(err.exit_code)
    except errors.GfsError as err:
        click.echo(f"gfs: {err}", err=True)
        sys.exit(1)
    except BrokenPipeError:
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("gfs: interrupted", err=True)
        sys.exit(130)
    except OSError as err:
        click.echo(f"gfs: {err}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
