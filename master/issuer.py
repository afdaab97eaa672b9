"""The master's side of chunk access tokens (common/tokens.py): its signing keys, rotated,
and the tokens it hands out: to clients with each chunk location, to a primary with its
lease. Only a secure master (mutual TLS, so callers have names) has one."""

from __future__ import annotations

import threading
from collections.abc import Callable

from common.tokens import LEAD, Key, KeyRing, Token
from master.config import MasterConfig


class TokenIssuer:
    def __init__(self, config: MasterConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self.clock = clock
        self._ring = KeyRing()
        self._lock = threading.Lock()

    def _key(self) -> Key:
        with self._lock:
            return self._ring.signing(
                self.clock(), self.config.token_key_rotate, self.config.token_lifetime
            )

    def keys(self) -> list[Key]:
        """Every key still in use, for the chunkservers (sent in heartbeat replies)."""
        self._key()
        with self._lock:
            return list(self._ring.keys.values())

    def issue(
        self, user: str, handle: int, version: int, ops: str, replicas: list[str]
    ) -> bytes:
        """What `user` may do (`ops`) to the chunk at `version`, through `replicas`."""
        key = self._key()
        until = self.clock() + self.config.token_lifetime
        return Token(key.id, handle, version, ops, user, until, tuple(replicas)).sign(key)

    def lease(self, handle: int, version: int, primary: str, until: float) -> bytes:
        """The primary's proof, for its secondaries, that it orders the chunk's mutations."""
        key = self._key()
        return Token(key.id, handle, version, LEAD, primary, until).sign(key)
