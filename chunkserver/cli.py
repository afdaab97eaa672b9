"""`gfs chunkserver` (also `python -m chunkserver`): run a chunkserver until SIGINT or
SIGTERM."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from chunkserver.config import ChunkserverConfig
from chunkserver.server import ChunkServer
from common import errors
from common.launching import (
    Flags,
    MiB,
    announce,
    flag_options,
    master_address_option,
    master_of,
    serve_forever,
    server_logging,
    tls_of,
    tls_options,
    verbose_option,
)

# The chunkserver's tuning flags, as the master's (tests/test_cli_flags.py keeps the defaults
# in step with ChunkserverConfig).
CHUNKSERVER_FLAGS: Flags = [
    (
        "full-report-interval",
        click.FloatRange(min=1.0),
        3600.0,
        "Seconds between full replica reports (heartbeats between list only changes).",
    ),
    (
        "full-report-part",
        click.IntRange(min=1),
        200_000,
        "Replicas in one heartbeat's full report; more go in parts, one a heartbeat.",
    ),
    ("scrub-period", float, 6 * 3600.0, "Verify each idle replica at most once per this long."),
    ("scrub-idle", float, 60.0, "Only replicas not written for this many seconds are scrubbed."),
    ("scrub-rate", click.IntRange(min=1), 32 * MiB, "Bytes per second the scrubber reads at most."),
    ("max-pushes", click.IntRange(min=1), 16, "Pushes received at once (more: busy, retried)."),
    ("max-reads", click.IntRange(min=1), 16, "Reads served at once (more: busy, retried)."),
    ("stream-timeout", click.FloatRange(min=0.1), 120.0, "Seconds before a push or read is cut."),
    ("max-per-client", click.IntRange(min=1), 24, "Calls one client has under way at once."),
    ("spool-per-user", click.IntRange(min=1), 1024 * MiB, "Unwritten pushed bytes per user."),
    ("http", str, "", "Serve /metrics and /healthz on this HOST:PORT (none: off)."),
    (
        "failed-dirs-tolerated",
        click.IntRange(min=0),
        0,
        "Data directories that may fail while the server goes on; one more and it stops.",
    ),
    ("dir-check-interval", click.FloatRange(min=0.1), 10.0, "Seconds between data dir probes."),
    (
        "slow-disk-ms",
        click.IntRange(min=1),
        500,
        "A data dir whose probe (write, sync, read back) takes longer is reported slow.",
    ),
    (
        "plain-reads",
        str,
        "",
        "Secure only: also serve reads in clear on this HOST:PORT, each proved by its chunk "
        "token (none: every read is over TLS).",
    ),
]


@click.command()
@click.option("--listen", envvar="GFS_LISTEN", default="127.0.0.1:0", show_default=True)
@master_address_option
@click.option(
    "--data-dir",
    "data_dirs",
    envvar="GFS_DATA_DIR",
    required=True,
    multiple=True,
    type=click.Path(path_type=Path),
    help="Where replicas live; repeat it for one directory per disk (the first also holds "
    "the lock and the spool; env GFS_DATA_DIR: colon-separated).",
)
@click.option("--rack", envvar="GFS_RACK", default="default", show_default=True)
@click.option(
    "--advertise",
    envvar="GFS_ADVERTISE",
    default="",
    help="Address given out (default: the bound one).",
)
@flag_options(CHUNKSERVER_FLAGS)
@tls_options
@verbose_option
@click.pass_context
def chunkserver(
    ctx: click.Context,
    /,
    listen: str,
    master_address: str | None,
    data_dirs: tuple[Path, ...],
    rack: str,
    advertise: str,
    tls_ca: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    verbose: int,
    **tuning: Any,
) -> None:
    """Run a chunkserver."""
    server_logging(ctx, verbose)
    tls = tls_of(ctx, tls_ca, tls_cert, tls_key)
    if tuning["plain_reads"] and tls is None:
        raise click.UsageError("--plain-reads is for a secure chunkserver (give --tls-*)")
    if len(set(data_dirs)) != len(data_dirs):
        raise click.BadParameter("a data directory is named twice", param_hint="--data-dir")
    config = ChunkserverConfig(
        data_dir=data_dirs[0],
        more_data_dirs=data_dirs[1:],
        master=master_of(ctx, master_address),
        listen=listen,
        rack=rack,
        advertise=advertise,
        tls=tls,
        **tuning,
    )
    server = ChunkServer(config)
    server.start()
    announce("chunkserver", server.address)
    try:
        serve_forever(server.stop, server.check)
    except errors.FailedPrecondition:
        server.stop()
        raise
