"""A replica's metadata (version, length, one CRC32C per 64 KiB block) and the file it lives in.

The file has two slots, each able to hold the metadata of a whole chunk, written in turn: a
change overwrites the slot not holding the newest metadata, with a generation one higher, and
syncs it. The file's size never changes, so that sync writes one or two pages and no journal
entry (on the benchmark machine's disk 0.11 ms, where a temporary file, its sync, a rename and a
directory sync took 0.56). A crash mid-write leaves that slot failing its CRC and the other one
holding the metadata from before the change. Slots are whole 4 KiB pages, so writing one never
rewrites the other's bytes. A new file, or one in the format before slots (one record, replaced
by a rename: read as it is), is written whole that way.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

from chunkserver.checksum import BLOCK, crc
from common.durable import pwrite_all, replace_file

_HEADER = struct.Struct("<4sQQI")  # magic, version, length, number of CRCs
_MAGIC = b"GFSM"
_SLOT = struct.Struct("<4sQ")  # magic, generation
_SLOT_MAGIC = b"GFS2"
_PAGE = 4096


@dataclass
class ReplicaMeta:
    version: int
    length: int
    crcs: list[int] = field(default_factory=list)

    def encode(self) -> bytes:
        body = _HEADER.pack(_MAGIC, self.version, self.length, len(self.crcs))
        body += struct.pack(f"<{len(self.crcs)}I", *self.crcs)
        return body + struct.pack("<I", crc(body))

    @classmethod
    def decode(cls, raw: bytes) -> ReplicaMeta:
        if len(raw) < _HEADER.size + 4 or struct.unpack("<I", raw[-4:])[0] != crc(raw[:-4]):
            raise ValueError("metadata checksum mismatch")
        magic, version, length, n = _HEADER.unpack_from(raw)
        if magic != _MAGIC or len(raw) != _HEADER.size + 4 * n + 4 or n != -(-length // BLOCK):
            raise ValueError("malformed metadata")
        return cls(version, length, list(struct.unpack_from(f"<{n}I", raw, _HEADER.size)))


@dataclass(frozen=True)
class Slots:
    """Where a metadata file stands: its newest slot's generation, and the size of a slot (0:
    no file yet, or one in the format before slots)."""

    generation: int = 0
    size: int = 0


def _encode_slot(generation: int, meta: ReplicaMeta) -> bytes:
    body = _SLOT.pack(_SLOT_MAGIC, generation) + meta.encode()
    return body + struct.pack("<I", crc(body))


def _decode_slot(raw: bytes) -> tuple[int, ReplicaMeta] | None:
    """The slot's generation and metadata; None if it holds none intact."""
    if len(raw) < _SLOT.size + _HEADER.size + 8:
        return None
    magic, generation = _SLOT.unpack_from(raw)
    if magic != _SLOT_MAGIC:
        return None
    end = _SLOT.size + _HEADER.size + 4 * _HEADER.unpack_from(raw, _SLOT.size)[3] + 4
    if end + 4 > len(raw) or struct.unpack_from("<I", raw, end)[0] != crc(raw[:end]):
        return None
    try:
        return generation, ReplicaMeta.decode(raw[_SLOT.size : end])
    except ValueError:
        return None


def load(path: Path) -> tuple[ReplicaMeta, Slots]:
    """The newest intact metadata in the file; ValueError if it holds none."""
    raw = path.read_bytes()
    if raw[:4] == _MAGIC:
        return ReplicaMeta.decode(raw), Slots()
    size = len(raw) // 2
    found = [s for s in (_decode_slot(raw[:size]), _decode_slot(raw[size:])) if s is not None]
    if not found:
        raise ValueError("no intact metadata slot")
    generation, meta = max(found, key=lambda s: s[0])
    return meta, Slots(generation, size)


def save(path: Path, meta: ReplicaMeta, slots: Slots, capacity: int) -> Slots:
    """Writes `meta` durably into the file at `path`, which stands at `slots`; returns where it
    stands then. `capacity` (the chunk size) sizes a new file's slots."""
    generation = slots.generation + 1
    record = _encode_slot(generation, meta)
    if slots.size and len(record) <= slots.size:
        fd = os.open(path, os.O_WRONLY)
        try:
            pwrite_all(fd, record, generation % 2 * slots.size)
            os.fdatasync(fd)
        finally:
            os.close(fd)
        return Slots(generation, slots.size)
    image, slots = whole(meta, slots, capacity)
    replace_file(path, [image])
    return slots


def whole(meta: ReplicaMeta, slots: Slots, capacity: int) -> tuple[bytearray, Slots]:
    """A whole new file holding `meta` for a file that stands at `slots` (its next
    generation), with slots sized for `capacity` (or more, for `meta`), and where it stands
    once written."""
    generation = slots.generation + 1
    record = _encode_slot(generation, meta)
    blocks = -(-max(capacity, meta.length) // BLOCK)
    size = -(-(_SLOT.size + _HEADER.size + 4 * blocks + 8) // _PAGE) * _PAGE
    image = bytearray(2 * size)
    start = generation % 2 * size
    image[start : start + len(record)] = record
    return image, Slots(generation, size)
