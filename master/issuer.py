"""The master's side of chunk access tokens (common/tokens.py): its signing keys, rotated,
and the tokens it hands out: to clients with each chunk location, to a primary with its
lease. Only a secure master (mutual TLS, so callers have names) has one, and its shadows,
which sign read tokens with the keys the master sends them (`learn`)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from common import errors
from common.tokens import LEAD, Key, KeyRing, Token
from master.config import MasterConfig


class TokenIssuer:
    def __init__(
        self, config: MasterConfig, clock: Callable[[], float], makes_keys: bool = True
    ) -> None:
        """`makes_keys`: the master's (it makes and rotates them); else a shadow's, which
        signs with the master's newest as `learn` gives them."""
        self.config = config
        self.clock = clock
        self.makes_keys = makes_keys
        self._ring = KeyRing()
        self._lock = threading.Lock()

    def learn(self, keys: list[Key]) -> None:
        with self._lock:
            self._ring.replace(keys)

    def _key(self) -> Key:
        now = self.clock()
        with self._lock:
            if self.makes_keys:
                return self._ring.signing(
                    now, self.config.token_key_rotate, self.config.token_lifetime
                )
            # The master's newest key that outlives a token signed now.
            usable = [
                k for k in self._ring.keys.values() if k.until > now + self.config.token_lifetime
            ]
            if not usable:
                raise errors.Unavailable(
                    "this shadow has no token keys from the master yet: try the master"
                )
            return max(usable, key=lambda k: k.id)

    def in_use(self) -> list[Key]:
        """Every key still in use, for the chunkservers (sent in heartbeat replies) and the
        shadows."""
        if self.makes_keys:
            self._key()  # made, or rotated, if due
        with self._lock:
            return list(self._ring.keys.values())

    def issue(self, user: str, handle: int, version: int, ops: str, replicas: list[str]) -> bytes:
        """What `user` may do (`ops`) to the chunk at `version`, through `replicas`."""
        key = self._key()
        until = self.clock() + self.config.token_lifetime
        return Token(key.id, handle, version, ops, user, until, tuple(replicas)).sign(key)

    def lease(self, handle: int, version: int, primary: str, until: float) -> bytes:
        """The primary's proof, for its secondaries, that it orders the chunk's mutations."""
        key = self._key()
        return Token(key.id, handle, version, LEAD, primary, until).sign(key)
