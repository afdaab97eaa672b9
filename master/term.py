"""The term a master replica has promised to follow (HDFS's journal "last promised epoch").

Terms (epochs) come from the coordinator: each elected active takes the next. A replica that
promised term N takes nothing from an active of an older one, so once a majority promised, a
deposed active that still runs can get no change acknowledged. The promise is durable: a
replica that restarts keeps it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from common import durable

log = logging.getLogger(__name__)


class Term:
    """`lock` is held around a promise and around whatever must not straddle one (a shadow's
    replay of an active's entries, and what it tells that active it holds)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "epoch"
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
