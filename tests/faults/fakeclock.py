"""A process on a faked clock: Debian's libfaketime, with our sem_clockwait beside it
(clockwait.c says why: without it every timed wait of a Python 3.11 process under
libfaketime 0.9.10 never returned)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.faults.host import Unsupported

# The thread-safe build, as every server runs threads.
LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")
SOURCE = Path(__file__).with_name("clockwait.c")


def environment(faketime: str) -> dict[str, str]:
    """The environment that starts a process on the clock `faketime` (libfaketime's FAKETIME:
    "-3600" an hour behind, "+0 x2" at twice the speed)."""
    if not LIBFAKETIME.exists():
        raise Unsupported(f"faking a clock needs libfaketime ({LIBFAKETIME}: apt faketime)")
    return {"LD_PRELOAD": f"{clockwait()} {LIBFAKETIME}", "FAKETIME": faketime}


def clockwait() -> Path:
    """clockwait.c built once per version of its source (in the temporary directory)."""
    source = SOURCE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:12]
    built = Path(tempfile.gettempdir()) / f"pygfs-clockwait-{digest}.so"
    if built.exists():
        return built
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise Unsupported("faking a clock needs a C compiler for clockwait.c (apt gcc)")
    partial = built.with_name(f"{built.name}.{os.getpid()}")
    subprocess.run(
        [compiler, "-O2", "-shared", "-fPIC", "-o", str(partial), str(SOURCE), "-ldl"],
        check=True,
        capture_output=True,
    )
    partial.replace(built)  # whole, or not there: runs in parallel build it side by side
    return built
