"""What a secure chunkserver asks of each data request: the master's chunk access token for it
(common/tokens.py), checked against what the caller asks and who the caller is."""

from __future__ import annotations

import time

from common import errors
from common.tls import Identity
from common.tokens import LEAD, READ, WRITE, KeyRing, Token, read_claim


class TokenCheck:
    def __init__(self) -> None:
        self.keys = KeyRing()  # the master's, and its clock, from its heartbeat replies

    def data(
        self, who: Identity | None, blob: bytes, op: str, handle: int, version: int | None
    ) -> Token | None:
        """The caller's token for `op` on the chunk, checked (raises PermissionDenied, or
        Unavailable for a key not learnt yet); None on an insecure server. A user's token must
        name that user; a chunkserver forwards a user's push with the user's token, and copies
        replicas the master ordered copied without one."""
        if who is None or (who.role == "chunkserver" and op == READ):
            return None
        token = Token.verify(blob, self.keys, self._master_time())
        token.allows(op, handle, version)
        if who.role != "chunkserver" and token.user != who.name:
            raise errors.PermissionDenied(f"the chunk access token is {token.user!r}'s")
        return token

    def plain_read(
        self, payload: bytes, proof: bytes, handle: int, version: int, offset: int, length: int
    ) -> None:
        """A read on the plain read port, where nobody is identified: the token is shown
        without its signature, and `proof` shows the caller holds it (tokens.verify_proof)."""
        claim = read_claim(handle, version, offset, length)
        token = Token.verify_proof(payload, proof, claim, self.keys, self._master_time())
        token.allows(READ, handle, version)

    def _master_time(self) -> float:
        return self.keys.master_time(time.monotonic())

    def push(self, who: Identity | None, blob: bytes, handle: int, chain: list[str]) -> str:
        """A push's first piece: a write token for the chunk, and a chain of its replicas.
        Returns the user the push is for ("" on an insecure server)."""
        token = self.data(who, blob, WRITE, handle, None)
        if token is None:
            return ""
        if not set(chain) <= set(token.replicas):
            raise errors.PermissionDenied("a push's chain may name the chunk's replicas only")
        return token.user

    def lease(self, who: Identity | None, blob: bytes, handle: int, version: int) -> None:
        """A mutation ordered by a primary: only the chunk's current primary, by the lease
        token the master gave it, orders them."""
        if who is None:
            return
        lease = Token.verify(blob, self.keys, self._master_time())
        lease.allows(LEAD, handle, version)
        if not who.may_claim(lease.user):
            raise errors.PermissionDenied(
                f"{who.name!r} is not the primary {lease.user} of chunk {handle}"
            )
