"""The primary's mutation protocol, instruction by instruction, with a fake clock: what each
write or record append is turned into (the offset, the replicas it goes to, the answer)."""

from __future__ import annotations

import pytest

from chunkserver.primary import Appended, Apply, Landing, Primary
from common import errors

CHUNK = 1024
SECONDARIES = ("b:1", "c:1")


@pytest.fixture
def primary() -> Primary:
    p = Primary(max_chunk_size=4 * CHUNK)
    p.leases.grant(7, 3, 60.0, list(SECONDARIES), now=0.0, chunk_size=CHUNK)
    return p


def append(
    p: Primary,
    size: int,
    local_end: int,
    record_id: str = "",
    landed: tuple[int, Landing, bool] | None = None,
) -> tuple[Apply, Appended]:
    return p.order_append(7, 3, "d", size, record_id, local_end, landed, now=1.0)


def test_writes_go_to_every_replica_in_serial_order(primary: Primary) -> None:
    first = primary.order_write(7, 3, 100, "d1", now=1.0)
    second = primary.order_write(7, 3, 0, "d2", now=2.0)
    assert first == Apply(7, 3, 1, 100, SECONDARIES, data_id="d1")
    assert (second.serial, second.offset, second.secondaries) == (2, 0, SECONDARIES)


@pytest.mark.parametrize(
    ("version", "now", "why"),
    [(2, 1.0, "not the primary"), (3, 60.0, "expired"), (4, 1.0, "not the primary")],
)
def test_nothing_is_ordered_without_a_valid_lease_on_that_version(
    primary: Primary, version: int, now: float, why: str
) -> None:
    with pytest.raises(errors.Aborted, match=why):
        primary.order_write(7, version, 0, "d", now=now)
    with pytest.raises(errors.Aborted, match=why):
        primary.survey_needed(7, version, 10, now=now)


def test_only_the_leases_first_append_surveys_the_secondaries(primary: Primary) -> None:
    assert primary.survey_needed(7, 3, 10, now=1.0) == SECONDARIES
    primary.surveyed(7, local_end=0, replies=[(0, {}), (0, {})])
    assert primary.survey_needed(7, 3, 10, now=1.0) is None
    primary.leases.grant(7, 4, 60.0, list(SECONDARIES), now=2.0, chunk_size=CHUNK)
    assert primary.survey_needed(7, 4, 10, now=3.0) == SECONDARIES, "a new lease surveys again"


def test_a_record_over_a_quarter_chunk_is_refused_before_any_survey(primary: Primary) -> None:
    with pytest.raises(errors.InvalidArgument, match="quarter of the chunk size"):
        primary.survey_needed(7, 3, CHUNK // 4 + 1, now=1.0)
    assert primary.survey_needed(7, 3, CHUNK // 4, now=1.0) == SECONDARIES


def test_a_record_lands_at_the_end_of_the_longest_replica(primary: Primary) -> None:
    """A secondary kept a failed append's bytes this primary lacks: the next record must not
    be placed over them."""
    primary.surveyed(7, local_end=100, replies=[(160, {}), (100, {})])
    apply, answer = append(primary, 50, local_end=100, record_id="r1")
    assert answer == Appended(160)
    assert apply == Apply(7, 3, 1, 160, SECONDARIES, data_id="d", record_id="r1")
    _, later = append(primary, 50, local_end=210)
    assert later == Appended(210), "later appends follow this replica's own end"


def test_a_record_that_does_not_fit_pads_the_chunk_everywhere(primary: Primary) -> None:
    primary.surveyed(7, local_end=900, replies=[(900, {}), (900, {})])
    apply, answer = append(primary, 200, local_end=900, record_id="r1")
    assert answer == Appended(900, padded=True)
    assert apply == Apply(7, 3, 1, 900, SECONDARIES, pad_to=CHUNK)
    assert apply.data_id == "" and apply.record_id == "", "the record itself goes nowhere"


def test_a_lease_that_did_not_say_the_chunk_size_pads_at_the_largest(primary: Primary) -> None:
    primary.leases.grant(7, 3, 60.0, list(SECONDARIES), now=0.0)
    primary.surveyed(7, local_end=900, replies=[])
    _, answer = append(primary, 200, local_end=900)
    assert answer == Appended(900), "the chunk may be up to 4 KiB here"


def test_a_retried_record_this_replica_holds_is_answered_with_its_first_offset(
    primary: Primary,
) -> None:
    primary.surveyed(7, local_end=300, replies=[(300, {"r1": 40}), (300, {})])
    assert primary.landing_of(7, "r1", own=40) == 40
    apply, answer = append(primary, 50, 300, "r1", landed=(40, Landing.SAME, True))
    assert answer == Appended(40, duplicate=True)
    assert apply.offset == 40 and not apply.here, "not written again here"
    assert apply.secondaries == SECONDARIES, "a replica that missed it gets it at 40 too"


def test_a_record_only_a_secondary_holds_is_placed_here_at_the_same_offset(
    primary: Primary,
) -> None:
    """A new primary that was down during the first try lacks the record the others hold."""
    primary.surveyed(7, local_end=0, replies=[(90, {"r1": 40}), (90, {"r1": 40})])
    assert primary.landing_of(7, "r1", own=None) == 40
    apply, answer = append(primary, 50, 0, "r1", landed=(40, Landing.GAP, False))
    assert answer == Appended(40, duplicate=True)
    assert apply == Apply(7, 3, 1, 40, SECONDARIES, data_id="d", record_id="r1", here=True)


@pytest.mark.parametrize(
    "landed",
    [
        (40, Landing.OTHER, False),  # other bytes there: the id is not what it claims
        (40, Landing.GAP, True),  # recorded here, yet zeros: never applied whole
        (40, Landing.OTHER, True),
    ],
)
def test_a_record_not_intact_where_it_claims_to_be_is_appended_anew(
    primary: Primary, landed: tuple[int, Landing, bool]
) -> None:
    primary.surveyed(7, local_end=200, replies=[(200, {"r1": 40}), (200, {})])
    apply, answer = append(primary, 50, 200, "r1", landed=landed)
    assert answer == Appended(200)
    assert apply.offset == 200 and apply.here


def test_without_a_record_id_a_retry_is_appended_again(primary: Primary) -> None:
    """At least once, as in GFS: nothing to recognise a retry by."""
    primary.surveyed(7, local_end=200, replies=[(200, {"": 40}), (200, {})])
    assert primary.landing_of(7, "", own=None) is None
    assert append(primary, 50, 200)[1] == Appended(200)


def test_a_survey_keeps_the_first_offset_an_id_landed_at() -> None:
    p = Primary(max_chunk_size=CHUNK)
    p.leases.grant(1, 1, 60.0, ["b", "c"], now=0.0)
    p.surveyed(1, local_end=10, replies=[(300, {"r": 200}), (250, {"r": 120})])
    assert p.landing_of(1, "r", own=None) == 120
    assert p.landing_of(1, "r", own=80) == 80, "this replica's own record comes first"
    assert p.landing_of(1, "unknown", own=None) is None
