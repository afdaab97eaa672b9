"""A replica behaves like a plain byte array under any sequence of writes, checksums and all."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from chunkserver.checksum import BLOCK
from chunkserver.storage import ChunkStore

CHUNK = 8 * BLOCK

writes = st.lists(
    st.tuples(st.integers(0, CHUNK - 1), st.binary(min_size=0, max_size=3 * BLOCK)),
    min_size=1,
    max_size=8,
)


@settings(max_examples=40, deadline=None)
@given(writes)
def test_any_sequence_of_writes_reads_back_like_a_byte_array(
    sequence: list[tuple[int, bytes]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = ChunkStore(Path(tmp), CHUNK)
        store.set_version(1, 1, create=True)
        model = bytearray()
        for offset, data in sequence:
            data = data[: CHUNK - offset]
            store.write(1, 1, offset, data)
            if data:
                if offset > len(model):
                    model += bytes(offset - len(model))
                model[offset : offset + len(data)] = data
        got = b"".join(store.read(1, 1, 0, CHUNK, piece=2 * BLOCK))
        assert got == bytes(model)
        reloaded = ChunkStore(Path(tmp), CHUNK)  # an empty replica is as durable as any
        assert b"".join(reloaded.read(1, 1, 0, CHUNK, piece=BLOCK)) == bytes(model)


def _apply(model: bytearray, offset: int, data: bytes) -> None:
    if data:
        if offset > len(model):
            model += bytes(offset - len(model))
        model[offset : offset + len(data)] = data


# (data pushed for the replica's end, and a write [offset, data] that reaches it mid-push or None)
staged_pushes = st.lists(
    st.tuples(
        st.binary(min_size=1, max_size=2 * BLOCK),
        st.none() | st.tuples(st.integers(0, CHUNK - 1), st.binary(min_size=0, max_size=BLOCK)),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=1, max_size=BLOCK + 7), staged_pushes)
def test_staged_pushes_interleaved_with_writes_read_back_like_a_byte_array(
    first: bytes, pushes: list[tuple[bytes, tuple[int, bytes] | None]]
) -> None:
    """What the servicer does: stage a push for the end, maybe let another write in mid-push,
    then apply the push where it was meant to go, from where it lies or from the spool."""
    with tempfile.TemporaryDirectory() as tmp:
        store = ChunkStore(Path(tmp), CHUNK)
        store.set_version(1, 1, create=True)
        store.write(1, 1, 0, first)
        model = bytearray(first)
        for n, (data, other) in enumerate(pushes):
            at = len(model)
            data = data[: CHUNK - at]
            staging = store.stage(1, f"push-{n}", -1, now=float(n))
            assert staging is not None
            half = len(data) // 2
            staging.write(data[:half])
            if other is not None:
                offset, written = other[0], other[1][: CHUNK - other[0]]
                with store.lock(1):
                    store.write(1, 1, offset, written)
                _apply(model, offset, written)
            staging.write(data[half:])
            staging.finish(len(data))
            with store.lock(1):
                if store.commit_staged(1, 1, at, f"push-{n}", len(data)) is None:
                    assert other is not None and other[1], "nothing came between: staged"
                    store.write(1, 1, at, data)
            _apply(model, at, data)
            assert b"".join(store.read(1, 1, 0, CHUNK, piece=2 * BLOCK)) == bytes(model)
        reloaded = ChunkStore(Path(tmp), CHUNK)
        assert b"".join(reloaded.read(1, 1, 0, CHUNK, piece=BLOCK)) == bytes(model)
