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

ISSUED_KEPT = 65536  # tokens kept for handing out again; all forgotten when there are more


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
        # (user, handle, version, ops, replicas) -> a token issued for it, its end and its key:
        # handed out again while it has half its life left and its key is still in the ring (a
        # shadow's ring is the master's, replaced when a restarted master makes new keys, whose
        # ids start again at 1).
        # Signing one anew for every lookup was most of what security cost a lookup.
        self._issued: dict[tuple[str, int, int, str, tuple[str, ...]], tuple[bytes, float, Key]]
        self._issued = {}

    def learn(self, keys: list[Key], master_now: float) -> None:
        """A shadow's: the master's keys, sent when its clock read `master_now`."""
        with self._lock:
            self._ring.replace(keys, master_now, self.clock())

    def now(self) -> float:
        """The clock token ends are times of: the master's (a shadow's estimate of it)."""
        if self.makes_keys:
            return self.clock()
        with self._lock:
            return self._ring.master_time(self.clock())

    def _key(self) -> Key:
        now = self.now()
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
        asked = (user, handle, version, ops, tuple(replicas))
        now = self.now()
        lifetime = self.config.token_lifetime
        with self._lock:
            known = self._issued.get(asked)
            if (
                known
                and known[1] - now >= lifetime / 2
                and self._ring.keys.get(known[2].id) == known[2]
            ):
                return known[0]
        key = self._key()
        until = now + lifetime
        token = Token(key.id, handle, version, ops, user, until, asked[4]).sign(key)
        with self._lock:
            if len(self._issued) >= ISSUED_KEPT:
                self._issued.clear()
            self._issued[asked] = (token, until, key)
        return token

    def lease(self, handle: int, version: int, primary: str, until: float) -> bytes:
        """The primary's proof, for its secondaries, that it orders the chunk's mutations."""
        key = self._key()
        return Token(key.id, handle, version, LEAD, primary, until).sign(key)
