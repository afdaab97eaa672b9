"""The fault suite's one-primary-at-a-time and one-active-at-a-time checkers, on made-up
histories: they must find two holders of a term at once, and must not call a lease or a term
handed on in time one; and a history read back keeps the notes they judge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.faults.checkers import check_one_active, check_one_primary
from tests.faults.history import History, load


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
    assert check_one_primary(history) == ["chunk 1 term 2 was held by ['a:1', 'b:1'] at once"]


def test_an_old_primary_ordering_after_the_new_one_began_is_found() -> None:
    history = [ack(1, 3, "b:1", 1.0, 1.2), ack(1, 2, "a:1", 1.5, 1.6)]
    (problem,) = check_one_primary(history)
    assert problem.startswith("chunk 1: a:1 (term 2) acknowledged a request sent at 1.500")


def test_the_acknowledgements_a_history_notes_are_read_back_for_the_checkers(
    tmp_path: Path,
) -> None:
    history = History(tmp_path / "h.jsonl", seed=1)
    for note in (ack(1, 3, "b:1", 1.0, 1.2), ack(1, 2, "a:1", 1.5, 1.6)):
        history.note(note.pop("note"), **note)
    history.close()
    assert len(check_one_primary(load(tmp_path / "h.jsonl"))) == 1


def master_ack(term: int, address: str, sent: float, answered: float) -> dict[str, Any]:
    return {"note": "master-ack", "term": term, "address": address, "sent": sent,
            "answered": answered, "method": "Create"}  # fmt: skip


def test_a_term_handed_on_is_one_active_at_a_time() -> None:
    history = [
        master_ack(1, "m0:1", 0.0, 0.1),
        master_ack(1, "m0:1", 0.5, 6.0),  # sent before the next term began: no proof
        master_ack(2, "m1:1", 5.0, 5.1),
        master_ack(3, "m0:1", 9.0, 9.1),  # the first one active again, in a newer term
    ]
    assert check_one_active(history) == []


def test_a_deposed_active_acknowledging_after_the_next_term_began_is_found() -> None:
    history = [master_ack(2, "m1:1", 5.0, 5.1), master_ack(1, "m0:1", 5.5, 5.6)]
    (problem,) = check_one_active(history)
    assert problem.startswith("master: m0:1 (term 1) acknowledged a request sent at 5.500")
    history = [master_ack(2, "m1:1", 5.0, 5.1), master_ack(2, "m0:1", 5.5, 5.6)]
    assert check_one_active(history) == ["master term 2 was held by ['m0:1', 'm1:1'] at once"]
