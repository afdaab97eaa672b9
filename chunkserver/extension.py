"""A primary having the master extend a file over what the chunk's replicas applied, so the
client of a write or an append need not ask it again. The master takes that only from the
chunk's lease holder, for a chunk of that file, within the chunk."""

from __future__ import annotations

import logging

from chunkserver.config import ChunkserverConfig
from common import errors, transport
from protos import master_pb2

log = logging.getLogger(__name__)

# How long a primary waits for the master to extend a file for its writes and appends before it
# leaves that to the clients (who retry for as long as their calls may take).
EXTEND_TIMEOUT = 2.0


def extend_file(
    config: ChunkserverConfig,
    channels: transport.Channels,
    primary: str,
    path: str,
    handle: int,
    chunk_end: int,
) -> bool:
    """Has the master extend `path` to cover chunk `handle` up to `chunk_end`, asked by the
    chunk's lease holder `primary`; False if it could not: the clients then do."""
    request = master_pb2.ExtendFileRequest(
        path=path, handle=handle, chunk_end=chunk_end, primary=primary
    )
    master = config.masters.current
    try:
        transport.call(
            channels.master(master).ExtendFile,
            request,
            target=master,
            timeout=min(config.rpc_timeout, EXTEND_TIMEOUT),
        )
    except errors.GfsError as err:
        log.info("could not extend %s for chunk %d: %s", path, handle, err)
        return False
    return True
