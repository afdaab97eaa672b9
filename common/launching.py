"""What every server's command line shares: logging, the collector's settings, running until a
signal, the master's
tuning flags (which `gfs master`, `gfs shadow` and `gfs cluster up` all take), and the options
both `gfs SERVER` and `python -m SERVER` read."""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import click

from common import errors
from common.logfilters import limit_repeats
from common.logformat import FORMATS, formatter
from common.tls import TlsFiles

MiB = 1024 * 1024
DEFAULT_MASTER = "127.0.0.1:9000"
# New objects between collections of the youngest generation. Python's 700 made collections a
# third of a shadow's replay of the log (26k entries/s, 40k without them).
YOUNG_COLLECTION = 50_000
# Set in the environment of the servers a local cluster starts (client/localcluster.py): such a
# server stops once the process that started it is gone, killed rather than stopping it (a
# benchmark or a test run killed halfway left whole clusters running, taking cores and ports).
# Off elsewhere: a server started from a shell that then closes must keep serving.
EXIT_WITH_PARENT = "GFS_EXIT_WITH_PARENT"

log = logging.getLogger(__name__)


def settle_collector() -> None:
    """For a server whose state is loaded: the objects it holds now are set aside from every
    later collection (`gc.freeze`; reference counting still frees them when dropped, and the
    state holds no cycles), so a full collection does not walk a million files' objects, and
    the youngest generation is collected less often."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION, middle, old)


def serve_forever(stop: Callable[[], None], tick: Callable[[], None] | None = None) -> None:
    """Blocks until SIGINT or SIGTERM, then stops the server; meanwhile calls `tick` every
    half second (an exception it raises ends the wait, without `stop`). Under
    EXIT_WITH_PARENT, it also stops once the process that started it is gone."""
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    parent = os.getppid() if os.environ.get(EXIT_WITH_PARENT) else None
    while not done.wait(None if tick is None and parent is None else 0.5):
        if parent is not None and os.getppid() != parent:
            log.warning("the process that started this server (%d) is gone: stopping", parent)
            break
        if tick is not None:
            tick()
    stop()


def server_logging(ctx: click.Context, verbose: int) -> None:
    """Servers log at INFO (one line per significant event) on stderr, as text or JSON
    (--log-format); -v for debug. Under `gfs`, the global -v counts too. A line said over and
    over is cut to a few a minute, with a count."""
    verbose += (ctx.obj or {}).get("verbose", 0)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(ctx.meta.get("log_format", "text")))
    limit_repeats(handler)
    logging.basicConfig(level=logging.INFO - 10 * verbose, handlers=[handler])


def master_of(ctx: click.Context, given: str | None) -> str:
    """The master a chunkserver or shadow talks to: its own --master, else `gfs --master`."""
    return given or (ctx.obj or {}).get("master") or DEFAULT_MASTER


def announce(what: str, address: str) -> None:
    """The first line on stdout once a server serves (local clusters and tests wait for it)."""
    click.echo(f"{what} serving on {address}")
    sys.stdout.flush()


def tls_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--tls-ca, --tls-cert, --tls-key (env GFS_TLS_CA, GFS_TLS_CERT, GFS_TLS_KEY)."""
    for part, text in reversed(TLS_PARTS):
        option = click.option(
            f"--tls-{part}",
            envvar=f"GFS_TLS_{part.upper()}",
            default=None,
            type=click.Path(dir_okay=False),
            help=text,
        )
        f = option(f)
    return f


TLS_PARTS = [
    ("ca", "The cluster's CA certificate (mutual TLS; with --tls-cert and --tls-key)."),
    ("cert", "This process's certificate, signed by that CA (gfs certs issue)."),
    ("key", "The certificate's private key."),
]


def tls_of(
    ctx: click.Context, ca: str | None, cert: str | None, key: str | None
) -> TlsFiles | None:
    """The TLS files given to this command, else those given to `gfs`; None: insecure."""
    try:
        given = TlsFiles.given(ca, cert, key)
    except errors.GfsError as err:
        raise click.BadParameter(str(err)) from None
    return given if given is not None else (ctx.obj or {}).get("tls")


