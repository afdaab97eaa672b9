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


class BlockCrcs:
    """The block CRCs of bytes that arrive piece by piece. `head` is the start of the first
    block when the bytes continue a block already there (data placed mid-block)."""

    def __init__(self, head: bytes = b"") -> None:
        self.crcs: list[int] = []
        self._tail = head  # the bytes of a block not yet complete

    def add(self, data: bytes) -> None:
        if self._tail:
            need = BLOCK - len(self._tail)
            self._tail += data[:need]
            data = data[need:]
            if len(self._tail) < BLOCK:
                return
            self.crcs.append(crc(self._tail))
            self._tail = b""
        whole = len(data) - len(data) % BLOCK
        view = memoryview(data)
        self.crcs.extend(crc(view[i : i + BLOCK]) for i in range(0, whole, BLOCK))
        self._tail = bytes(view[whole:])

    def total(self) -> list[int]:
        """Every block's CRC so far, the last (incomplete) block's included."""
        return [*self.crcs, crc(self._tail)] if self._tail else list(self.crcs)
