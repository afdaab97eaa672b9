"""A JSONL history of every client operation a scenario makes, with its outcome:

    ok       the library answered success
    failed   it answered an error that says the operation did not happen as asked
             (not found, exists, invalid, no room, too few servers)
    unknown  it could not tell: unreachable, timed out, aborted by a race, data lost in flight

Checkers read the history back after healing (tests/faults/checkers.py)."""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import errors

UNKNOWN = (errors.Unavailable, errors.Aborted, errors.DataLoss)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


class History:
    def __init__(self, path: Path, seed: int) -> None:
        self.path = path
        self.seed = seed
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self.note("start", seed=seed)

    def note(self, what: str, **fields: Any) -> None:
        """A line that is not a client operation: the seed, a fault injected or healed."""
        self._write({"note": what, "time": time.time(), **fields})

    @contextmanager
    def op(self, kind: str, path: str, **fields: Any) -> Iterator[dict[str, Any]]:
        """Records one operation. The body may put its results (an offset, a digest) into the
        dict it is given. Library errors are recorded, not raised: under faults they are
        expected, and the checkers judge them."""
        event: dict[str, Any] = {"id": next(self._ids), "op": kind, "path": path, **fields}
        event["start"] = time.time()
        try:
            yield event
            event["outcome"] = "ok"
        except UNKNOWN as err:
            event["outcome"] = "unknown"
            event["error"] = str(err)
        except errors.GfsError as err:
            event["outcome"] = "failed"
            event["error"] = str(err)
        finally:
            event["end"] = time.time()
            self._write(event)

    def _write(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._file.write(json.dumps(event, sort_keys=True) + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()


def load(path: Path) -> list[dict[str, Any]]:
    """A history's lines, operations (in the order they ended) and notes."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
