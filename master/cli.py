"""`gfs master` and `gfs shadow` (also `python -m master [shadow]`): run a master, or a
read-only shadow of one, until SIGINT or SIGTERM."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import click

# sqlite-utils imports pandas and numpy whenever they are installed, for DataFrames a master
# never makes: ~0.6 s of every start. A master's process goes without them (where a process
# has them already, as a test's may, they stay).
for _unused in ("pandas", "numpy"):
    sys.modules.setdefault(_unused, None)  # type: ignore[arg-type]

from common.launching import (  # noqa: E402
    announce,
    master_address_option,
    master_of,
    master_options,
    serve_forever,
    server_logging,
    settle_collector,
    tls_of,
    tls_options,
    verbose_option,
)
from master.config import MasterConfig  # noqa: E402
from master.replica import Replica  # noqa: E402
from master.server import MasterServer  # noqa: E402

data_dir_option = click.option(
    "--data-dir", envvar="GFS_DATA_DIR", required=True, type=click.Path(path_type=Path)
)


def _run(
    ctx: click.Context,
    verbose: int,
    listen: str,
    data_dir: Path,
    tuning: dict[str, Any],
    shadow_of: str | None,
) -> None:
    server_logging(ctx, verbose)
    tls = tls_of(ctx, tuning.pop("tls_ca"), tuning.pop("tls_cert"), tuning.pop("tls_key"))
    try:
        config = MasterConfig(data_dir=data_dir, listen=listen, tls=tls, **tuning)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None
    if config.coordinator and shadow_of is None:
        _run_replica(config)
        return
    server = MasterServer(config, shadow_of=shadow_of)
    settle_collector()
    server.start()
    announce(server.service.role, server.address)
    serve_forever(server.stop)


def _run_replica(config: MasterConfig) -> None:
    """A master replica: standby, active when elected, until SIGINT or SIGTERM."""
    if config.address.endswith(":0") or config.address.startswith("0.0.0.0:"):
        raise click.BadParameter(
            "a master replica's --listen (or --advertise) is the address the others reach it "
            "at: a host and a fixed port"
        )
    replica = Replica(config)
    replica.start()
    settle_collector()
    announce("master replica", config.address)
    runner = threading.Thread(target=replica.run, name="replica")
    runner.start()

    def stop() -> None:
        replica.stop()
        runner.join()
        replica.close()

    serve_forever(stop)


@click.command()
@click.option("--listen", envvar="GFS_LISTEN", default="127.0.0.1:9000", show_default=True)
@click.option(
    "--advertise",
    envvar="GFS_ADVERTISE",
    default="",
    help="HOST:PORT the others reach this master at (a replica's identity); default --listen.",
)
@data_dir_option
@master_options
@tls_options
@verbose_option
@click.pass_context
def master(
    ctx: click.Context, /, listen: str, advertise: str, data_dir: Path, verbose: int, **tuning: Any
) -> None:
    """Run the master."""
    _run(ctx, verbose, listen, data_dir, {**tuning, "advertise": advertise}, shadow_of=None)


@click.command()
@click.option("--listen", envvar="GFS_LISTEN", default="127.0.0.1:9010", show_default=True)
@master_address_option
@data_dir_option
@master_options
@tls_options
@verbose_option
@click.pass_context
def shadow(
    ctx: click.Context,
    /,
    listen: str,
    master_address: str | None,
    data_dir: Path,
    verbose: int,
    **tuning: Any,
) -> None:
    """Run a read-only shadow master that follows the master's op log.

    Its data directory is a master's: to promote it, stop it and run `gfs master --data-dir`
    on the same directory (on the old master's address, or point the chunkservers at the new
    one)."""
    _run(ctx, verbose, listen, data_dir, tuning, shadow_of=master_of(ctx, master_address))
