"""The sick disks of the disk scenarios (diskfaults.c): the files under a directory fail every
I/O with EIO, or answer slowly, from the moment the fault is written, files already open too;
other files are untouched, and mending lifts it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults.host import Unsupported
from tests.faults.sickdisk import SickDisks

# The process under the faults drives them itself (written through SickDisks, as the fault
# cluster does), so it knows when each began; it prints what each file operation did.
PROGRAM = """
import errno, os, sys, time
from pathlib import Path
from tests.faults.sickdisk import SickDisks
disks, sick, well = SickDisks(Path(sys.argv[1])), Path(sys.argv[2]), Path(sys.argv[3])

def attempt(what, call):
    started = time.monotonic()
    try:
        call()
        outcome = "ok"
    except OSError as err:
        outcome = errno.errorcode[err.errno]
    print(what, outcome, round(time.monotonic() - started, 3))

held = os.open(sick / "held", os.O_RDWR | os.O_CREAT, 0o644)
other = os.open(well / "other", os.O_RDWR | os.O_CREAT, 0o644)
disks.strike("node", sick, "eio")
time.sleep(0.1)  # read again no more than every 20 ms
attempt("pwrite-held", lambda: os.pwrite(held, b"x", 0))
attempt("fdatasync-held", lambda: os.fdatasync(held))
attempt("pread-held", lambda: os.pread(held, 1, 0))
attempt("open-new", lambda: os.open(sick / "new", os.O_WRONLY | os.O_CREAT, 0o644))
attempt("pwrite-other", lambda: os.pwrite(other, b"x", 0))
attempt("open-other", lambda: os.close(os.open(well / "more", os.O_WRONLY | os.O_CREAT, 0o644)))
disks.strike("node", sick, "slow 300")
time.sleep(0.1)
attempt("slow-pwrite-held", lambda: os.pwrite(held, b"y", 0))
disks.mend("node", sick)
time.sleep(0.1)
attempt("mended-pread-held", lambda: os.pread(held, 1, 0))
"""


def test_a_sick_directory_fails_or_slows_its_files_and_only_its_own(tmp_path: Path) -> None:
    sick, well = tmp_path / "sick", tmp_path / "sickly"  # a shared prefix is not a parent
    sick.mkdir()
    well.mkdir()
    try:
        env = SickDisks(tmp_path / "faults").environment("node")
    except Unsupported as err:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(str(err))
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(tmp_path / "faults"), str(sick), str(well)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr
    seen = {
        what: (outcome, float(took))
        for what, outcome, took in map(str.split, done.stdout.splitlines())
    }
    assert {what: outcome for what, (outcome, _) in seen.items()} == {
        "pwrite-held": "EIO",
        "fdatasync-held": "EIO",
        "pread-held": "EIO",
        "open-new": "EIO",
        "pwrite-other": "ok",
        "open-other": "ok",
        "slow-pwrite-held": "ok",
        "mended-pread-held": "ok",
    }
    assert seen["slow-pwrite-held"][1] >= 0.3
    assert (sick / "held").read_bytes() == b"y"
