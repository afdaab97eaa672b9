"""The master replicas' coordinator: ZooKeeper (through kazoo) elects the active one and
numbers its term, as HDFS's failover controllers do; no consensus of our own.

Layout under /pygfs/<cluster>:
- `active/`: kazoo's lock recipe. Every replica contends with its address as identifier;
  the holder is the active one (or the candidate taking over), the others are in line.
- `members/<address>`: an ephemeral node per live replica: whom a new active asks to promise
  (the lock's queue is no list of them: a replica between two tries is not in it).
- `epoch`: the newest term, raised by one (compare-and-set) by each replica that wins.

A session that is suspended (the connection lost) ends the holder's term at once, before its
session can expire and another replica be elected; safety does not rest on that timing (the
others' promises fence a deposed active, `common/term.py`), it only keeps one active at a time.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import BadVersionError, KazooException, LockTimeout, NodeExistsError
from kazoo.handlers.threading import KazooTimeoutError

from common import errors

log = logging.getLogger(__name__)

# kazoo logs every connection attempt at warning level while the coordinator is down.
logging.getLogger("kazoo.client").setLevel(logging.ERROR)


class Coordinator:
    def __init__(self, hosts: str, cluster: str, me: str, session_timeout: float) -> None:
        self.hosts = hosts
        self.me = me
        self.root = f"/pygfs/{cluster}"
        self.zk = KazooClient(hosts=hosts, timeout=session_timeout)
        self.zk.add_listener(self._changed)
        self.lock = self.zk.Lock(f"{self.root}/active", me)
        # Set when the session was suspended or lost: whoever holds the lock lets go.
        self.interrupted = threading.Event()

    def start(self, timeout: float = 15.0) -> None:
        """Connects; Unavailable in one line if the coordinator cannot be reached."""
        try:
            self.zk.start(timeout=timeout)
            self.zk.ensure_path(self.root)
        except (KazooTimeoutError, KazooException) as err:
            self.zk.stop()
            raise errors.Unavailable(
                f"cannot reach the coordinator at {self.hosts}: {err or type(err).__name__}"
            ) from None

    def stop(self) -> None:
        try:
            self.resign()
        finally:
            self.zk.stop()
            self.zk.close()

    def _changed(self, state: str) -> None:
        """kazoo's thread: must not block."""
        if state in (KazooState.SUSPENDED, KazooState.LOST):
            self.interrupted.set()
            log.warning("coordinator session %s", state.lower())
        else:
            log.info("coordinator session connected")

    def campaign(self, stop: threading.Event) -> bool:
        """Waits until this replica holds the lock (True) or `stop` is set (False)."""
        while not stop.is_set():
            if not self.zk.connected:
                stop.wait(0.2)
                continue
            self.interrupted.clear()
            try:
                if self.lock.is_acquired:  # let go while cut off: its node may have outlived it
                    self.lock.release()
                self._join()
                if self.lock.acquire(timeout=1.0):
                    if self.interrupted.is_set():  # suspended meanwhile: maybe not ours
                        self.resign()
                        continue
                    return True
            except LockTimeout:
                continue
            except KazooException as err:
                log.info("campaign interrupted: %s", err)
                stop.wait(0.5)
        return False

    def _join(self) -> None:
        """Lists this replica among the members (again, after a session was lost)."""
        path = f"{self.root}/members/{self.me}"
        if self.zk.exists(path) is None:
            with contextlib.suppress(NodeExistsError):
                self.zk.create(path, ephemeral=True, makepath=True)

    def members(self) -> list[str]:
        """The replicas connected to the coordinator, this one included."""
        try:
            return sorted(self.zk.get_children(f"{self.root}/members"))
        except KazooException:
            return []

    def resign(self) -> None:
        """Lets go of the lock (if held), so another replica can be elected. Cut off from the
        coordinator, it does not wait: the lock goes with the session if that expires, else
        the next campaign lets go of it first."""
        if not self.zk.connected:
            return
        try:
            self.lock.release()
        except KazooException as err:  # the session is gone: the lock went with it
            log.info("could not release the election lock: %s", err)

    def contenders(self) -> list[str]:
        """The replicas in the election, the active one (or the candidate) first."""
        try:
            return [c for c in self.lock.contenders() if c]
        except KazooException:
            return []

    def active(self) -> str | None:
        listed = self.contenders()
        return listed[0] if listed else None

    def next_epoch(self) -> int:
        """Raises the cluster's term by one and returns it (compare-and-set: two winners,
        one after another, never get the same)."""
        path = f"{self.root}/epoch"
        with contextlib.suppress(NodeExistsError):
            self.zk.create(path, b"0", makepath=True)
        while True:
            data, stat = self.zk.get(path)
            epoch = int(data or b"0") + 1
            try:
                self.zk.set(path, str(epoch).encode(), version=stat.version)
                return epoch
            except BadVersionError:
                continue
