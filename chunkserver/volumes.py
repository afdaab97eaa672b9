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
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from common import errors
from common.logformat import fields

log = logging.getLogger(__name__)

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
    if len(serving) == 1:  # most servers: no statfs a new replica
        return serving[0]
    return max(serving, key=lambda v: (v.free(), -v.replicas), default=None)


class Volumes:
    """A server's data directories, which of them holds each replica, and those taken out of
    service: once more have failed than `tolerated` (HDFS's
    dfs.datanode.failed.volumes.tolerated), `gave_up` says why and the server stops. A
    directory whose probe took longer than `slow_after` seconds is slow."""

    def __init__(self, paths: Sequence[Path], tolerated: int = 0, slow_after: float = 0.5) -> None:
        self.all = [Volume(path) for path in paths]
        self.tolerated = tolerated
        self.slow_after = slow_after
        self.gave_up = ""  # why, once more directories failed than tolerated
        # Held while a directory is taken out and the store forgets its replicas.
        self.failing = threading.Lock()
        self._lost: set[int] = set()  # replicas gone with a failed directory, not yet told
        self._on: dict[int, Volume] = {}  # where each replica lives

    def __iter__(self) -> Iterator[Volume]:
        return iter(self.all)

    def __getitem__(self, index: int) -> Volume:
        return self.all[index]

    def of(self, handle: int) -> Volume | None:
        return self._on.get(handle)

    def dir_of(self, handle: int) -> Path:
        volume = self._on.get(handle)
        if volume is None:
            raise errors.NotFound(f"no replica of chunk {handle} here")
        return volume.path

    def place(self, handle: int, volume: Volume) -> None:
        """`handle`'s replica is in `volume` (found there at load)."""
        self.unsettle(handle)
        self._on[handle] = volume
        volume.replicas += 1

    def settle(self, handle: int) -> None:
        """Chooses the directory of a new replica: the emptiest that serves."""
        if handle in self._on:
            return
        volume = emptiest(self.all)
        if volume is None:
            raise errors.Unavailable(f"no data directory of this server works ({self.gave_up})")
        self.place(handle, volume)

    def unsettle(self, handle: int) -> None:
        volume = self._on.pop(handle, None)
        if volume is not None:
            volume.replicas -= 1

    def judge(self, handle: int, err: OSError) -> tuple[Volume, str] | None:
        """After `err` on `handle`'s files: its directory and why, if it fails the probe; None
        if the disk still works (the error is the replica's, or the disk is only full)."""
        volume = self._on.get(handle)
        if volume is None or err.errno in FULL:
            return None
        reason = volume.probe()
        return (volume, reason) if reason else None

    def check(self) -> list[tuple[Volume, str]]:
        """Probes every serving directory (a disk may fail while nobody uses it): those that
        failed, and why; logs one turning slow, or fast again."""
        failed = []
        for volume in self.all:
            if not volume.failed:
                reason = volume.probe()
                if reason:
                    failed.append((volume, reason))
                else:
                    self._note_speed(volume)
        return failed

    def _note_speed(self, volume: Volume) -> None:
        slow = volume.slow(self.slow_after)
        if bool(slow) == volume.was_slow:
            return
        volume.was_slow = bool(slow)
        if slow:
            log.warning(
                "data directory %s is slow: %s",
                volume.path,
                slow,
                extra=fields("data_dir_slow", path=str(volume.path)),
            )
        else:
            log.info("data directory %s answers in time again", volume.path)

    def take_out(self, volume: Volume, reason: str) -> list[int] | None:
        """Takes `volume` out of service (the caller holds `failing`); returns the replicas
        that were on it, which the store forgets (None: it was out already)."""
        if volume.failed:
            return None
        volume.failed = reason
        lost = [h for h, v in list(self._on.items()) if v is volume]
        for handle in lost:
            self.unsettle(handle)
        self._lost.update(lost)
        failed = sum(1 for v in self.all if v.failed)
        log.error(
            "data directory %s failed (%s): %d replicas on it are gone from this server",
            volume.path,
            reason,
            len(lost),
            extra=fields("data_dir_failed", path=str(volume.path), replicas=len(lost)),
        )
        if failed > self.tolerated or failed == len(self.all):
            self.gave_up = (
                f"{failed} of {len(self.all)} data directories failed ({self.tolerated} tolerated)"
            )
            log.error("%s: the chunkserver stops", self.gave_up)
        return lost

    def take_lost(self) -> list[int]:
        """The replicas lost since this was last asked (for the next heartbeat)."""
        with self.failing:
            lost, self._lost = sorted(self._lost), set()
        return lost

    def untold(self, lost: list[int]) -> None:
        """`take_lost`'s answer did not reach the master: told with the next heartbeat."""
        with self.failing:
            self._lost.update(lost)

    def failed_dirs(self) -> list[str]:
        """ "PATH: why" of each directory taken out of service."""
        return [f"{v.path}: {v.failed}" for v in self.all if v.failed]

    def slow_dirs(self) -> list[str]:
        """ "PATH: why" of each serving directory whose disk answers slowly."""
        return [f"{v.path}: {why}" for v in self.all if (why := v.slow(self.slow_after))]

    def free(self) -> int:
        """Bytes free on the disks of the serving directories (each disk counted once)."""
        return sum({v.device(): v.free() for v in self.all if not v.failed}.values())
