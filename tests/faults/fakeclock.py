"""A process on a faked clock: Debian's libfaketime, with our sem_clockwait before it
(clockwait.c says why: without it every timed wait of a Python 3.11 process under
libfaketime 0.9.10 never returned)."""

from __future__ import annotations

from pathlib import Path

from tests.faults import preload
from tests.faults.host import Unsupported

# The thread-safe build, as every server runs threads.
LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")
CLOCKWAIT = Path(__file__).with_name("clockwait.c")


def environment(faketime: str) -> dict[str, str]:
    """The environment that starts a process on the clock `faketime` (libfaketime's FAKETIME:
    "-3600" an hour behind, "+0 x2" at twice the speed)."""
    if not LIBFAKETIME.exists():
        raise Unsupported(f"faking a clock needs libfaketime ({LIBFAKETIME}: apt faketime)")
    return {"LD_PRELOAD": f"{preload.build(CLOCKWAIT)} {LIBFAKETIME}", "FAKETIME": faketime}