def verbose_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """-v (more, -vv for debug) and --log-format (text or json; env GFS_LOG_FORMAT), which
    server_logging reads from the context."""
    f = click.option(
        "--log-format",
        type=click.Choice(FORMATS),
        envvar="GFS_LOG_FORMAT",
        default="text",
        show_default=True,
        expose_value=False,
        is_eager=True,
        callback=lambda ctx, _, value: ctx.meta.__setitem__("log_format", value),
        help="json: one object a line, a significant event's facts as fields.",
    )(f)
    return click.option("-v", "--verbose", count=True, help="Log more (-vv for debug).")(f)


# The master a chunkserver or shadow talks to (its own flag, defaulting to the global one).
master_address_option = click.option(
    "--master",
    "master_address",
    envvar="GFS_MASTER",
    default=None,
    help=f"Default: gfs's global --master, or {DEFAULT_MASTER}.",
)

Flags = list[tuple[str, Any, Any, str]]  # (flag, type, default, help)

# The master's tuning flags: (flag, type, default, help); each also reads GFS_<FLAG>. The
# defaults are MasterConfig's (tests/test_cli_flags.py keeps the two in step).
MASTER_FLAGS: Flags = [
    ("chunk-size", int, 64 * MiB, "Bytes per chunk, a multiple of 64 KiB."),
    ("replication", int, 3, "Replicas of each chunk."),
    (
        "min-replication",
        click.IntRange(min=1),
        1,
        "Fewest replicas a new chunk is made with while servers are down (copied up later).",
    ),
    ("lease-seconds", float, 60.0, "How long a primary orders mutations without the master."),
    ("heartbeat-interval", float, 1.0, "Seconds between chunkserver heartbeats."),
    ("dead-after", float, 10.0, "A chunkserver silent this long is dead."),
    ("trash-grace", float, 3 * 86400.0, "Seconds a deleted path stays restorable; 0: no trash."),
    ("balance-interval", float, 30.0, "Seconds between automatic balancing rounds."),
    ("clone-limit", click.IntRange(min=1), 2, "Copies a chunkserver takes part in at once."),
    (
        "chunk-pool",
        click.IntRange(min=0, max=1024),
        16,
        "New chunks made ahead on the servers for new files to take (0: made on demand).",
    ),
    ("oplog-retain", click.IntRange(min=1), 1_000_000, "Op-log entries kept by compaction."),
    ("image-every", click.IntRange(min=0), 50_000, "Log entries between images; 0: none."),
    (
        "master-replicas",
        click.IntRange(min=1),
        1,
        "This master and its shadows: a change is answered once a majority hold it.",
    ),
    (
        "coordinator",
        str,
        "",
        "ZooKeeper HOST:PORT[,...] electing the active master replica (none: no election).",
    ),
    ("coordinator-timeout", float, 5.0, "Seconds a replica's coordinator session outlives it."),
    ("cluster-name", str, "pygfs", "Where this cluster's replicas meet in the coordinator."),
    ("max-followers", click.IntRange(min=1), 8, "Followed log streams served at once."),
    ("max-per-client", click.IntRange(min=1), 16, "Calls one client has under way at once."),
    ("max-moved", click.IntRange(min=1), 100_000, "Entries one rename or snapshot may move."),
    ("http", str, "", "Serve /metrics and /healthz on this HOST:PORT (none: off)."),
]


def flag_options(flags: Flags) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A command's tuning flags from a table; each also reads GFS_<FLAG>."""

    def add(f: Callable[..., Any]) -> Callable[..., Any]:
        for flag, kind, default, text in reversed(flags):
            envvar = "GFS_" + flag.upper().replace("-", "_")
            option = click.option(
                f"--{flag}", type=kind, envvar=envvar, default=default, show_default=True, help=text
            )
            f = option(f)
        return f

    return add


master_options = flag_options(MASTER_FLAGS)
