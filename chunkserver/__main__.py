"""`python -m chunkserver [OPTIONS]` runs a chunkserver (as `gfs chunkserver` does)."""

from __future__ import annotations

from chunkserver.cli import chunkserver

chunkserver.main(prog_name="python -m chunkserver")
