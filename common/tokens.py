"""Chunk access tokens (HDFS's block access tokens): what lets a chunkserver trust a request
it cannot check with the master.

The master signs, with a key it shares with the chunkservers, what one caller may do to one
chunk: (handle, version, operations, the user, the replicas, an expiry). A client shows the
token with every read, push, write and append; a primary shows its lease's token with every
mutation it orders. The chunkserver checks the signature, the expiry, the chunk, the version
and the operation, and that the caller is the user named. Keys are made by the master, sent
to chunkservers in heartbeat replies, and rotated.

Pure: no clock (time passed in), no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field

from common import errors

READ, WRITE, LEAD = "r", "w", "p"  # read; push, write and append; order mutations (a primary)
MAC = 32  # bytes of HMAC-SHA256 before the payload
# How far a copy's reading of the master's clock (KeyRing.master_time) may be off, from the
# keys' time on the way and a steady clock's drift between heartbeats, before a token is refused.
CLOCK_SLACK = 30.0


@dataclass(frozen=True)
class Key:
    id: int
    secret: bytes
    until: float  # wall clock: no token signed with it verifies after this


@dataclass
class KeyRing:
    """The master's keys (it signs with the newest) or a chunkserver's or shadow's copy of them.
    Invariant: a token verifies only under a key in the ring, before that key's end.

    Every end, a key's or a token's, is a time of the master's clock. A copy judges them by that
    clock too, not its own: the master's time when it sent the keys plus what the copy's
    steady clock has counted since (`master_time`). So neither a master restarted with its
    clock an hour behind nor a chunkserver set wrong expires every token, or keeps one alive
    past its lifetime; a copy errs by what the keys took to arrive."""

    keys: dict[int, Key] = field(default_factory=dict)
    next_id: int = 1
    offset: float = 0.0  # a copy's: the master's clock minus its own, when the keys came

    def signing(self, now: float, rotate: float, lifetime: float) -> Key:
        """The key to sign with now; a new one every `rotate` seconds, each verifying for
        `rotate` + `lifetime` (a token's longest life) after it was made."""
        newest = max(self.keys.values(), key=lambda k: k.id, default=None)
        if newest is None or now >= newest.until - lifetime:
            newest = Key(self.next_id, secrets.token_bytes(32), now + rotate + lifetime)
            self.keys[newest.id] = newest
            self.next_id += 1
        self.keys = {i: k for i, k in self.keys.items() if k.until > now}
        return newest

    def replace(self, keys: list[Key], master_now: float, now: float) -> None:
        """A copy takes the master's keys as they are (a restarted master's are new), sent
        when the master's clock read `master_now`; `now` is the copy's steady clock."""
        self.keys = {k.id: k for k in keys}
        self.offset = master_now - now

    def master_time(self, now: float) -> float:
        """The master's clock when the copy's steady clock reads `now`."""
        return now + self.offset


@dataclass(frozen=True)
class Token:
    key_id: int
    handle: int
    version: int
    ops: str  # of READ, WRITE, LEAD
    user: str  # a user's name, or for LEAD the primary's address
    until: float  # wall clock
    replicas: tuple[str, ...] = ()  # a write may be pushed through these only

    def sign(self, key: Key) -> bytes:
        payload = json.dumps(
            [
                self.key_id,
                self.handle,
                self.version,
                self.ops,
                self.user,
                self.until,
                self.replicas,
            ],
            separators=(",", ":"),
        ).encode()
        return _mac(key.secret, payload) + payload

    @staticmethod
    def verify(blob: bytes, ring: KeyRing, now: float) -> Token:
        """The token `blob` holds if it was signed by a key of `ring` and has not expired.
        Raises PermissionDenied; Unavailable for a key this server has not learnt yet (a
        rotation, or a restart, in the last heartbeat: worth retrying)."""
        if len(blob) <= MAC:
            raise errors.PermissionDenied("no chunk access token (ask the master for the chunk)")
        token, key = _parse(blob[MAC:], ring)
        if not hmac.compare_digest(_mac(key.secret, blob[MAC:]), blob[:MAC]):
            raise errors.PermissionDenied("a chunk access token with a bad signature")
        return _unexpired(token, key, now)

    @staticmethod
    def verify_proof(
        payload: bytes, proof: bytes, claim: bytes, ring: KeyRing, now: float
    ) -> Token:
        """As `verify`, for a token shown without its signature (`payload`) over a channel in
        clear: `proof` must be `prove(signed, claim)`, which only the holder of the signed token
        can make. Whoever sees the request learns the token's fields, never its signature, so
        cannot make a proof of anything else (HDFS's data transfer handshake does the same with
        a block token's password)."""
        if not payload:
            raise errors.PermissionDenied("no chunk access token (ask the master for the chunk)")
        token, key = _parse(payload, ring)
        if not hmac.compare_digest(prove(_mac(key.secret, payload) + payload, claim), proof):
            raise errors.PermissionDenied("a read in clear without a valid proof of its token")
        return _unexpired(token, key, now)

    def allows(self, op: str, handle: int, version: int | None) -> None:
        """Raises PermissionDenied unless this token lets its holder do `op` to the chunk at
        `version` (None: a push, which names no version)."""
        stale = version is not None and version != self.version
        if op not in self.ops or handle != self.handle or stale:
            raise errors.PermissionDenied(
                f"the chunk access token is for {self.ops!r} on chunk {self.handle} "
                f"v{self.version}, not {op!r} on chunk {handle} v{version}"
            )


def prove(signed: bytes, claim: bytes) -> bytes:
    """What shows, in clear, that the caller holds the signed token `signed` and asks `claim`
    (a request's fields) of it: an HMAC of the claim keyed by the token's signature."""
    return _mac(signed[:MAC], claim)


def _mac(secret: bytes, data: bytes) -> bytes:
    return hmac.new(secret, data, hashlib.sha256).digest()


def _parse(payload: bytes, ring: KeyRing) -> tuple[Token, Key]:
    try:
        key_id, handle, version, ops, user, until, replicas = json.loads(payload)
        token = Token(
            int(key_id),
            int(handle),
            int(version),
            str(ops),
            str(user),
            float(until),
            tuple(str(r) for r in replicas),
        )
    except (ValueError, TypeError):
        raise errors.PermissionDenied("a malformed chunk access token") from None
    key = ring.keys.get(token.key_id)
    if key is None:
        raise errors.Unavailable(
            f"chunk access token signed with key {token.key_id}, not known here yet"
        )
    return token, key


def _unexpired(token: Token, key: Key, now: float) -> Token:
    if now > token.until + CLOCK_SLACK or now > key.until + CLOCK_SLACK:
        raise errors.PermissionDenied("an expired chunk access token (ask the master again)")
    return token


def read_claim(handle: int, version: int, offset: int, length: int) -> bytes:
    """What a read in clear proves it may ask: exactly this range of this chunk's version."""
    return f"{handle}:{version}:{offset}:{length}".encode()
