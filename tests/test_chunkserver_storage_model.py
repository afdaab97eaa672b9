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
