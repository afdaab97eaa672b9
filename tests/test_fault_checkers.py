"""The fault suite's one-primary-at-a-time checker, on made-up histories: it must find two
primaries at once, and must not call a lease handed on in time one."""

from __future__ import annotations

from typing import Any

from tests.faults.checkers import check_one_primary


def ack(handle: int, version: int, primary: str, sent: float, answered: float) -> dict[str, Any]:
    return {
        "note": "ack",
        "handle": handle,
        "version": version,
        "primary": primary,
        "sent": sent,
        "answered": answered,
    }


def test_a_lease_handed_on_is_one_primary_at_a_time() -> None:
    history = [
        ack(1, 2, "a:1", 0.0, 0.1),
        ack(1, 2, "a:1", 0.5, 3.0),  # answered late, while the next primary began: no proof
        ack(1, 3, "b:1", 1.0, 1.2),
        ack(2, 2, "b:1", 0.0, 0.1),
    ]
    assert check_one_primary(history) == []


def test_two_primaries_of_one_version_are_found() -> None:
    history = [ack(1, 2, "a:1", 0.0, 0.1), ack(1, 2, "b:1", 0.2, 0.3)]
    assert check_one_primary(history) == ["chunk 1 v2 had primaries ['a:1', 'b:1'] at once"]


def test_an_old_primary_ordering_after_the_new_one_began_is_found() -> None:
    history = [ack(1, 3, "b:1", 1.0, 1.2), ack(1, 2, "a:1", 1.5, 1.6)]
    (problem,) = check_one_primary(history)
    assert problem.startswith("chunk 1: a:1 (v2) acknowledged a mutation asked at 1.500")
