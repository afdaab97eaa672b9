"""A flood of one complaint (gRPC's traceback for every undecodable request) is cut to a few
one-line records per period, and the next period says how many were dropped."""

from __future__ import annotations

import logging

import pytest

from common.logfilters import RateLimited


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
