"""A replica's files besides its data and metadata, and what a data directory holds at start.

Appends' record ids: `<handle>.ids`, a line "OFFSET ID" per append the replica applied, added
and synced after the append's data, so a client retrying an append that did land is told where
it landed instead of having it applied twice.

At start a data directory is read as it is (`scan`): leftovers of interrupted renames are
removed, every replica's metadata, ids and data length are read, and data with no metadata (a
creation or a copy a crash cut short, never acknowledged) is removed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chunkserver import metafile
from chunkserver.metafile import ReplicaMeta, Slots
from common import errors, limits

log = logging.getLogger(__name__)


def read_ids(path: Path) -> dict[str, int]:
    """A replica's append ids and their offsets. A last line cut short by a crash is no record
    (its append was never acknowledged); anything else that is not such a line raises
    ValueError."""
    try:
        lines = path.read_bytes().split(b"\n")
    except FileNotFoundError:
        return {}
    ids: dict[str, int] = {}
    for line in lines[:-1]:  # the last piece: empty, or a line a crash cut short
        offset, _, record_id = line.decode("utf-8").partition(" ")
        if not offset.isdigit():
            raise ValueError(f"not an offset: {offset[:20]!r}")
        if record_id:
            ids[limits.check_record_id(record_id)] = int(offset)
    return ids


def add_ids(path: Path, landed: Sequence[tuple[str, int]]) -> None:
    """Durably adds appends (record id, offset) to the replica's ids, with one sync."""
    for record_id, _ in landed:
        limits.check_record_id(record_id)
    with open(path, "a") as f:
        f.write("".join(f"{offset} {record_id}\n" for record_id, offset in landed))
        f.flush()
        os.fsync(f.fileno())


def replace_ids(path: Path, ids: dict[str, int]) -> None:
    """Durably makes `ids` (checked by the caller) the replica's whole list (a copy's, kept in
    place of any before)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.writelines(f"{offset} {record_id}\n" for record_id, offset in ids.items())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@dataclass
class Found:
    """A replica found in a data directory at start."""

    handle: int
    meta: ReplicaMeta
    slots: Slots
    ids: dict[str, int] = field(default_factory=dict)
    corrupt: bool = False  # its ids file is damaged or its data shorter than its metadata


def scan(directory: Path) -> list[Found]:
    """The replicas `directory` holds, after removing what crashes left half made."""
    for tmp in directory.glob("*.tmp"):
        tmp.unlink()
    found = []
    for meta_path in directory.glob("*.meta"):
        handle = int(meta_path.stem)
        try:
            meta, slots = metafile.load(meta_path)
        except ValueError as err:
            log.warning("replica of chunk %d unreadable (%s); ignoring it", handle, err)
            continue
        replica = Found(handle, meta, slots)
        try:
            replica.ids = read_ids(directory / f"{handle}.ids")
        except (ValueError, errors.InvalidArgument) as err:
            log.warning("replica of chunk %d has a damaged id file (%s): corrupt", handle, err)
            replica.corrupt = True
        data = directory / f"{handle}.chunk"
        if not data.exists() or data.stat().st_size < meta.length:
            log.warning("replica of chunk %d is shorter than its metadata says", handle)
            replica.corrupt = True
        found.append(replica)
    # Data with no metadata is a replica whose creation or first copy a crash cut short (the
    # metadata is written last): never acknowledged, and never reported, so nobody else would
    # ever remove it.
    for data in directory.glob("*.chunk"):
        handle = int(data.stem)
        if not (directory / f"{handle}.meta").exists():
            log.warning("removing chunk %d's data: a crash left it without metadata", handle)
            data.unlink()
            (directory / f"{handle}.ids").unlink(missing_ok=True)
    return found
