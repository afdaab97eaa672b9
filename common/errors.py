"""The exceptions of pygfs, shared by the client library, the master and the chunkservers.

    GfsError                      every error the library raises
     +-- NotFound                 no such file, directory or chunk
     +-- AlreadyExists            the target exists
     +-- InvalidArgument          a malformed path or request
     |    +-- InvalidPath         a path the namespace cannot hold
     |    +-- OutOfRange          a chunk more than one past a file's end was asked for
     +-- FailedPrecondition       the cluster cannot do it now (too few chunkservers, no lease)
     |    +-- NotADirectory / IsADirectory / DirectoryNotEmpty
     |    +-- Compacted           the op-log entries asked for were compacted away
     |    +-- Diverged            a follower's log differs from the active master's
     |    +-- NotActive           a standby master replica: changes go to the active one
     +-- Unavailable              a server could not be reached or did not answer in time
     |    +-- Busy                a server refused a long call for now (admission): retry
     |    +-- Deposed             a master replica whose term a newer one ended
     +-- DataLoss                 checksums failed on every replica that was tried
     +-- ResourceExhausted        a disk or a buffer is full, or a request is too large
     +-- PermissionDenied         the caller's identity may not do this
     +-- Aborted                  raced with a change (lease, version, pushed data): retry
          +-- StaleReplica        a replica's version differs from the one asked for

Each is also the builtin exception ordinary code expects: NotFound is a FileNotFoundError,
AlreadyExists a FileExistsError, NotADirectory a NotADirectoryError, IsADirectory an
IsADirectoryError, PermissionDenied a PermissionError, InvalidPath a ValueError.

No gRPC here: the pure cores raise these. How they cross the wire (status codes, and the
subclass's name so that it survives) is `common.transport`'s one table.
"""

from __future__ import annotations


class GfsError(Exception):
    """Base of every error the library raises; str() is one line for the user."""


class NotFound(GfsError, FileNotFoundError):
    pass


class AlreadyExists(GfsError, FileExistsError):
    pass


class InvalidArgument(GfsError):
    pass


class InvalidPath(InvalidArgument, ValueError):
    """A path that the namespace cannot hold."""


class OutOfRange(InvalidArgument):
    """A write may add one chunk past a file's end at a time (holes are added one by one)."""


class FailedPrecondition(GfsError):
    pass


class NotADirectory(FailedPrecondition, NotADirectoryError):
    pass


class IsADirectory(FailedPrecondition, IsADirectoryError):
    pass


class DirectoryNotEmpty(FailedPrecondition):
    pass


class Compacted(FailedPrecondition):
    """The reader needs op-log entries that compaction dropped: start from a checkpoint."""


class Diverged(FailedPrecondition):
    """A follower's log holds an entry the active master's differs from (one a deposed active
    wrote that no majority held): start again from a checkpoint."""


class NotActive(FailedPrecondition):
    """A standby master replica refuses changes: the client tries the other replicas."""


class Unavailable(GfsError):
    pass


class Deposed(Unavailable):
    """A master replica whose term ended (a newer active was elected): it acknowledges
    nothing more; the client tries the other replicas."""


class Busy(Unavailable):
    """The server has as many calls of this kind under way as it takes; another replica, or
    the same one a moment later, will take it."""


class DataLoss(GfsError):
    pass


class Aborted(GfsError):
    pass


class StaleReplica(Aborted):
    pass


class ResourceExhausted(GfsError):
    pass


class PermissionDenied(GfsError, PermissionError):
    pass


# Errors worth retrying against the same or another server.
RETRYABLE: tuple[type[GfsError], ...] = (Unavailable, Aborted, DataLoss)
