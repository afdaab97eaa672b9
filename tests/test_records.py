"""Record framing (pure): intact records come back once; padding, fragments and repeats do not."""

from __future__ import annotations

from client.records import frame, parse, unique


def test_records_survive_padding_fragments_and_damage() -> None:
    a, b, c = frame(b"alpha", "id-a"), frame(b"bravo"), frame(b"charlie", "id-c")
    damaged = bytearray(frame(b"delta", "id-d"))
    damaged[-1] ^= 1
    chunk = a + bytes(17) + b[:9] + b + bytes(damaged) + c + a + bytes(40)
    found = list(parse(chunk, base=1000))
    assert [(r.record_id, r.payload) for r in found] == [
        ("id-a", b"alpha"),
        ("", b"bravo"),
        ("id-c", b"charlie"),
        ("id-a", b"alpha"),
    ]
    assert found[0].offset == 1000
    assert [r.payload for r in unique(iter(found))] == [b"alpha", b"bravo", b"charlie"]


def test_a_payload_containing_the_magic_is_still_one_record() -> None:
    payload = b"xxGFSRyy" * 10
    assert [r.payload for r in parse(frame(payload, "m") + frame(b"next"))] == [payload, b"next"]
