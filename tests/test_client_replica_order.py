"""Which replica a client reads from first, and the order of a push's chain."""

from __future__ import annotations

import time

import pytest

from client.client import Client
from client.models import ChunkInfo
from common import errors


def test_local_replicas_come_first_and_equally_near_ones_share_the_load() -> None:
    with Client("127.0.0.1:1") as gfs:
        gfs.io.local = {"10.0.0.9"}
        replicas = ("10.0.0.1:9100", "10.0.0.2:9100", "10.0.0.9:9100", "10.0.0.3:9100")
        orders = [gfs.io.nearest_first(replicas) for _ in range(200)]
    assert all(o[0] == "10.0.0.9:9100" and sorted(o) == sorted(replicas) for o in orders)
    assert {o[1] for o in orders} == {"10.0.0.1:9100", "10.0.0.2:9100", "10.0.0.3:9100"}


def test_replicas_on_a_slow_disk_come_last_even_this_hosts() -> None:
    with Client("127.0.0.1:1") as gfs:
        gfs.io.local = {"10.0.0.9", "10.0.0.1"}
        replicas = ("10.0.0.1:9100", "10.0.0.2:9100", "10.0.0.9:9100", "10.0.0.3:9100")
        slow = ("10.0.0.9:9100", "10.0.0.2:9100")
        orders = [gfs.io.nearest_first(replicas, slow=slow) for _ in range(200)]
    assert all(o[:2] == ["10.0.0.1:9100", "10.0.0.3:9100"] for o in orders)
    assert all(o[2] == "10.0.0.9:9100" and o[3] == "10.0.0.2:9100" for o in orders)


def test_a_read_of_a_chunk_with_no_replica_listed_asks_again_then_is_a_clear_error() -> None:
    info = ChunkInfo(index=0, handle=1, version=2, size=4 << 20, replicas=(), primary=None)
    asked: list[float] = []

    def locate(path: str, index: int, for_write: bool) -> ChunkInfo:
        asked.append(time.monotonic())
        return info

    with Client("127.0.0.1:1", timeout=1.0) as gfs:
        gfs._locate = locate  # type: ignore[method-assign]
        with pytest.raises(errors.DataLoss, match="no live replica"):
            gfs.io.read_striped("/f", info, 0, 4 << 20)
    assert len(asked) >= 3 and 0.5 < asked[-1] - asked[0] <= 1.0


def test_a_read_every_replica_refuses_is_a_permission_error_not_a_data_loss(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Replicas that refuse the token (one a clock made expire, say) hold the bytes: the
    error says who refused what, and is no claim that data was lost."""
    info = ChunkInfo(index=0, handle=1, version=2, size=10, replicas=("a:1", "b:1"), primary=None)

    class Replica:
        def __init__(self, error: errors.GfsError) -> None:
            self.error = error

        def Read(self, request: object, timeout: float) -> object:
            raise self.error

    refusing = Replica(errors.PermissionDenied("an expired chunk access token (ask again)"))
    down = Replica(errors.Unavailable("cannot reach b:1: connection refused"))
    with Client("127.0.0.1:1", timeout=1.0) as gfs:
        monkeypatch.setattr(gfs, "_locate", lambda path, index, for_write: info)
        monkeypatch.setattr(gfs.io.channels, "chunkserver", lambda address, plain=False: refusing)
        with pytest.raises(errors.PermissionDenied, match=r"every replica refused.*expired"):
            b"".join(gfs.io.read_chunk("/f", info, 0, 10))
        one_down = {"a:1": refusing, "b:1": down}
        monkeypatch.setattr(gfs.io.channels, "chunkserver", lambda a, plain=False: one_down[a])
        with pytest.raises(errors.DataLoss, match="could not be read from any replica"):
            b"".join(gfs.io.read_chunk("/f", info, 0, 10))
