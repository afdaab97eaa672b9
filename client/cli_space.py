"""The `gfs` verbs about space, as `hdfs dfs` has them: du, df and count say how much is where
(sizes in bytes, or with -h as HDFS writes them: 1.5 K, 64 M, 2.1 G); setrep sets how many
copies a file keeps."""

from __future__ import annotations

import click

from client.cli_common import client_of, human

no_h_help = {"help_option_names": ["--help"]}  # -h means human-readable here, as in hdfs dfs
human_option = click.option("-h", "readable", is_flag=True, help="Sizes as 1.5 K, 64 M, 2.1 G.")


def _size(n: int, readable: bool) -> str:
    return human(n) if readable else str(n)


@click.command(context_settings=no_h_help)
@click.option("-s", "summary", is_flag=True, help="One total per argument.")
@human_option
@click.argument("patterns", nargs=-1, metavar="PATH...")
@click.pass_context
def du(ctx: click.Context, summary: bool, readable: bool, patterns: tuple[str, ...]) -> None:
    """Bytes used under each path (patterns allowed): SIZE, DISK SPACE CONSUMED with every
    replica, PATH; for a directory, one line per entry in it unless -s."""
    client = client_of(ctx)
    for pattern in patterns or ("/",):
        for path in client.glob(pattern):
            if summary or not client.stat(path).is_dir:
                targets = [path]
            else:
                targets = [e.path for e in client.ls(path)]
            for target in targets:
                s = client.summary(target)
                click.echo(
                    f"{_size(s['length'], readable):<12} {_size(s['consumed'], readable):<12} "
                    f"{target}"
                )


@click.command(context_settings=no_h_help)
@human_option
@click.pass_context
def df(ctx: click.Context, readable: bool) -> None:
    """The cluster's capacity: Size, Used, Available and Use% over its live chunkservers."""
    client = client_of(ctx)
    totals = client.report().totals()
    size, used = totals["capacity_bytes"], totals["used_bytes"]
    percent = f"{100 * used / size:.0f}%" if size else "-"
    click.echo(f"{'Filesystem':<28} {'Size':>14} {'Used':>14} {'Available':>14} {'Use%':>5}")
    click.echo(
        f"{'gfs://' + client.master_address:<28} {_size(size, readable):>14} "
        f"{_size(used, readable):>14} {_size(size - used, readable):>14} {percent:>5}"
    )


@click.command(context_settings=no_h_help)
@human_option
@click.argument("patterns", nargs=-1, required=True, metavar="PATH...")
@click.pass_context
def count(ctx: click.Context, readable: bool, patterns: tuple[str, ...]) -> None:
    """DIR_COUNT, FILE_COUNT, CONTENT_SIZE, PATHNAME for each path (patterns allowed); a
    directory counts itself."""
    client = client_of(ctx)
    for pattern in patterns:
        for path in client.glob(pattern):
            s = client.summary(path)
            click.echo(
                f"{s['directories']:>12} {s['files']:>12} {_size(s['length'], readable):>18} {path}"
            )


@click.command()
@click.option("-w", "wait", is_flag=True, help="Wait until every chunk has that many replicas.")
@click.argument("replication", type=click.IntRange(min=1))
@click.argument("patterns", nargs=-1, required=True, metavar="PATH...")
@click.pass_context
def setrep(ctx: click.Context, wait: bool, replication: int, patterns: tuple[str, ...]) -> None:
    """Set the replication of files (every file under a directory; patterns allowed). The
    master copies or trims their chunks in the background; -w waits for it."""
    client = client_of(ctx)
    for path in [p for pattern in patterns for p in client.glob(pattern)]:
        files = client.setrep(path, replication)
        click.echo(f"replication {replication}: {path} ({files} file(s))")
        if wait:
            client.wait_replicated(path)


COMMANDS = [du, df, count, setrep]
