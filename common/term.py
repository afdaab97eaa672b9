"""The newest term of the master a server has heard of (HDFS's "last promised epoch").

Terms (epochs) come from the master replicas' coordinator: each elected active takes the
next. A master replica that promised term N takes nothing from an active of an older one, so
once a majority promised, a deposed active that still runs can get no change acknowledged; a
chunkserver that heard of term N takes no lease, version or deletion from an older one. Kept
durably: a server that restarts keeps it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from common import durable, errors

log = logging.getLogger(__name__)


class Term:
    """`lock` is held around a promise and around whatever must not straddle one (a shadow's
    replay of an active's entries, and what it tells that active it holds)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()
        try:
            self.promised = int(self.path.read_text().strip() or 0)
        except FileNotFoundError:
            self.promised = 0
        except ValueError:
            log.warning("%s is not a term number; taking 0", self.path)
            self.promised = 0

    def promise(self, epoch: int) -> bool:
        """Promises term `epoch` if it is newer than the one promised; True if it was."""
        with self.lock:
            if epoch <= self.promised:
                return False
            durable.replace_file(self.path, [f"{epoch}\n".encode()])
            self.promised = epoch
        log.info("promised term %d", epoch)
        return True

    def check(self, epoch: int, what: str) -> None:
        """Takes an order (`what`) from a master of term `epoch`: FailedPrecondition if a newer
        term was heard of (the order's master was deposed); else that term is the newest."""
        with self.lock:
            if epoch < self.promised:
                raise errors.FailedPrecondition(
                    f"{what} refused: it comes from a master of term {epoch}, and term "
                    f"{self.promised} has another active"
                )
            self.promise(epoch)
