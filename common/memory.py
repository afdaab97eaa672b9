"""Freed memory given back to the system.

glibc keeps what a burst of allocations freed in its heaps, counted in the process's RSS,
until asked to return it: a master that judged three full replica reports of a million chunks
kept ~250 MiB that way. Where the C library has no `malloc_trim` (musl, macOS) this does
nothing."""

from __future__ import annotations

import ctypes
from collections.abc import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim  # the interpreter's libc
    except (OSError, AttributeError):
        return None
    return trim


_TRIM = _malloc_trim()


def give_back() -> bool:
    """Returns the heaps' free pages to the system; False where there is no way to."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
