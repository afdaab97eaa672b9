"""A flood of one complaint (gRPC's traceback for every undecodable request) is cut to a few
one-line records per period, and the next period says how many were dropped; a line a server
says over and over is cut the same way; `--log-format json` lines carry an event's fields."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from common.logfilters import RateLimited, same_line
from common.logformat import JsonFormatter, fields


def test_a_flood_is_cut_to_a_few_lines_and_the_rest_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    log = logging.getLogger("test.flood")
    limiter = RateLimited(burst=3, period=60.0, clock=lambda: now[0])
    log.addFilter(limiter)
    try:
        with caplog.at_level(logging.ERROR, logger="test.flood"):
            for _ in range(20):
                try:
                    raise ValueError("Error parsing message")
                except ValueError:
                    log.exception("Exception deserializing request!")
            assert len(caplog.records) == 3
            assert all(r.exc_info is None for r in caplog.records), "no traceback"
            assert caplog.records[0].getMessage() == (
                "Exception deserializing request! (ValueError: Error parsing message)"
            )
            now[0] = 61.0
            log.error("Exception deserializing request!")
            assert caplog.records[-1].getMessage().endswith("[17 more like it were not logged]")
    finally:
        log.removeFilter(limiter)


def test_a_line_said_over_and_over_is_cut_but_other_lines_pass(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    log = logging.getLogger("test.repeats")
    limiter = RateLimited(
        burst=2, period=60.0, clock=lambda: now[0], key=same_line, floor=logging.INFO,
        one_line=False,
    )  # fmt: skip
    log.addFilter(limiter)
    try:
        with caplog.at_level(logging.DEBUG, logger="test.repeats"):
            for i in range(10):
                log.warning("heartbeat to master failed: %s", "connection refused")
                log.info("chunk %d created", i)  # ten different lines: all pass
                log.debug("detail")  # below the floor: never cut
            try:
                raise OSError("disk gone")
            except OSError:
                log.exception("write failed")
        said = [r.getMessage() for r in caplog.records]
        assert said.count("heartbeat to master failed: connection refused") == 2
        assert len([m for m in said if m.startswith("chunk ")]) == 10
        assert said.count("detail") == 10
        assert caplog.records[-1].exc_info is not None, "a traceback is kept"
        now[0] = 61.0
        log.warning("heartbeat to master failed: %s", "connection refused")
        assert caplog.records[-1].getMessage() == (
            "heartbeat to master failed: connection refused [8 more like it were not logged]"
        )
    finally:
        log.removeFilter(limiter)


def test_json_lines_carry_an_events_fields_and_its_error() -> None:
    log = logging.getLogger("test.json")
    record = log.makeRecord(
        "test.json", logging.WARNING, __file__, 1, "chunkserver %s is dead", ("cs1:7000",), None,
        extra=fields("chunkserver_dead", address="cs1:7000", handles={3, 4}),
    )  # fmt: skip
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "chunkserver cs1:7000 is dead"
    assert (line["level"], line["logger"], line["event"]) == (
        "WARNING",
        "test.json",
        "chunkserver_dead",
    )
    assert line["address"] == "cs1:7000" and line["handles"] == "{3, 4}"  # not JSON: as text
    assert "msg" not in line and "args" not in line
    try:
        raise ValueError("bad")
    except ValueError:
        failed = log.makeRecord(
            "test.json", logging.ERROR, __file__, 1, "it failed", (), sys.exc_info()
        )
    assert "ValueError: bad" in json.loads(JsonFormatter().format(failed))["error"]
