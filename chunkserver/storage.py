"""Chunk replicas on local disk.

Each replica is `<handle>.chunk` (the bytes) beside `<handle>.meta` (version, length and one
CRC32C per 64 KiB block: chunkserver/metafile.py). A mutation writes and syncs the data first,
then the metadata, which a crash at any instant leaves either as it was or as it became, so it
never claims a byte the data file lacks: bytes past the recorded length are ignored, and an
overwrite cut short fails its checksum (reported as corrupt, never returned).

Replicas may be spread over several directories (chunkserver/volumes.py): a new one goes to the
emptiest; a directory whose disk fails is taken out with every replica on it, and once more
have failed than are tolerated the store gives up (`volumes.gave_up`), and the server stops.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from chunkserver import metafile, replicafiles
from chunkserver.changes import Changes
from chunkserver.checksum import BLOCK, block_crcs, crc
from chunkserver.metafile import ReplicaMeta, Slots
from chunkserver.metrics import CHECKSUM_FAILURES
from chunkserver.staging import Staging
from chunkserver.volumes import Volume, Volumes
from common import errors, limits
from common.durable import fsync_dir, pwrite_all, replace_files
from common.keyedlocks import KeyedLocks

log = logging.getLogger(__name__)


class CorruptReplica(errors.DataLoss):
    def __init__(self, handle: int, detail: str) -> None:
        super().__init__(f"replica of chunk {handle} is corrupt: {detail}")
        self.handle = handle


class ChunkStore:
    """Invariant: `metas[h]` is what `<h>.meta` on disk says, and `<h>.chunk` holds at least
    `metas[h].length` bytes whose blocks match `metas[h].crcs` unless `h` is in `corrupt`. Past
    that length it may hold a push being staged (`_staged[h]`), claimed by nothing yet."""

    def __init__(
        self,
        directories: Path | Sequence[Path],
        max_chunk_size: int,
        tolerated: int = 0,
        slow_after: float = 0.5,
    ) -> None:
        """`directories`: where replicas live; `tolerated`: how many of them may fail before
        the store gives up (HDFS's dfs.datanode.failed.volumes.tolerated); `slow_after`: the
        seconds past which a directory's probe makes it slow."""
        paths = [directories] if isinstance(directories, Path) else list(directories)
        self.volumes = Volumes(paths, tolerated, slow_after)
        self.max_chunk_size = max_chunk_size
        self.metas: dict[int, ReplicaMeta] = {}
        self.corrupt: set[int] = set()
        # Appends' record ids and the offsets they landed at, one `<h>.ids` file per replica.
        self.record_ids: dict[int, dict[str, int]] = {}
        self._written: dict[int, float] = {}  # handle -> monotonic time of its last change
        self._staged: dict[int, Staging] = {}  # a push placed past the replica's end, if any
        self._slots: dict[int, Slots] = {}  # where each replica's metadata file stands
        self._locks: KeyedLocks[int] = KeyedLocks()
        self._loaded_at = time.monotonic()
        self.changes = Changes()  # replicas changed since the master's last report of them
        self._used = 0  # the sum of `metas`' lengths, kept as they change (not summed a beat)
        self._used_lock = threading.Lock()
        self._load()

    def _dir(self, handle: int) -> Path:
        return self.volumes.dir_of(handle)

    def _data(self, handle: int) -> Path:
        return self._dir(handle) / f"{handle}.chunk"

    def _meta(self, handle: int) -> Path:
        return self._dir(handle) / f"{handle}.meta"

    def _ids(self, handle: int) -> Path:
        return self._dir(handle) / f"{handle}.ids"

    # --- failed directories -----------------------------------------------------------------

    def _disk_error(self, handle: int, err: OSError) -> errors.GfsError | None:
        """After `err` on `handle`'s files: if its directory fails the probe, the directory is
        taken out (fail) and this says so, to be raised; None if the disk still works (the
        error is the replica's, or the disk is only full)."""
        failed = self.volumes.judge(handle, err)
        if failed is None:
            return None
        volume, reason = failed
        self.fail(volume, reason)
        return errors.Unavailable(f"data directory {volume.path} failed: {reason}")

    def _failure(self, handle: int, err: OSError, doing: str) -> errors.GfsError:
        """What to answer for `err`, met trying to `doing` chunk `handle`: its directory failed
        (Unavailable), else no room or no way (ResourceExhausted, as a full disk)."""
        return self._disk_error(handle, err) or errors.ResourceExhausted(
            f"cannot {doing} chunk {handle}: {err.strerror or err}"
        )

    def _unreadable(self, handle: int, err: OSError) -> errors.GfsError:
        """A replica that cannot be read on a disk that works is corrupt (a bad sector, a
        missing file): it is reported, and copied anew by the master."""
        failure = self._disk_error(handle, err)
        if failure is not None:
            return failure
        self._found_corrupt(handle)
        if isinstance(err, FileNotFoundError):
            return CorruptReplica(handle, "data file is missing")
        return CorruptReplica(handle, f"unreadable ({err.strerror or err})")

    def check_volumes(self) -> None:
        """Probes every serving directory (a disk may fail while nobody uses it)."""
        for volume, reason in self.volumes.check():
            self.fail(volume, reason)

    def fail(self, volume: Volume, reason: str) -> None:
        """Takes `volume` out of service: its replicas are forgotten (not reported, never
        served), so the master copies them elsewhere."""
        with self.volumes.failing:
            lost = self.volumes.take_out(volume, reason)
            if lost is None:
                return  # out of service already
            for handle in lost:
                staging = self._staged.pop(handle, None)
                if staging is not None:
                    staging.close()
                self._set_meta(handle, None)
                self.corrupt.discard(handle)
                self.record_ids.pop(handle, None)
                self._slots.pop(handle, None)
            self.changes.mark_all(lost)

    def length(self, handle: int) -> int:
        """How many bytes the replica holds (the caller holds `lock(handle)`)."""
        meta = self.metas.get(handle)
        if meta is None:
            raise errors.NotFound(f"no replica of chunk {handle} here")
        return meta.length

    def ids_of(self, handle: int) -> dict[str, int]:
        """The append ids recorded in the replica, with the offsets they landed at."""
        return dict(self.record_ids.get(handle, {}))

    def recorded(self, handle: int, record_id: str) -> int | None:
        """Where an append with this id landed on this replica, if it was applied here."""
        return self.record_ids.get(handle, {}).get(record_id)

    def record(self, handle: int, record_id: str, offset: int) -> None:
        """Durably notes that the append `record_id` landed at `offset` (after its data).
        The caller holds `lock(handle)`."""
        self.record_many(handle, [(record_id, offset)])

    def record_many(self, handle: int, landed: Sequence[tuple[str, int]]) -> None:
        """`record` for several appends, with one sync."""
        try:
            replicafiles.add_ids(self._ids(handle), landed)
        except OSError as err:
            raise self._failure(handle, err, "note the appends to") from None
        self.record_ids.setdefault(handle, {}).update(landed)

    def _load(self) -> None:
        for volume in self.volumes:
            try:
                volume.path.mkdir(parents=True, exist_ok=True)
                reason = volume.probe()
                if not reason:
                    self._load_volume(volume)
            except OSError as err:
                reason = err.strerror or str(err)
            if reason:
                self.fail(volume, reason)
        if self.volumes.gave_up:
            raise errors.FailedPrecondition(f"cannot start: {self.volumes.gave_up}")

    def _load_volume(self, volume: Volume) -> None:
        for found in replicafiles.scan(volume.path):
            handle = found.handle
            if not self._keep_newer(handle, found.meta, volume):
                continue
            self._slots[handle] = found.slots
            self._set_meta(handle, found.meta)
            if found.ids:
                self.record_ids[handle] = found.ids
            if found.corrupt:
                self.corrupt.add(handle)
        log.info("loaded %d replicas from %s", volume.replicas, volume.path)

    def _keep_newer(self, handle: int, meta: ReplicaMeta, volume: Volume) -> bool:
        """Settles a loaded replica in `volume`, unless another directory holds a newer one of
        the same chunk (a directory that failed, came back, and whose replicas were copied
        here meanwhile): the older one's files are removed."""
        other = self.metas.get(handle)
        if other is not None:
            held = self.volumes.of(handle) or volume
            older = volume if meta.version <= other.version else held
            log.warning("chunk %d is in two data directories; removing the older", handle)
            for suffix in ("chunk", "meta", "ids"):
                (older.path / f"{handle}.{suffix}").unlink(missing_ok=True)
            if older is volume:
                return False
            self.corrupt.discard(handle)
            self.record_ids.pop(handle, None)
        self.volumes.place(handle, volume)
        return True

    def lock(self, handle: int) -> contextlib.AbstractContextManager[None]:
        """The replica's lock: held by every change of it (and by a read of a file a change
        may be rewriting)."""
        return self._locks.hold(handle)

    def _require(self, handle: int, version: int) -> ReplicaMeta:
        meta = self.metas.get(handle)
        if meta is None:
            raise errors.NotFound(f"no replica of chunk {handle} here")
        if meta.version != version:
            raise errors.StaleReplica(
                f"replica of chunk {handle} is at version {meta.version}, not {version}"
            )
        if handle in self.corrupt:
            raise CorruptReplica(handle, "failed verification earlier")
        return meta

    def _set_meta(self, handle: int, meta: ReplicaMeta | None) -> None:
        """Records (None: forgets) the replica's metadata in memory, and the bytes it holds."""
        with self._used_lock:
            old = self.metas.pop(handle, None) if meta is None else self.metas.get(handle)
            self._used += (meta.length if meta else 0) - (old.length if old else 0)
            if meta is not None:
                self.metas[handle] = meta

    def _save_meta(self, handle: int, meta: ReplicaMeta) -> None:
        try:
            self._slots[handle] = metafile.save(
                self._meta(handle), meta, self._slots.get(handle, Slots()), self.max_chunk_size
            )
        except OSError as err:
            raise self._failure(handle, err, "record") from None
        self._set_meta(handle, meta)
        self._written[handle] = time.monotonic()
        self.changes.mark(handle)

    def set_version(self, handle: int, version: int, create: bool) -> None:
        limits.check_handle(handle)
        limits.check_version(version)
        with self.lock(handle):
            meta = self.metas.get(handle)
            if meta is None:
                if not create:
                    raise errors.NotFound(f"no replica of chunk {handle} here")
                self._create([handle], version)
                return
            if version < meta.version:
                raise errors.FailedPrecondition(
                    f"chunk {handle} is at version {meta.version}; refusing to go back to {version}"
                )
            self._save_meta(handle, ReplicaMeta(version, meta.length, meta.crcs))

    def create(self, handles: Sequence[int], version: int) -> None:
        """Empty replicas of new chunks at `version` (the master's pool of new chunks), all
        durable when it returns, or none kept. Refused whole if one is here already."""
        if len(handles) > limits.MAX_CREATED or len(set(handles)) != len(handles):
            raise errors.InvalidArgument(
                f"at most {limits.MAX_CREATED} distinct new replicas a call, not {len(handles)}"
            )
        for handle in handles:
            limits.check_handle(handle)
        limits.check_version(version)
        with self._locks.hold_all(handles):
            here = [h for h in handles if h in self.metas]
            if here:
                raise errors.FailedPrecondition(f"chunk {here[0]} has a replica here already")
            self._create(handles, version)

    def _create(self, handles: Sequence[int], version: int) -> None:
        """Makes empty replicas of `handles` (none held here; the caller holds their locks):
        durable at once, since a replica the master counts must survive a restart, written to
        or not (an empty chunk lost on every server would be missing for good). The data files
        are synced before the metadata that makes them replicas is in place (see
        replicafiles.scan): two rounds of syncs and one sync of each directory, however many."""
        made: list[int] = []
        try:
            try:
                for handle in handles:
                    self.volumes.settle(handle)
                    made.append(handle)
                    with open(self._data(handle), "wb") as f:
                        os.fsync(f.fileno())
            except OSError as err:
                raise self._failure(made[-1], err, "create") from None
            metas = [ReplicaMeta(version, 0) for _ in handles]
            images = [metafile.whole(m, Slots(), self.max_chunk_size) for m in metas]
            try:
                replace_files(
                    (self._meta(h), [image]) for h, (image, _) in zip(handles, images, strict=True)
                )
            except OSError as err:
                raise self._failure(handles[0], err, "record") from None
        except errors.GfsError:
            for handle in made:
                with contextlib.suppress(OSError, errors.NotFound):
                    self._data(handle).unlink(missing_ok=True)
                self.volumes.unsettle(handle)
            raise
        now = time.monotonic()
        for handle, meta, (_, slots) in zip(handles, metas, images, strict=True):
            self._slots[handle] = slots
            self._set_meta(handle, meta)
            self._written[handle] = now
            self.changes.mark(handle)

    def _read_verified(self, handle: int, meta: ReplicaMeta, f: int, start: int, end: int) -> bytes:
        """Bytes [start, end) of the replica, after verifying every block they touch."""
        if end <= start:
            return b""
        first, last = start // BLOCK, (end - 1) // BLOCK
        lo, hi = first * BLOCK, min(meta.length, (last + 1) * BLOCK)
        raw = os.pread(f, hi - lo, lo)
        if len(raw) != hi - lo:
            self._found_corrupt(handle)
            raise CorruptReplica(handle, "data file is shorter than its metadata")
        for i, block in enumerate(range(first, last + 1)):
            piece = raw[i * BLOCK : (i + 1) * BLOCK]
            if crc(piece) != meta.crcs[block]:
                self._found_corrupt(handle)
                raise CorruptReplica(handle, f"checksum mismatch in block {block}")
        return raw[start - lo : end - lo]

    def _found_corrupt(self, handle: int) -> None:
        if handle not in self.corrupt:
            CHECKSUM_FAILURES.inc()
        self.corrupt.add(handle)
        self.changes.mark(handle)

    def write(self, handle: int, version: int, offset: int, data: bytes | bytearray) -> int:
        """Writes `data` at `offset` (a gap past the end reads as zeros); returns the new length.
        The caller holds `lock(handle)`."""
        meta = self._require(handle, version)
        if not data:
            return meta.length
        self._unstage(handle)
        end = offset + len(data)
        if offset < 0 or end > self.max_chunk_size:
            raise errors.InvalidArgument(
                f"write [{offset}, {end}) is outside a chunk of {self.max_chunk_size} bytes"
            )
        old = meta.length
        first_block = offset // BLOCK
        start_block = first_block if offset <= old else min(first_block, old // BLOCK)
        start = start_block * BLOCK
        region_end = max(end, min(old, -(-end // BLOCK) * BLOCK))
        try:
            fd = os.open(self._data(handle), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise self._failure(handle, err, "write") from None
        try:
            prefix = self._read_verified(handle, meta, fd, start, min(offset, old))
            suffix = (
                self._read_verified(handle, meta, fd, end, region_end) if region_end > end else b""
            )
            region = b"".join((prefix, bytes(max(0, offset - old)), data, suffix))
            pwrite_all(fd, region, start)
            os.fdatasync(fd)
        except OSError as err:
            raise self._failure(handle, err, "write") from None
        finally:
            os.close(fd)
        new_length = max(old, end)
        crcs = (
            meta.crcs[:start_block]
            + block_crcs(region)
            + meta.crcs[start_block + -(-len(region) // BLOCK) :]
        )
        self._save_meta(handle, ReplicaMeta(version, new_length, crcs))
        return new_length

    def stage(self, handle: int, data_id: str, offset: int, now: float) -> Staging | None:
        """Starts placing push `data_id`, meant for `offset` of the replica (-1: a record
        append, at its end), straight into its file (see chunkserver.staging), if that offset is
        the replica's end and no other push is placed there; None if not (it is only spooled).
        A replica that is empty takes its first push whole, by rename (`install`)."""
        if handle not in self.metas:
            return None  # (no lock made for a handle a client named at random)
        with self._locks.try_hold(handle) as free:
            if not free:
                return None  # a mutation is under way: the end is moving
            meta = self.metas.get(handle)
            if meta is None or handle in self.corrupt or meta.length == 0:
                return None
            end = meta.length
            if offset not in (-1, end):
                return None
            current = self._staged.get(handle)
            if current is not None:
                if not current.stale(now):
                    return None
                self._unstage(handle)
            try:
                fd = os.open(self._data(handle), os.O_RDWR)
            except OSError:
                return None
            try:
                head = self._read_verified(handle, meta, fd, end - end % BLOCK, end)
            except (OSError, CorruptReplica):
                os.close(fd)
                return None
            staging = Staging(handle, data_id, fd, end, head, self.max_chunk_size, now)
            self._staged[handle] = staging
            return staging

    def unstage(self, staging: Staging) -> None:
        """Gives up a staging whose push failed."""
        with self.lock(staging.handle):
            if self._staged.get(staging.handle) is staging:
                self._unstage(staging.handle)
            else:
                staging.close()

    def _unstage(self, handle: int) -> None:
        """Ends the replica's staging before anything else changes its file (the caller holds
        `lock(handle)`), trimming what it placed past the end: it claims nothing, but holds
        disk space."""
        staging = self._staged.pop(handle, None)
        if staging is not None and staging.close():
            self._trim(handle)

    def _trim(self, handle: int) -> None:
        if handle in self.metas:
            try:
                os.truncate(self._data(handle), self.metas[handle].length)
            except OSError as err:
                log.warning("cannot trim chunk %d's unused staged bytes: %s", handle, err)

    def commit_staged(
        self, handle: int, version: int, offset: int, data_id: str, size: int
    ) -> int | None:
        """Applies push `data_id` of `size` bytes at `offset` if `stage` placed it there whole
        (the caller holds `lock(handle)`): syncs what is in the file already and records it;
        returns the new length. None if it was not placed (the caller writes it from the spool).
        """
        staging = self._staged.get(handle)
        if staging is None or not staging.holds(data_id, offset, size):
            return None
        meta = self._require(handle, version)
        if meta.length != offset:  # never: a mutation that moved the end ended the staging
            return None
        del self._staged[handle]
        try:
            staging.sync()
        except OSError as err:
            self._trim(handle)
            raise self._failure(handle, err, "write") from None
        crcs = meta.crcs[: offset // BLOCK] + staging.crcs.total()
        self._save_meta(handle, ReplicaMeta(version, offset + size, crcs))
        return offset + size

    def install(
        self, handle: int, version: int, source: Path, length: int, crcs: tuple[int, ...]
    ) -> int:
        """Replaces the whole replica with the file `source` (`length` bytes, checksummed as
        `crcs`), which must cover everything the replica holds now; returns the new length.
        The caller holds `lock(handle)`."""
        meta = self._require(handle, version)
        if length < meta.length or length > self.max_chunk_size:
            raise errors.InvalidArgument(f"cannot install {length} bytes over chunk {handle}")
        self._place(handle, version, source, length, crcs)
        return length

    def adopt(
        self,
        handle: int,
        version: int,
        source: Path,
        length: int,
        crcs: tuple[int, ...],
        record_ids: dict[str, int],
    ) -> None:
        """Makes the file `source` this server's replica of `handle` at `version`, with the
        appends' record ids it holds, whatever was here before (a stale or corrupt replica):
        how a verified copy is kept."""
        limits.check_handle(handle)
        limits.check_version(version)
        for record_id in record_ids:
            limits.check_record_id(record_id)
        if length > self.max_chunk_size:
            raise errors.InvalidArgument(f"a copy of {length} bytes cannot be a chunk")
        with self.lock(handle):
            self.volumes.settle(handle)
            try:
                replicafiles.replace_ids(self._ids(handle), record_ids)
                self.record_ids[handle] = dict(record_ids)
                self._place(handle, version, source, length, crcs)
            except (OSError, errors.GfsError) as err:
                # Half a copy (data without its metadata, or a replica it was replacing) is
                # no replica: nothing of it stays to be reported or left on disk.
                failure = (
                    self._failure(handle, err, "keep the copy of")
                    if isinstance(err, OSError)
                    else err
                )
                source.unlink(missing_ok=True)
                if self.volumes.of(handle) is not None:  # (not if its directory failed)
                    with contextlib.suppress(errors.GfsError):
                        self._drop(handle)
                raise failure from None
            self.corrupt.discard(handle)

    def _place(
        self, handle: int, version: int, source: Path, length: int, crcs: tuple[int, ...]
    ) -> None:
        """Syncs `source`, renames it into place as the data, then writes the metadata. A
        source on another disk than the replica's directory (the spool is on the first) is
        copied there first."""
        self._unstage(handle)
        try:
            target = self._data(handle)
            if source.stat().st_dev != target.parent.stat().st_dev:
                copy = target.parent / f"{handle}.chunk.tmp"
                shutil.copyfile(source, copy)
                source.unlink()
                source = copy
            fd = os.open(source, os.O_RDONLY)
            try:
                os.fdatasync(fd)
            finally:
                os.close(fd)
            os.replace(source, target)
        except OSError as err:
            raise self._failure(handle, err, "write") from None
        self._save_meta(handle, ReplicaMeta(version, length, list(crcs)))

    def info(self, handle: int, version: int) -> ReplicaMeta:
        """The replica's recorded version, length and checksums."""
        with self.lock(handle):
            return self._require(handle, version)

    def peek(self, handle: int, version: int, offset: int, length: int) -> bytes:
        """Bytes [offset, offset+length) of the replica, verified; past its end, zeros (what a
        gap reads as). The caller holds `lock(handle)`."""
        meta = self._require(handle, version)
        end = min(offset + length, meta.length)
        try:
            fd = os.open(self._data(handle), os.O_RDONLY)
            try:
                data = self._read_verified(handle, meta, fd, offset, end)
            finally:
                os.close(fd)
        except OSError as err:
            raise self._unreadable(handle, err) from None
        return data + bytes(length - len(data))

    def read(
        self, handle: int, version: int, offset: int, length: int, piece: int
    ) -> Iterator[bytes]:
        """Yields the verified bytes [offset, offset+length) clipped to the replica, in pieces of
        about `piece` bytes. A mismatch raises CorruptReplica and marks the replica corrupt."""
        with self.lock(handle):
            meta = self._require(handle, version)
        end = min(offset + length, meta.length)
        piece = max(BLOCK, piece - piece % BLOCK)
        pos = offset
        while pos < end:
            stop = min(end, (pos // BLOCK) * BLOCK + piece)
            # Under the lock, and through a descriptor opened under it: a concurrent write or
            # install (which renames a new file into place) never mixes with this check.
            with self.lock(handle):
                meta = self._require(handle, version)
                try:
                    fd = os.open(self._data(handle), os.O_RDONLY)
                    try:
                        chunk = self._read_verified(handle, meta, fd, pos, min(stop, meta.length))
                    finally:
                        os.close(fd)
                except OSError as err:
                    raise self._unreadable(handle, err) from None
            if not chunk:
                return
            yield chunk
            pos += len(chunk)

    def delete(self, handle: int, max_version: int) -> bool:
        """Removes the replica if its version is at most `max_version`."""
        return bool(self.delete_many([(handle, max_version)]))

    def delete_many(self, removals: Iterable[tuple[int, int]]) -> list[int]:
        """Removes each replica (handle, max_version) whose version is at most max_version;
        returns the handles removed. Each directory is synced once, after all of them: a
        removal a crash undoes is asked for again (the master lists a replica it does not
        know for removal), and a sync per replica made a thousand removals take seconds."""
        removed, directories = [], set()
        try:
            for handle, max_version in removals:
                with self.lock(handle):
                    meta = self.metas.get(handle)
                    if meta is None or meta.version > max_version:
                        continue
                    try:
                        directories.add(self._drop(handle, sync=False))
                    except errors.GfsError as err:  # its disk failed: reported with it
                        log.warning("could not remove replica of chunk %d: %s", handle, err)
                        continue
                removed.append(handle)
        finally:
            for directory in directories:
                try:
                    fsync_dir(directory)
                except OSError as err:
                    log.warning("could not sync %s after removing replicas: %s", directory, err)
        return removed

    def _drop(self, handle: int, sync: bool = True) -> Path:
        """Removes every file of the replica and forgets it; returns its directory (synced
        unless `sync` is false). The caller holds `lock(handle)`."""
        self._unstage(handle)
        directory = self._dir(handle)
        try:
            for name in ("meta", "chunk", "ids", "meta.tmp", "ids.tmp", "chunk.tmp"):
                (directory / f"{handle}.{name}").unlink(missing_ok=True)
            if sync:
                fsync_dir(directory)
        except OSError as err:
            raise self._failure(handle, err, "remove") from None
        self.record_ids.pop(handle, None)
        self._set_meta(handle, None)
        self._slots.pop(handle, None)
        self.corrupt.discard(handle)
        self.volumes.unsettle(handle)
        self.changes.mark(handle)
        return directory

    def written_at(self) -> dict[int, float]:
        """When each replica last changed (loaded ones: at load), for the scrubber."""
        return {h: self._written.get(h, self._loaded_at) for h in list(self.metas)}

    def reports(self) -> list[tuple[int, int, int]]:
        """(handle, version, length) of every healthy replica."""
        return [
            (h, m.version, m.length) for h, m in list(self.metas.items()) if h not in self.corrupt
        ]

    def reports_of(self, handles: Iterable[int]) -> tuple[list[tuple[int, int, int]], list[int]]:
        """Of `handles`: (handle, version, length) of each healthy replica, and those gone."""
        present, gone = [], []
        for handle in sorted(handles):
            meta = self.metas.get(handle)
            if meta is None:
                gone.append(handle)
            elif handle not in self.corrupt:
                present.append((handle, meta.version, meta.length))
        return present, gone

    def usage(self) -> tuple[int, int]:
        """(bytes used by replicas, bytes free on the disks of the serving directories)."""
        return self._used, self.volumes.free()
