"""What keeps two servers from sharing what only one may hold: a listening port (gRPC would
share it through SO_REUSEPORT, and clients would reach either server at random) and a data
directory (two masters on one store, or two chunkservers on one set of replicas, would each
overwrite what the other wrote)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
from pathlib import Path

LOCK_NAME = "in_use.lock"


def ensure_free(listen: str, what: str) -> None:
    """Raises OSError (one line) if HOST:PORT is already being listened on; port 0 is always
    free. Probed as gRPC and http.server bind (SO_REUSEADDR: a port left in TIME_WAIT by a
    stopped server is free)."""
    host, _, port = listen.rpartition(":")
    if port in ("", "0"):
        return
    host = host.strip("[]") or "0.0.0.0"
    try:
        infos = socket.getaddrinfo(
            host, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except (OSError, ValueError) as err:
        raise OSError(f"cannot listen on {listen} for {what}: {err}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise OSError(
                    f"cannot listen on {listen} for {what}: the port is in use (another server?)"
                ) from None
            raise OSError(f"cannot listen on {listen} for {what}: {err.strerror}") from None


class DirectoryLock:
    """An exclusive lock on a server's data directory, held until `release` (or the process
    ends: the kernel drops a flock with its holder, so a crash leaves nothing to clean up)."""

    def __init__(self, directory: Path, what: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / LOCK_NAME
        # Held open read-only: a file open for writing would keep its disk from being
        # remounted read-only (the kernel refuses while a writer is open).
        self._fd: int | None = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "unknown"
            self.release()
            raise OSError(
                f"data directory {directory} is in use by another {what} (pid {holder})"
            ) from None
        try:
            path.write_text(f"{os.getpid()}\n")
        except OSError:
            self.release()
            raise

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
