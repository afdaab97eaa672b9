"""`gfs chunkserver` (also `python -m chunkserver`): run a chunkserver until SIGINT or
SIGTERM."""

from __future__ import annotations

from pathlib import Path

import click

from chunkserver.config import ChunkserverConfig
from chunkserver.server import ChunkServer
from common.launching import (
    MiB,
    announce,
    master_address_option,
    master_of,
    serve_forever,
    server_logging,
    tls_of,
    tls_options,
    verbose_option,
)


@click.command()
@click.option("--listen", envvar="GFS_LISTEN", default="127.0.0.1:0", show_default=True)
@master_address_option
@click.option("--data-dir", envvar="GFS_DATA_DIR", required=True, type=click.Path(path_type=Path))
@click.option("--rack", envvar="GFS_RACK", default="default", show_default=True)
@click.option(
    "--advertise",
    envvar="GFS_ADVERTISE",
    default="",
    help="Address given out (default: the bound one).",
)
@click.option(
    "--scrub-period",
    type=float,
    envvar="GFS_SCRUB_PERIOD",
    default=6 * 3600.0,
    show_default=True,
    help="Verify each idle replica at most once per this many seconds.",
)
@click.option(
    "--scrub-idle",
    type=float,
    envvar="GFS_SCRUB_IDLE",
    default=60.0,
    show_default=True,
    help="Only replicas not written for this many seconds are scrubbed.",
)
@click.option(
    "--scrub-rate",
    type=click.IntRange(min=1),
    envvar="GFS_SCRUB_RATE",
    default=32 * MiB,
    show_default=True,
    help="Bytes per second the scrubber reads at most.",
)
@click.option(
    "--max-pushes",
    type=click.IntRange(min=1),
    envvar="GFS_MAX_PUSHES",
    default=16,
    show_default=True,
    help="Pushes received at once (more are refused, to be retried).",
)
@click.option(
    "--max-reads",
    type=click.IntRange(min=1),
    envvar="GFS_MAX_READS",
    default=16,
    show_default=True,
    help="Reads served at once (more are refused, to be retried).",
)
@click.option(
    "--stream-timeout",
    type=click.FloatRange(min=0.1),
    envvar="GFS_STREAM_TIMEOUT",
    default=120.0,
    show_default=True,
    help="A push or read still running after this many seconds is cancelled.",
)
@tls_options
@verbose_option
@click.pass_context
def chunkserver(
    ctx: click.Context,
    listen: str,
    master_address: str | None,
    data_dir: Path,
    rack: str,
    advertise: str,
    scrub_period: float,
    scrub_idle: float,
    scrub_rate: int,
    max_pushes: int,
    max_reads: int,
    stream_timeout: float,
    tls_ca: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    verbose: int,
) -> None:
    """Run a chunkserver."""
    server_logging(ctx, verbose)
    config = ChunkserverConfig(
        data_dir=data_dir,
        master=master_of(ctx, master_address),
        listen=listen,
        rack=rack,
        advertise=advertise,
        scrub_period=scrub_period,
        scrub_idle=scrub_idle,
        scrub_rate=scrub_rate,
        max_pushes=max_pushes,
        max_reads=max_reads,
        stream_timeout=stream_timeout,
        tls=tls_of(ctx, tls_ca, tls_cert, tls_key),
    )
    server = ChunkServer(config)
    server.start()
    announce("chunkserver", server.address)
    serve_forever(server.stop)
