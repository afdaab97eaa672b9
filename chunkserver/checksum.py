"""CRC32C per 64 KiB block, as GFS keeps a 32-bit checksum per 64 KB block."""

from __future__ import annotations

import google_crc32c

BLOCK = 64 * 1024


def crc(data: bytes | memoryview) -> int:
    return int(google_crc32c.value(bytes(data) if isinstance(data, memoryview) else data))


def block_crcs(data: bytes) -> list[int]:
    """One CRC per block of `data`; the last block may be short."""
    view = memoryview(data)
    return [crc(view[i : i + BLOCK]) for i in range(0, len(data), BLOCK)]
