"""Chunk access tokens alone: signed by a key the master rotates, checked for chunk, version,
operation, expiry and signature (common/tokens.py; HDFS's block access tokens)."""

from __future__ import annotations

from pathlib import Path

import pytest

from common import errors
from common.tokens import LEAD, MAC, READ, WRITE, KeyRing, Token, prove, read_claim
from master.config import MasterConfig
from master.issuer import TokenIssuer

ROTATE, LIFETIME = 3600.0, 600.0


def signed(ring: KeyRing, now: float, **fields: object) -> bytes:
    key = ring.signing(now, ROTATE, LIFETIME)
    base = {"handle": 7, "version": 3, "ops": READ + WRITE, "user": "alice", "until": now + 600}
    base.update(fields)
    return Token(key.id, **base).sign(key)  # type: ignore[arg-type]


def test_a_token_verifies_under_its_key_and_says_what_it_allows() -> None:
    master, chunkserver = KeyRing(), KeyRing()
    blob = signed(master, 0.0, replicas=("a:1", "b:1"))
    chunkserver.replace(list(master.keys.values()), 0.0, 0.0)
    token = Token.verify(blob, chunkserver, now=10.0)
    assert (token.user, token.replicas) == ("alice", ("a:1", "b:1"))
    token.allows(READ, 7, 3)
    token.allows(WRITE, 7, None)  # a push names no version
    for op, handle, version in ((LEAD, 7, 3), (READ, 8, 3), (WRITE, 7, 2)):
        with pytest.raises(errors.PermissionDenied, match="chunk access token is for"):
            token.allows(op, handle, version)


def test_a_changed_byte_an_unknown_key_or_an_old_token_is_refused() -> None:
    ring = KeyRing()
    blob = signed(ring, 0.0)
    forged = blob.replace(b'"alice"', b'"mallo"')  # the same length: another user
    with pytest.raises(errors.PermissionDenied, match="bad signature"):
        Token.verify(forged, ring, now=1.0)
    with pytest.raises(errors.PermissionDenied, match="bad signature"):
        Token.verify(bytes([blob[0] ^ 1]) + blob[1:], ring, now=1.0)
    with pytest.raises(errors.Unavailable, match="not known here yet"):
        Token.verify(blob, KeyRing(), now=1.0)
    with pytest.raises(errors.PermissionDenied, match="expired"):
        Token.verify(blob, ring, now=600 + 31)
    with pytest.raises(errors.PermissionDenied, match="no chunk access token"):
        Token.verify(b"", ring, now=1.0)
    with pytest.raises(errors.PermissionDenied, match="malformed"):
        Token.verify(bytes(32) + b"not json", ring, now=1.0)


def test_keys_rotate_and_a_retired_key_verifies_nothing() -> None:
    ring = KeyRing()
    first = ring.signing(0.0, ROTATE, LIFETIME)
    assert ring.signing(ROTATE - 1, ROTATE, LIFETIME) == first
    second = ring.signing(ROTATE, ROTATE, LIFETIME)
    assert second.id == first.id + 1, "a new key every ROTATE seconds"
    assert set(ring.keys) == {first.id, second.id}, "the old one verifies what it signed"
    old = Token(first.id, 1, 1, READ, "bob", ROTATE).sign(first)
    Token.verify(old, ring, now=ROTATE + 1)
    ring.signing(ROTATE + LIFETIME + 1, ROTATE, LIFETIME)
    assert first.id not in ring.keys
    with pytest.raises(errors.Unavailable):
        Token.verify(old, ring, now=ROTATE + LIFETIME + 1)


def test_a_token_shown_in_clear_verifies_only_with_a_proof_of_its_signature() -> None:
    """On a plain read port the token crosses without its signature (MAC) and the request
    carries an HMAC of exactly what it asks, keyed by the signature."""
    ring = KeyRing()
    blob = signed(ring, 0.0)
    payload, claim = blob[MAC:], read_claim(7, 3, 0, 100)
    token = Token.verify_proof(payload, prove(blob, claim), claim, ring, now=1.0)
    assert (token.handle, token.user) == (7, "alice")
    for other in (read_claim(7, 3, 0, 101), read_claim(7, 3, 1, 100), read_claim(8, 3, 0, 100)):
        with pytest.raises(errors.PermissionDenied, match="without a valid proof"):
            Token.verify_proof(payload, prove(blob, claim), other, ring, now=1.0)
    forged = payload.replace(b'"alice"', b'"mallo"')
    with pytest.raises(errors.PermissionDenied, match="without a valid proof"):
        Token.verify_proof(forged, prove(blob, claim), claim, ring, now=1.0)
    with pytest.raises(errors.PermissionDenied, match="without a valid proof"):
        Token.verify_proof(payload, prove(bytes(MAC) + payload, claim), claim, ring, now=1.0)
    with pytest.raises(errors.PermissionDenied, match="expired"):
        Token.verify_proof(payload, prove(blob, claim), claim, ring, now=600 + 31)
    with pytest.raises(errors.PermissionDenied, match="no chunk access token"):
        Token.verify_proof(b"", prove(blob, claim), claim, ring, now=1.0)


