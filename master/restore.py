"""`gfs restore-master SHADOW_DIR MASTER_DIR`: a new master store from a shadow's, for a
master whose store was lost or damaged (HDFS: bootstrapping a NameNode from its standby's
image). A shadow's store is a master's store as of the last log entry it followed: anything
the master logged after that is not in it (its report says how far behind it was).

The copy is SQLite's online backup, consistent even while the shadow runs; it is checked as
the master checks a store at start before it takes the place of the old one, which is kept
beside it (`master.db.damaged-TIME`), never deleted."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

import click

from common import errors
from common.exclusive import DirectoryLock
from master import image
from master.store import Store
from master.storecheck import StoreDamaged

STORE = "master.db"


def restore(shadow_dir: Path, master_dir: Path, force: bool) -> tuple[int, int, Path | None]:
    """Copies the shadow's store over the master's; returns (log position, entries in the
    namespace, where the old store was kept)."""
    source = shadow_dir / STORE
    if not source.exists():
        raise errors.NotFound(f"no store in {shadow_dir} (a shadow's data directory?)")
    lock = DirectoryLock(master_dir, "master")  # no master may run on it meanwhile
    try:
        target = master_dir / STORE
        if target.exists() and not force and _healthy(target):
            raise errors.AlreadyExists(f"{target} is a healthy store; -f replaces it anyway")
        fresh = master_dir / f"{STORE}.restoring"
        fresh.unlink(missing_ok=True)
        with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(fresh)) as dst:
            src.backup(dst)  # online: consistent even while the shadow writes
        copy = Store(fresh)  # checked as a master checks its store at start
        try:
            seq, entries = copy.last_seq, len(copy.load().nodes)
        finally:
            copy.close()
        kept = None
        if target.exists():
            kept = master_dir / f"{STORE}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"
            target.rename(kept)
        for suffix in ("-wal", "-shm"):  # the old store's, which would be replayed into the new
            old = master_dir / f"{STORE}{suffix}"
            if old.exists():
                old.rename(
                    kept.with_name(kept.name + suffix)
                    if kept
                    else old.with_name(f"{old.name}.orphan")
                )
        for suffix in ("-wal", "-shm"):
            (master_dir / f"{STORE}.restoring{suffix}").unlink(missing_ok=True)
        fresh.rename(target)
        (master_dir / image.NAME).unlink(missing_ok=True)  # the old store's state, not this one's
        return seq, entries, kept
    finally:
        lock.release()


def _healthy(path: Path) -> bool:
    try:
        store = Store(path)
    except StoreDamaged:
        return False
    try:
        store.load()
        return True
    except StoreDamaged:
        return False
    finally:
        store.close()


@click.command("restore-master")
@click.option("-f", "force", is_flag=True, help="Replace the master's store even if healthy.")
@click.argument("shadow_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("master_dir", type=click.Path(file_okay=False, path_type=Path))
def restore_master(shadow_dir: Path, master_dir: Path, force: bool) -> None:
    """Make the master's store (in MASTER_DIR) a copy of a shadow's (in SHADOW_DIR), for a
    master whose store is damaged or lost. Run it with the master stopped."""
    seq, entries, kept = restore(shadow_dir, master_dir, force)
    click.echo(f"the master's store is the shadow's as of log entry {seq} ({entries} entries)")
    if kept is not None:
        click.echo(f"the old store is kept as {kept}")
