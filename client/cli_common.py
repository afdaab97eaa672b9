"""What every command of `gfs` shares: the client its global options describe."""

from __future__ import annotations

import click

from client.client import Client


def client_of(ctx: click.Context) -> Client:
    """A client for the cluster the global options name, closed when the command ends."""
    client = Client(
        ctx.obj["master"],
        shadows=ctx.obj["shadows"],
        timeout=ctx.obj["timeout"],
        tls=ctx.obj["tls"],
    )
    ctx.call_on_close(client.close)
    return client
