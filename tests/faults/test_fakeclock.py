"""The faked clocks of the clock scenarios: a process on one keeps its timed waits (a server's
heartbeats and lease checks are timed waits) and sees the clock it was given."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.faults import fakeclock
from tests.faults.host import Unsupported

# Threads that wait with a timeout, as a server's loops do; then the clock as the process sees it.
PROGRAM = """
import threading, time
ticks = [0] * 4
def loop(i):
    while ticks[i] < 5:
        threading.Event().wait(0.05)
        ticks[i] += 1
threads = [threading.Thread(target=loop, args=(i,)) for i in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print(sum(ticks), time.time())
"""


def run_on(faketime: str) -> tuple[int, float]:
    try:
        env = fakeclock.environment(faketime)
    except Unsupported as err:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(str(err))
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    ticks, now = done.stdout.split()
    return int(ticks), float(now)


@pytest.mark.parametrize("faketime", ["+0 x2", "+0 x0.9", "+0 x0.5", "-3600", "+3600"])
def test_timed_waits_return_on_a_faked_clock(faketime: str) -> None:
    ticks, _ = run_on(faketime)
    assert ticks == 20


@pytest.mark.parametrize("offset", [-3600, 3600])
def test_the_process_sees_the_clock_it_was_given(offset: int) -> None:
    _, seen = run_on(f"{offset:+d}")
    assert abs(seen - (time.time() + offset)) < 600
