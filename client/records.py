"""Framing for record append, as GFS section 2.7.2 asks of applications: each record carries a
magic, its length, a checksum and an id, so a reader can skip padding and fragments left by
failed appends and drop duplicates left by retries.

    b"GFSR" | payload length u32 | crc32c(id + payload) u32 | id length u16 | id | payload
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

import google_crc32c

MAGIC = b"GFSR"
_HEADER = struct.Struct("<4sIIH")
MAX_ID = 255


@dataclass(frozen=True)
class Record:
    offset: int  # in the file
    record_id: str
    payload: bytes


def frame(payload: bytes, record_id: str = "") -> bytes:
    rid = record_id.encode()
    if len(rid) > MAX_ID:
        raise ValueError(f"a record id is at most {MAX_ID} bytes")
    checksum = int(google_crc32c.value(rid + payload))
    return _HEADER.pack(MAGIC, len(payload), checksum, len(rid)) + rid + payload


def overhead(record_id: str = "") -> int:
    return _HEADER.size + len(record_id.encode())


def parse(data: bytes, base: int = 0) -> Iterator[Record]:
    """Every intact record in `data` (one chunk's bytes; records never straddle chunks), in
    order; padding, fragments and damaged records are skipped."""
    pos = data.find(MAGIC)
    while pos != -1 and pos + _HEADER.size <= len(data):
        _, length, checksum, id_length = _HEADER.unpack_from(data, pos)
        start = pos + _HEADER.size
        end = start + id_length + length
        body = data[start:end]
        if end <= len(data) and int(google_crc32c.value(body)) == checksum:
            try:
                record_id = body[:id_length].decode()
            except UnicodeDecodeError:
                record_id = None
            if record_id is not None:
                yield Record(base + pos, record_id, body[id_length:])
                pos = data.find(MAGIC, end)
                continue
        pos = data.find(MAGIC, pos + 1)


def unique(records: Iterator[Record]) -> Iterator[Record]:
    """Drops repeats of a record id (left by retried appends); records without ids all pass."""
    seen: set[str] = set()
    for record in records:
        if record.record_id:
            if record.record_id in seen:
                continue
            seen.add(record.record_id)
        yield record
