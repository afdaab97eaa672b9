"""The pygfs client library: `Client` and the errors it raises.

    from client import Client, errors
    with Client(master="127.0.0.1:9000") as gfs:
        gfs.write("/hello", 0, b"hi")
"""

from __future__ import annotations

from client.client import Client
from common import errors

__all__ = ["Client", "errors"]
