"""`python -m master [OPTIONS]` runs the master; `python -m master shadow [OPTIONS]` a shadow."""

from __future__ import annotations

import sys

from master.cli import master, shadow

if len(sys.argv) > 1 and sys.argv[1] == "shadow":
    shadow.main(sys.argv[2:], prog_name="python -m master shadow")
else:
    master.main(sys.argv[1:], prog_name="python -m master")
