"""The library's exceptions, and the one table that maps gRPC status codes onto them.

    GfsError                      every error the library raises
     +-- NotFound                 no such file, directory or chunk
     +-- AlreadyExists            the target exists
     +-- InvalidArgument          a malformed path or request
     +-- NotADirectory / IsADirectory / DirectoryNotEmpty
     +-- FailedPrecondition       the cluster cannot do it now (too few chunkservers, no lease)
     +-- Unavailable              a server could not be reached or did not answer in time
     +-- DataLoss                 checksums failed on every replica that was tried
     +-- ResourceExhausted        a disk or a buffer is full, or a request is too large
     +-- Aborted                  raced with a change (lease, version, pushed data): retry
          +-- StaleReplica        a replica's version differs from the one asked for

A gRPC error never leaves the library as grpc.RpcError: `translate` converts it.
"""

from __future__ import annotations

import grpc


class GfsError(Exception):
    """Base of every error the library raises; str() is one line for the user."""

    code = grpc.StatusCode.UNKNOWN


class NotFound(GfsError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(GfsError):
    code = grpc.StatusCode.ALREADY_EXISTS


class InvalidArgument(GfsError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class FailedPrecondition(GfsError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class NotADirectory(FailedPrecondition):
    pass


class IsADirectory(FailedPrecondition):
    pass


class DirectoryNotEmpty(FailedPrecondition):
    pass


class Unavailable(GfsError):
    code = grpc.StatusCode.UNAVAILABLE


class DataLoss(GfsError):
    code = grpc.StatusCode.DATA_LOSS


class Aborted(GfsError):
    code = grpc.StatusCode.ABORTED


class StaleReplica(Aborted):
    pass


class ResourceExhausted(GfsError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


_BY_CODE: dict[grpc.StatusCode, type[GfsError]] = {
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgument,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: Unavailable,
    grpc.StatusCode.DATA_LOSS: DataLoss,
    grpc.StatusCode.ABORTED: Aborted,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
}

# Errors worth retrying against the same or another server.
RETRYABLE: tuple[type[GfsError], ...] = (Unavailable, Aborted, DataLoss)


def translate(err: grpc.RpcError, target: str) -> GfsError:
    """Turns a gRPC error from `target` into the library's exception, with a one-line message."""
    code = err.code() if isinstance(err, grpc.Call) else grpc.StatusCode.UNKNOWN
    details = (err.details() if isinstance(err, grpc.Call) else None) or str(code)
    cls = _BY_CODE.get(code, GfsError)
    first = details.splitlines()[0] if details else str(code)
    if cls is Unavailable:
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return Unavailable(f"{target} did not answer in time")
        if any(sign in first.lower() for sign in _TRANSPORT_FAILURES):
            # gRPC's detail is a chain of causes ("failed to connect ...: ...: Connection
            # refused"); the last one is what the user can act on.
            return Unavailable(f"cannot reach {target}: {first.rsplit(': ', 1)[-1].lower()}")
        return Unavailable(first)  # a server's own words: it was reached
    return cls(first)


# What gRPC itself says when a server could not be reached (as opposed to a server answering
# UNAVAILABLE about something else, such as a replica it forwards to).
_TRANSPORT_FAILURES = (
    "failed to connect",
    "connection refused",
    "connection reset",
    "socket closed",
    "stream removed",
    "dns resolution failed",
    "connect failed",
    "network is unreachable",
    "broken pipe",
)
