"""Our LD_PRELOAD libraries (clockwait.c, diskfaults.c), each built once per version of its
source with the system's C compiler, in the temporary directory."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.faults.host import Unsupported


def build(source: Path) -> Path:
    """The shared library built from `source` (a C file beside this one)."""
    text = source.read_bytes()
    digest = hashlib.sha256(text).hexdigest()[:12]
    built = Path(tempfile.gettempdir()) / f"pygfs-{source.stem}-{digest}.so"
    if built.exists():
        return built
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise Unsupported(f"{source.name} needs a C compiler (apt gcc)")
    partial = built.with_name(f"{built.name}.{os.getpid()}")
    done = subprocess.run(
        [compiler, "-O2", "-Wall", "-shared", "-fPIC", "-o", str(partial), str(source), "-ldl"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"building {source.name} failed:\n{done.stderr}")
    partial.replace(built)  # whole, or not there: runs in parallel build it side by side
    return built
