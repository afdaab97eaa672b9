"""Files replaced whole and durably: written beside the old one, synced, renamed over it, and
the directory synced, so a crash leaves either the old file or the new one, never a part. And
bytes written in place whole, or failing with the disk's own reason."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path


def replace_file(path: Path, parts: Iterable[bytes | bytearray]) -> None:
    """Makes `path` hold `parts`, one after another, or (on a crash or error) what it held."""
    replace_files([(path, parts)])


def replace_files(files: Iterable[tuple[Path, Iterable[bytes | bytearray]]]) -> None:
    """`replace_file` for several files at once: each written and synced beside its old self,
    then all renamed, then each directory synced once. A crash leaves each file old or new."""
    done: list[tuple[Path, Path]] = []
    try:
        for path, parts in files:
            tmp = path.with_name(path.name + ".tmp")
            done.append((tmp, path))
            with open(tmp, "wb") as f:
                for part in parts:
                    f.write(part)
                f.flush()
                os.fsync(f.fileno())
        for tmp, path in done:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in done:
            tmp.unlink(missing_ok=True)
        raise
    for directory in {path.parent for _, path in done}:
        fsync_dir(directory)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def pwrite_all(fd: int, data: bytes | bytearray, offset: int) -> None:
    """Writes all of `data` at `offset` of `fd`. A disk that fills up takes part of a write and
    refuses the rest: that refusal (ENOSPC) is raised, not a count of bytes short."""
    view = memoryview(data)
    done = 0
    while done < len(view):
        wrote = os.pwrite(fd, view[done:], offset + done)
        if not wrote:  # (a regular file never takes nothing without saying why)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        done += wrote
