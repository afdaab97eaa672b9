"""Durable master state in SQLite (through sqlite-utils).

Tables (tables.py): `nodes` and `chunks` (the checkpoint), `meta` (the handle counter; which
image file is this state, `image.py`), and `oplog`, one row per mutation, written in the same
transaction as the rows it changes. `commit` returns only after that transaction is durable
(WAL with synchronous=FULL).

Group commit: every mutation that arrives while a transaction is being synced waits for the next
one, so concurrent operations share a single fsync. There is no writer thread: the first waiter
leads, committing everything queued in one transaction, then hands the lead to the next waiter.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlite_utils

from common import errors, memory
from common.grouping import Groups
from master import storecheck, tables
from master.logtail import LogTail
from master.metrics import COMMIT_GROUP, COMMIT_SECONDS
from master.rows import CHECKPOINT_OP, EPOCH_OP, LogEntry, change_from_json, change_json
from master.state import MasterState, Mutation
from master.storecheck import StoreDamaged


def _refusal(err: BaseException) -> BaseException:
    """A write SQLite could not make, as the caller's one-line error (the transaction rolled
    back: nothing of the mutation was applied, in the store or in memory)."""
    if not isinstance(err, sqlite3.OperationalError):
        return err
    if "full" in str(err):
        return errors.ResourceExhausted(f"the master's disk is full; nothing was changed ({err})")
    return errors.Unavailable(f"the master's store cannot be written; nothing was changed ({err})")


class Store:
    """One SQLite connection. Mutations are written by one leader at a time; reads of the log
    take the same lock."""

    def __init__(self, path: Path) -> None:
        """Opens (or makes) the store at `path`; StoreDamaged if SQLite cannot. SQLite's own
        check of the whole file runs meanwhile (a million files: ~1 s, the GIL released):
        `checked` waits for it, and loading does."""
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            tables.create(self.db)
        except sqlite3.DatabaseError as err:
            conn.close()
            raise StoreDamaged(path, str(err)) from None
        self._lock = threading.Lock()
        self.transactions = 0  # durable transactions so far (each one fsync)
        self._commits: Groups[None, list[Mutation], int] = Groups(self._write_batch, self._behind)
        self.tail = LogTail()
        self.appended = threading.Condition()
        self.last_seq = self.log_bounds()[1]
        # Entries handed to followers while still being made durable (`publish_early`): the
        # newest such, and whom to tell when they could not be.
        self._published = self.last_seq
        self._on_lost: Callable[[str], None] | None = None
        self._followers_hold: Callable[[int], object] | None = None
        self._lost_entries: str | None = None  # set once: nothing is logged here after
        self.log_epoch = tables.recorded(self.db.conn, "log_epoch") or 0  # the newest entry's term
        self.image = self._recorded_image()
        # Begun once this connection wrote what it writes at open (the tables of a new store):
        # started beside those writes, a new store's check met "database is locked".
        self._check = storecheck.Check(path)

    def checked(self) -> None:
        """Returns once SQLite's check of the store (begun at open) passed; StoreDamaged if
        it found damage."""
        problem = self._check.problem()
        if problem is not None:
            raise StoreDamaged(self.path, problem)

    def _recorded_image(self) -> tuple[int, int] | None:
        """(token, log entry) of the image of this store's state last written (`image.py`)."""
        rows = dict(
            self.db.execute("SELECT key, value FROM meta WHERE key IN ('image', 'image_seq')")
        )
        if "image" not in rows or "image_seq" not in rows:
            return None
        return int(rows["image"]), int(rows["image_seq"])

    def note_image(self, token: int, seq: int) -> None:
        """Records that the image with `token`, as of entry `seq`, is this store's state: an
        image another store's (a restored copy) or an older one has another token."""
        with self._lock, self.db.atomic():
            tables.note(self.db.conn, "image", token)
            tables.note(self.db.conn, "image_seq", seq)
        self.image = (token, seq)

    def load_next_handle(self) -> int:
        return tables.recorded(self.db.conn, "next_handle") or 1

    def load(self) -> MasterState:
        """The state the tables hold; StoreDamaged if a row cannot be read or the whole breaks
        an invariant (`storecheck`): never half a namespace."""
        self.checked()
        try:
            with memory.built_to_last():
                state, handles_recorded = tables.read_state(self.db.conn)
        except (sqlite3.DatabaseError, ValueError, KeyError, TypeError) as err:
            raise StoreDamaged(self.path, f"{type(err).__name__}: {err}") from None
        problem = storecheck.state_problem(state, handles_recorded=handles_recorded)
        if problem is not None:
            raise StoreDamaged(self.path, problem)
        return state

    def commit(self, mutation: Mutation) -> int:
        """Makes the mutation durable: its log entry and the rows it changes in one transaction,
        shared with whatever else is committed at the same moment. Returns the entry's sequence
        number (0 for a mutation that changes nothing, which is not logged)."""
        return self.commit_all([mutation])

    def commit_all(self, mutations: list[Mutation]) -> int:
        """Makes the mutations durable together, as `commit` does one (all or none of them):
        returns the last one's sequence number, 0 if none changes anything."""
        mutations = [m for m in mutations if m.changes]
        if not mutations:
            return 0
        try:
            seq: int = self._commits.submit(None, mutations)
        except sqlite3.OperationalError as err:
            raise _refusal(err) from None
        return seq

    @contextlib.contextmanager
    def _behind(self, _: None) -> Iterator[None]:
        """Entered by a group's leader before it takes its batch (`publish_early`)."""
        if self._followers_hold is not None:
            self._followers_hold(self.head(durable=False))
        yield

    def publish_early(
        self,
        on_lost: Callable[[str], None],
        followers_hold: Callable[[int], object] | None = None,
    ) -> None:
        """From now on a group commit hands its entries to named followers (`read_log` and
        `wait_for_entries` with `durable=False`) once they are written, while its
        transaction is still being made durable: a master answering only what a majority of
        its replicas hold then waits for its own sync and a follower's at the same time, not
        one after the other (Raft's leader writes to its disk in parallel with its
        followers likewise). Followers may so hold entries this store lost when the sync
        failed: `on_lost(reason)` is then told, and must end this master's term; this store
        logs nothing more (an entry logged after could take a lost one's number).

        `followers_hold(seq)`, if given, returns once the followers a change waits for hold
        entry `seq` (or after a short while): each group's leader first waits so for the
        group before its own, and the changes arriving meanwhile join its group. Under load a
        group then follows a round trip to the followers, not only a sync here: fewer and
        larger groups, each one transaction here and one record to each follower (the
        messages were most of what a change cost an active master). A change made alone
        waits for nothing: the group before it was answered already."""
        self._on_lost = on_lost
        self._followers_hold = followers_hold

    def _write_batch(self, _: None, batch: list[list[Mutation]]) -> list[int | BaseException]:
        """Each caller's mutations logged, all callers' in one transaction; a caller's result
        is the sequence number of its last entry."""
        COMMIT_GROUP.observe(sum(len(mutations) for mutations in batch))
        if self._lost_entries is not None:
            refused = errors.Unavailable(
                f"this master logs nothing more: {self._lost_entries}; nothing was changed"
            )
            return [refused] * len(batch)
        results: list[int | BaseException] = []
        logged: list[LogEntry] = []
        published: list[LogEntry] = []
        with self._lock, COMMIT_SECONDS.time():
            try:
                with self.db.atomic():
                    entries = self._log([m for mutations in batch for m in mutations])
                    published = self._publish(entries)
                logged = entries  # only once its transaction committed
                ends = itertools.accumulate(len(mutations) for mutations in batch)
                results += [entries[end - 1].seq for end in ends]
                self.transactions += 1
            except Exception as err:
                if published:  # followers have them: their numbers cannot be given again
                    return self._lost(published, err, len(batch))
                # One bad mutation must not fail the others' callers: commit them one by one.
                for mutations in batch:
                    try:
                        with self.db.atomic():
                            entries = self._log(mutations)
                        logged += entries
                        self.transactions += 1
                    except Exception as err:
                        results.append(err)
                        continue
                    results.append(entries[-1].seq)
            if not published:
                self.tail.add(logged)
        self._appended(logged)
        return results

    def _publish(self, entries: list[LogEntry]) -> list[LogEntry]:
        """Hands entries not yet durable to the followers, if this store does so; returns
        those handed. The caller holds the store's lock and the entries' transaction."""
        if self._on_lost is None or not entries:
            return []
        self.tail.add(entries)
        with self.appended:
            self._published = entries[-1].seq
            self.appended.notify_all()
        return entries

    def _lost(
        self, entries: list[LogEntry], err: Exception, callers: int
    ) -> list[int | BaseException]:
        """Entries handed to followers whose transaction then failed: the tail forgets them,
        and `on_lost` ends the term before any caller hears (each is refused)."""
        self.tail.clear()
        with self.appended:
            self._published = self.last_seq
        self._lost_entries = (
            f"log entries {entries[0].seq}..{entries[-1].seq}, sent to the other replicas, "
            f"could not be made durable here ({err})"
        )
        assert self._on_lost is not None
        self._on_lost(self._lost_entries)
        refused = errors.Unavailable(
            f"the master's store cannot be written ({err}); the change is not acknowledged "
            "(it may still take effect: another replica holds it)"
        )
        return [refused] * callers

    def _log(self, mutations: list[Mutation]) -> list[LogEntry]:
        """Logs `mutations` and writes the rows they leave; returns their entries. The caller
        holds a transaction."""
        execute = self.db.conn.execute
        entries = []
        for mutation in mutations:
            ts, args = time.time(), json.dumps(mutation.args)
            changes = json.dumps([change_json(c) for c in mutation.changes])
            cursor = execute(
                "INSERT INTO oplog (ts, op, args, changes) VALUES (?, ?, ?, ?)",
                (ts, mutation.op, args, changes),
            )
            entries.append(LogEntry(int(cursor.lastrowid or 0), ts, mutation.op, args, changes))
        tables.write(self.db.conn, [c for m in mutations for c in m.changes])
        return entries

    def _appended(self, entries: list[LogEntry]) -> None:
        """Wakes whoever waits for entries past those durable until now."""
        if not entries:
            return
        with self.appended:
            self.last_seq = max(self.last_seq, entries[-1].seq)
            self.appended.notify_all()

    def replay(self, entries: list[LogEntry]) -> list[Mutation]:
        """Writes another store's log entries (same sequence numbers, same rows) in one
        durable transaction: how a shadow keeps its copy. Returns their mutations, to apply."""
        mutations = [entry.mutation() for entry in entries]
        if not entries:
            return mutations
        with self._lock:
            with self.db.atomic():
                self.db.conn.executemany(
                    "INSERT INTO oplog (seq, ts, op, args, changes) VALUES (?, ?, ?, ?, ?)",
                    [(e.seq, e.ts, e.op, e.args_json, e.changes_json) for e in entries],
                )
                tables.write(self.db.conn, [c for m in mutations for c in m.changes])
                epochs = [int(e.args["epoch"]) for e in entries if e.op == EPOCH_OP]
                if epochs:
                    tables.note(self.db.conn, "log_epoch", epochs[-1])
            self.tail.add(entries)
        if epochs:
            self.log_epoch = epochs[-1]
        self._appended(entries)
        return mutations

    def begin_epoch(self, epoch: int, active: str) -> int:
        """Logs the first entry of term `epoch` (which changes no row): from here on this
        log's newest entries are that term's. Returns its sequence number."""
        ts, args = time.time(), json.dumps({"epoch": epoch, "active": active})
        with self._lock:
            with self.db.atomic():
                cursor = self.db.conn.execute(
                    "INSERT INTO oplog (ts, op, args, changes) VALUES (?, ?, ?, '[]')",
                    (ts, EPOCH_OP, args),
                )
                tables.note(self.db.conn, "log_epoch", epoch)
            entry = LogEntry(int(cursor.lastrowid or 0), ts, EPOCH_OP, args, "[]")
            self.tail.add([entry])
        self.log_epoch = epoch
        self._appended([entry])
        return entry.seq

    def install_checkpoint(
        self, seq: int, rows: list[dict[str, Any]], digest: str = "", epoch: int = 0
    ) -> None:
        """Replaces this store's state and log with a checkpoint as of entry `seq` (whose
        digest and term are `digest` and `epoch`); a `checkpoint` entry at `seq` marks where
        this copy of the log starts."""
        with self._lock, self.db.atomic():
            self.tail.clear()
            for table in ("nodes", "chunks", "meta", "oplog"):  # meta: the image is not of it
                self.db.execute(f"DELETE FROM {table}")
            self.image = None
            tables.write(self.db.conn, [change_from_json(row) for row in rows])
            self.db.execute(
                "INSERT INTO oplog (seq, ts, op, args, changes) VALUES (?, ?, ?, ?, '[]')",
                [
                    seq,
                    time.time(),
                    CHECKPOINT_OP,
                    json.dumps({"rows": len(rows), "digest": digest}),
                ],
            )
            tables.note(self.db.conn, "log_epoch", epoch)
        self.log_epoch = epoch
        with self.appended:
            self.last_seq = self._published = seq
            self.appended.notify_all()

    def read_log(self, since: int, limit: int, durable: bool = True) -> list[LogEntry]:
        """Entries with a sequence number above `since`, oldest first; with `durable` False,
        those being made durable too (`publish_early`)."""
        recent = self.tail.after(since, limit)
        if recent is not None:
            if durable:
                head = self.last_seq
                return [e for e in recent if e.seq <= head]
            return recent
        with self._lock:
            rows = self.db.execute(
                "SELECT seq, ts, op, args, changes FROM oplog WHERE seq > ? ORDER BY seq LIMIT ?",
                [since, limit],
            ).fetchall()
        return [LogEntry(*row) for row in rows]

    def digest(self, seq: int) -> str | None:
        """The digest of entry `seq` (rows.LogEntry.digest), None if this log lacks it."""
        with self._lock:
            row = self.db.execute(
                "SELECT seq, ts, op, args, changes FROM oplog WHERE seq = ?", [seq]
            ).fetchone()
        return LogEntry(*row).digest() if row else None

    def position(self) -> tuple[int, str, int]:
        """Where this log stands: (newest entry, its digest, the term it was written in), as
        a replica answers a Promise."""
        seq = self.last_seq
        return seq, self.digest(seq) or "", self.log_epoch

    def log_bounds(self) -> tuple[int, int]:
        """(oldest, newest) sequence numbers still in the log; (0, 0) when it is empty."""
        with self._lock:
            # Two subqueries: SQLite answers a lone min() or max() from the key's b-tree, but
            # both in one query scan the whole log (0.2-0.4 s at a million entries).
            row = self.db.execute(
                "SELECT (SELECT min(seq) FROM oplog), (SELECT max(seq) FROM oplog)"
            ).fetchone()
        return (row[0] or 0, row[1] or 0)

    def wait_for_entries(self, after: int, timeout: float, durable: bool = True) -> None:
        """Returns once an entry past `after` is durable (with `durable` False: or being made
        durable, `publish_early`), or after `timeout` seconds."""
        with self.appended:
            self.appended.wait_for(lambda: self.head(durable) > after, timeout=timeout)

    def head(self, durable: bool = True) -> int:
        """The newest entry durable (with `durable` False: or being made durable)."""
        return self.last_seq if durable else max(self.last_seq, self._published)

    def compact(self, keep: int) -> int:
        """Drops all but the newest `keep` log entries (the state tables hold their effect);
        returns how many were dropped."""
        with self._lock, self.db.atomic():
            self.tail.clear()  # refilled by what comes next: never an entry dropped here
            cursor = self.db.execute(
                "DELETE FROM oplog WHERE seq <= (SELECT max(seq) FROM oplog) - ?", [keep]
            )
            return int(cursor.rowcount)

    def close(self) -> None:
        self._commits.closed = True
        with self._lock:  # after the batch being written, if any
            self.db.close()
