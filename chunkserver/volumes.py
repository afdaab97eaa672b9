"""A chunkserver's data directories (`--data-dir`, repeatable: HDFS's volumes) and whether
each still works.

A directory whose disk fails (EIO, remounted read-only, unmounted, removed) is taken out of
service: the store forgets the replicas on it, so heartbeats stop reporting them and the master
copies them elsewhere, while the server keeps serving from the rest. A disk error is judged by
a probe (write, sync, read back and remove a small file), as HDFS's disk checker does: one
unreadable replica file is that replica's fault (corrupt), a directory that fails the probe is
the disk's. A full disk is neither. A directory whose last probe took longer than the server's
`--slow-disk-ms` is reported slow (readers then prefer the server's peers), not taken out.
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
PROBE = ".probe.tmp"  # a *.tmp: a crash that leaves it is cleaned at load


@dataclass
class Volume:
    path: Path  # the directory replicas live in
    failed: str = ""  # why it was taken out of service ("": it serves)
    replicas: int = 0  # how many the store keeps here
    probe_seconds: float = 0.0  # how long its last probe took (a slow disk's tell)
    was_slow: bool = False  # as last logged
    # One probe at a time (the periodic check and a request's disk error may both ask).
    _probing: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def probe(self) -> str:
        """ "" if the directory takes a small file (written, synced, read back, removed) or is
        only full; otherwise why not."""
        with self._probing:
            started = time.monotonic()
            try:
                return self._probe()
            finally:
                self.probe_seconds = time.monotonic() - started

    def _probe(self) -> str:
        probe = self.path / PROBE
        try:
            if not self.path.is_dir():
                return "the directory is gone (unmounted or removed)"
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, b"probe")
                os.fsync(fd)
            finally:
                os.close(fd)
            if probe.read_bytes() != b"probe":
                return "a probe file read back different bytes"
            probe.unlink()
        except OSError as err:
            if err.errno in FULL:
                return ""
            return err.strerror or str(err)
        return ""

    def slow(self, after: float) -> str:
        """Why it counts as slow (its last probe took longer than `after` seconds), or ""."""
        if self.failed or self.probe_seconds <= after:
            return ""
        return f"a probe took {self.probe_seconds * 1000:.0f} ms"

    def free(self) -> int:
        try:
            return shutil.disk_usage(self.path).free
        except OSError:
            return 0

    def device(self) -> int:
        """The filesystem it is on (two directories on one disk share their free space)."""
        try:
            return self.path.stat().st_dev
        except OSError:
            return -1


def emptiest(volumes: list[Volume]) -> Volume | None:
    """The serving volume a new replica goes to: the one with the most free space, and among
    directories on one disk, the one with the fewest replicas. None if none serves."""
    serving = [v for v in volumes if not v.failed]
    return max(serving, key=lambda v: (v.free(), -v.replicas), default=None)
