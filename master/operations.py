"""Namespace operations: each planned by `master.namespace` under the path locks that keep
what it checked from changing, committed, then applied (through `Metadata.commit`). Those that
change chunk rows (deletion for good, snapshots) hold the chunks' locks too."""

from __future__ import annotations

import contextlib
import logging

from common import errors
from common.logformat import fields
from master import namespace, trash
from master.chunkcontrol import ChunkControl
from master.metadata import Metadata
from master.permissions import SUPERUSER, Caller
from master.state import Mutation, PutNode

log = logging.getLogger(__name__)


class NamespaceOperations:
    def __init__(self, meta: Metadata, chunks: ChunkControl) -> None:
        self.meta = meta
        self.chunks = chunks
        self.config = meta.config
        self.moved = meta.config.max_moved  # entries one rename, trash move or snapshot moves

    def mkdir(self, path: str, parents: bool, caller: Caller = SUPERUSER) -> None:
        meta = self.meta
        with meta.paths.hold(write=[path]):
            meta.commit(
                meta.plan(lambda: namespace.mkdir(meta.state, path, parents, meta.clock(), caller))
            )

    def create(self, path: str, caller: Caller = SUPERUSER, replication: int = 0) -> None:
        meta = self.meta
        with meta.paths.hold(write=[path]):
            meta.commit(
                meta.plan(
                    lambda: namespace.create(meta.state, path, meta.clock(), caller, replication)
                )
            )

    def create_many(
        self, files: list[tuple[str, int]], caller: Caller = SUPERUSER
    ) -> list[errors.GfsError | None]:
        """Creates each (path, replication) as `create` would, all in one commit; each file's
        error, or None, in order. A path twice: the second already exists."""
        meta = self.meta
        outcomes: list[errors.GfsError | None] = []
        made: list[Mutation] = []
        with meta.paths.hold(write=[path for path, _ in files]):
            with meta.core:
                now, seen = meta.clock(), set()
                for path, replication in files:
                    try:
                        if path in seen:
                            raise errors.AlreadyExists(f"already exists: {path}")
                        made.append(namespace.create(meta.state, path, now, caller, replication))
                        seen.add(path)
                        outcomes.append(None)
                    except errors.GfsError as err:
                        outcomes.append(err)
            if made:
                meta.commit_all(made)
        return outcomes

    def set_replication(self, path: str, replication: int, caller: Caller = SUPERUSER) -> int:
        """Returns how many files it set; repair then copies or trims their chunks."""
        meta = self.meta
        default = self.config.replication
        with meta.paths.hold(write=[path]):
            mutation = meta.plan(
                lambda: namespace.set_replication(meta.state, path, replication, default, caller)
            )
            meta.commit(mutation)
        files = sum(isinstance(c, PutNode) for c in mutation.changes)
        by = caller.user or "the master"
        log.info(
            "replication of %s set to %d (%d files) by %s",
            path,
            replication,
            files,
            by,
            extra=fields("setrep", path=path, replication=replication, by=by),
        )
        return files

    def rename(self, src: str, dst: str, caller: Caller = SUPERUSER) -> None:
        meta = self.meta
        with meta.paths.hold(write=[src, dst]):
            meta.commit(
                meta.plan(
                    lambda: namespace.rename(meta.state, src, dst, meta.clock(), caller, self.moved)
                )
            )

    def extend(self, path: str, length: int, caller: Caller = SUPERUSER) -> None:
        meta = self.meta
        with meta.paths.hold(write=[path]):
            meta.commit(
                meta.plan(lambda: namespace.extend(meta.state, path, length, meta.clock(), caller))
            )

    def extend_for_primary(self, path: str, handle: int, primary: str, chunk_end: int) -> None:
        meta = self.meta
        size = self.config.chunk_size
        with meta.paths.hold(write=[path]):
            meta.commit(
                meta.plan(
                    lambda: namespace.extend_for_primary(
                        meta.state, path, handle, primary, chunk_end, size, meta.clock()
                    )
                )
            )

    def chmod(self, path: str, mode: int, caller: Caller = SUPERUSER) -> None:
        meta = self.meta
        with meta.paths.hold(write=[path]):
            meta.commit(meta.plan(lambda: namespace.chmod(meta.state, path, mode, caller)))
        by = caller.user or "the master"
        log.info(
            "mode of %s set to %o by %s", path, mode, by, extra=fields("chmod", path=path, by=by)
        )

    def chown(self, path: str, owner: str, group: str, caller: Caller = SUPERUSER) -> None:
        meta = self.meta
        with meta.paths.hold(write=[path]):
            meta.commit(meta.plan(lambda: namespace.chown(meta.state, path, owner, group, caller)))
        by = caller.user or "the master"
        log.info(
            "owner of %s set to %s:%s by %s",
            path,
            owner,
            group,
            by,
            extra=fields("chown", path=path, by=by),
        )

    def _handles_under(self, path: str) -> set[int]:
        with self.meta.core:
            namespace.lookup(self.meta.state, path)
            return {h for n in self.meta.state.subtree(path) for h in n.chunks}

    def delete(
        self, path: str, recursive: bool, skip_trash: bool = False, caller: Caller = SUPERUSER
    ) -> None:
        """Moves `path` to the trash (restorable until `trash_grace` ends), or with
        `skip_trash` (or no grace) deletes it at once."""
        meta = self.meta
        if skip_trash or self.config.trash_grace <= 0:
            # Under the chunks' locks too: their reference counts change, and a copy, lease or
            # version change under way would otherwise write a chunk back after it is gone.
            with (
                meta.paths.hold(write=[path]),
                self.chunks.locks.hold_all(self._handles_under(path)),
            ):
                mutation = meta.plan(lambda: namespace.delete(meta.state, path, recursive, caller))
                meta.commit(mutation)
            log.info(
                "deleted %s for good (%d changes)",
                path,
                len(mutation.changes),
                extra=fields("deleted", path=path),
            )
            return
        now = meta.clock()
        hidden = trash.trash_path(path, now)
        with meta.paths.hold(write=[path, hidden]):
            mutation = meta.plan(
                lambda: trash.move_to_trash(meta.state, path, recursive, now, caller, self.moved)
            )
            meta.commit(mutation)
        trashed = mutation.args.get("as", path)
        log.info(
            "deleted %s (in the trash as %s)",
            path,
            trashed,
            extra=fields("trashed", path=path, trash_path=trashed),
        )

    def undelete(self, path: str, caller: Caller = SUPERUSER) -> None:
        meta = self.meta
        with meta.paths.hold(write=[path, namespace.TRASH]):
            meta.commit(
                meta.plan(
                    lambda: trash.undelete(meta.state, path, meta.clock(), caller, self.moved)
                )
            )
        log.info("restored %s from the trash", path, extra=fields("restored", path=path))

    def purge_trash(self) -> None:
        """Deletes for good what has been in the trash longer than the grace period."""
        meta = self.meta
        with meta.core:
            expired = trash.expired_trash(meta.state, meta.clock(), self.config.trash_grace)
        for hidden in expired:
            with contextlib.suppress(errors.NotFound):  # purged or restored meanwhile
                self.delete(hidden, recursive=True, skip_trash=True)

    def snapshot(self, src: str, dst: str, caller: Caller = SUPERUSER) -> None:
        """Copies `src` (a file or a tree) to `dst` in metadata only (GFS section 3.4): leases
        on its chunks are taken back first, so no write can slip in unseen; chunks are shared
        until one side writes to them. The chunks' locks are held until the new reference
        counts are committed: a copy-on-write or a purge of a chunk shared with another file
        plans on the same rows."""
        meta = self.meta
        with meta.paths.hold(write=[src, dst]):
            with meta.core:  # refused before any lease is taken back
                namespace.check_snapshot(meta.state, src, dst, caller)
            handles = self._handles_under(src)
            with self.chunks.locks.hold_all(handles):
                for handle in sorted(handles):
                    chunk = meta.chunk(handle)
                    assert chunk is not None  # held by src, under its lock
                    self.chunks.leasing.stop_primary(chunk, f"snapshot of {src}")
                meta.commit(
                    meta.plan(
                        lambda: namespace.snapshot(
                            meta.state, src, dst, meta.clock(), caller, self.moved
                        )
                    )
                )
        log.info(
            "snapshot of %s taken as %s (%d chunks shared)",
            src,
            dst,
            len(handles),
            extra=fields("snapshot", path=src, copy=dst),
        )
