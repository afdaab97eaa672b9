"""The rules every side applies the same way to values that cross the wire: the client checks
them before sending, the servers again on arrival (a request may come from anyone, not only
from this library), and a value that broke one is refused with one clear line."""

from __future__ import annotations

from common import errors

MAX_RECORD_ID = 255
# Versions and handles stay far below what an int64 field (and SQLite's INTEGER) holds, so no
# arithmetic on them (version + 1, "any version" markers) can overflow.
MAX_VERSION = 2**62
MAX_HANDLE = 2**62
# A write or record this small travels inside its request to the primary, which hands it to
# the secondaries inside theirs: no push before it. Pushing it first cost a streamed call to
# every replica, more than the bytes (GFS separates the data flow for bandwidth: moot here):
# a 64 KiB record (with its frame, past a limit of 64 KiB) cost ~28 ms of CPU summed over the
# processes when pushed, ~6 ms inline.
MAX_INLINE = 128 * 1024
# New empty replicas one call may ask a chunkserver to make (the master's pool of new chunks).
MAX_CREATED = 1024
# Paths one StatMany or CreateMany call may carry (a client's concurrent stats or creates).
MAX_BATCH = 1024


def check_record_id(record_id: str) -> str:
    """An append's record id: at most 255 printable characters, no white space (one line of
    a replica's id file holds it)."""
    if len(record_id) > MAX_RECORD_ID or not all(
        c.isprintable() and not c.isspace() for c in record_id
    ):
        raise errors.InvalidArgument(
            f"a record id is at most {MAX_RECORD_ID} printable characters, without spaces"
        )
    return record_id


def check_version(version: int) -> int:
    if not 0 < version < MAX_VERSION:
        raise errors.InvalidArgument(
            f"a chunk version is from 1 to {MAX_VERSION - 1}, not {version}"
        )
    return version


def check_handle(handle: int) -> int:
    if not 0 < handle < MAX_HANDLE:
        raise errors.InvalidArgument(f"a chunk handle is from 1 to {MAX_HANDLE - 1}, not {handle}")
    return handle


def check_inline(data: bytes) -> bytes:
    if len(data) > MAX_INLINE:
        raise errors.InvalidArgument(
            f"data inline with a write is at most {MAX_INLINE} bytes, not {len(data)}; push it"
        )
    return data


def check_batch(count: int, verb: str) -> int:
    """`count` paths in one batched call that `verb`s them."""
    if count > MAX_BATCH:
        raise errors.InvalidArgument(f"one call {verb} at most {MAX_BATCH} paths, not {count}")
    return count