def test_the_master_hands_a_token_out_again_while_it_has_half_its_life_left(
    tmp_path: Path,
) -> None:
    clock = [1000.0]
    config = MasterConfig(data_dir=tmp_path, token_lifetime=LIFETIME, token_key_rotate=ROTATE)
    issuer = TokenIssuer(config, lambda: clock[0])
    first = issuer.issue("alice", 7, 3, READ, ["a:1", "b:1"])
    assert issuer.issue("alice", 7, 3, READ, ["a:1", "b:1"]) == first
    for other in (
        ("bob", 7, 3, READ, ["a:1", "b:1"]),
        ("alice", 7, 4, READ, ["a:1", "b:1"]),
        ("alice", 7, 3, READ + WRITE, ["a:1", "b:1"]),
        ("alice", 7, 3, READ, ["a:1"]),
    ):
        assert issuer.issue(*other) != first, other  # fmt: skip
    clock[0] += LIFETIME / 2 + 1
    renewed = issuer.issue("alice", 7, 3, READ, ["a:1", "b:1"])
    ring = KeyRing()
    ring.replace(issuer.in_use(), clock[0], clock[0])
    assert Token.verify(renewed, ring, clock[0]).until == clock[0] + LIFETIME
    assert Token.verify(first, ring, clock[0]).until == 1000.0 + LIFETIME


def test_a_shadow_signs_anew_once_the_masters_keys_are_new(tmp_path: Path) -> None:
    """A restarted master makes new keys and the chunkservers forget the old: a token kept
    from before would be refused at every read until half its life had passed."""
    master = KeyRing()
    master.signing(0.0, ROTATE, LIFETIME)
    config = MasterConfig(data_dir=tmp_path, token_lifetime=LIFETIME, token_key_rotate=ROTATE)
    shadow = TokenIssuer(config, lambda: 10.0, makes_keys=False)
    shadow.learn(list(master.keys.values()), 10.0)
    before = shadow.issue("alice", 7, 3, READ, ["a:1"])
    assert shadow.issue("alice", 7, 3, READ, ["a:1"]) == before
    restarted = KeyRing()
    restarted.signing(5.0, ROTATE, LIFETIME)
    shadow.learn(list(restarted.keys.values()), 10.0)
    after = shadow.issue("alice", 7, 3, READ, ["a:1"])
    assert after != before
    Token.verify(after, restarted, 10.0)


def test_a_copy_judges_token_ends_by_the_masters_clock_not_its_own(tmp_path: Path) -> None:
    """Token and key ends are times of the master's clock. A chunkserver's copy of the keys,
    and a shadow signing with them, count from the master's time that came with the keys, so
    a token lives its lifetime however far apart the clocks are (an hour here, either way)."""
    for master_now, copy_now in ((1000.0, 1000.0 + 3600), (1000.0 + 3600, 1000.0)):
        master = KeyRing()
        blob = signed(master, master_now)  # ends at master_now + 600
        chunkserver = KeyRing()
        chunkserver.replace(list(master.keys.values()), master_now, copy_now)
        assert chunkserver.master_time(copy_now + 10) == master_now + 10
        Token.verify(blob, chunkserver, chunkserver.master_time(copy_now + 600))
        with pytest.raises(errors.PermissionDenied, match="expired"):
            Token.verify(blob, chunkserver, chunkserver.master_time(copy_now + 600 + 31))

        config = MasterConfig(data_dir=tmp_path, token_lifetime=LIFETIME, token_key_rotate=ROTATE)
        shadow = TokenIssuer(config, lambda copy_now=copy_now: copy_now, makes_keys=False)
        shadow.learn(list(master.keys.values()), master_now)
        token = Token.verify(shadow.issue("alice", 7, 3, READ, ["a:1"]), chunkserver, master_now)
        assert token.until == master_now + LIFETIME
