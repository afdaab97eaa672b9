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
        encrypted_reads=ctx.obj["encrypted_reads"],
    )
    ctx.call_on_close(client.close)
    return client


def human(n: float) -> str:
    """A size as `hdfs dfs -h` writes it: 512, 1.5 K, 64 M, 2.1 G (powers of 1024)."""
    for unit in ("", " K", " M", " G", " T", " P"):
        if abs(n) < 1024 or unit == " P":
            text = f"{n:.1f}".removesuffix(".0") if unit else f"{n:.0f}"
            return text + unit
        n /= 1024
    raise AssertionError("unreachable")
