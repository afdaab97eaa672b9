"""The pygfs client library: `Client` and the errors it raises.

    from client import Client, errors
    with Client(master="127.0.0.1:9000") as gfs:
        gfs.write("/hello", 0, b"hi")

Both are loaded on first use, so that the `gfs` command can set up gRPC's environment before
anything imports gRPC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from client.client import Client
    from common import errors

__all__ = ["Client", "errors"]


def __getattr__(name: str) -> Any:
    if name == "Client":
        from client.client import Client

        return Client
    if name == "errors":
        from common import errors

        return errors
    raise AttributeError(f"module 'client' has no attribute {name!r}")
