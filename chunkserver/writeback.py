"""Starting the kernel's write-back of a file range early, so the disk works while data streams
in (as it does for a writer that passes the kernel's dirty limits) instead of all at once at the
`fdatasync` that makes it durable."""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

_SYNC_FILE_RANGE_WRITE = 2


def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """Linux's sync_file_range (asynchronous: starts write-back, keeps the pages cached)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        function = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
    return function


_function = _sync_file_range()


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Starts writing [offset, offset+length) of `fd` to disk; returns at once. A no-op where
    the call is missing (not Linux)."""
    if _function is not None:
        _function(fd, offset, length, _SYNC_FILE_RANGE_WRITE)
