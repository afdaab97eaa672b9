"""How servers write their log: plain lines for people, or `--log-format json` for log
pipelines, one JSON object a line. A significant event carries its facts as fields (`fields`:
the event's name, chunk handle, path, address...), so a pipeline filters on them instead of
parsing sentences."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")

# The attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}


def fields(event: str, **facts: Any) -> dict[str, Any]:
    """The `extra=` of a significant event: `log.info("...", x, extra=fields("lease_granted",
    handle=h, address=a))`."""
    return {"event": event, **facts}


class JsonFormatter(logging.Formatter):
    """{"time", "level", "logger", "message", ...the record's fields, "error" if it carries an
    exception}; values JSON cannot hold are written as text."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update((k, v) for k, v in vars(record).items() if k not in _STANDARD)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def formatter(kind: str) -> logging.Formatter:
    return JsonFormatter() if kind == "json" else logging.Formatter(TEXT_FORMAT)
