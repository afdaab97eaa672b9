"""Sick disks for local processes: diskfaults.c preloaded into every chunkserver, and the faults
it reads, written per node (a data directory failing every I/O with EIO, or slow)."""

from __future__ import annotations

from pathlib import Path

from tests.faults import preload

DISKFAULTS = Path(__file__).with_name("diskfaults.c")


class SickDisks:
    """The disk faults of each node, in `folder/NODE`, which that node's diskfaults.c reads."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.faults: dict[str, dict[Path, str]] = {}

    def environment(self, node: str) -> dict[str, str]:
        """What starts `node` reading its faults (none yet)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        return {
            "LD_PRELOAD": str(preload.build(DISKFAULTS)),
            "GFS_DISK_FAULTS": str(self.folder / node),
        }

    def strike(self, node: str, directory: Path, fault: str) -> None:
        """From now on every file of `node` under `directory`: "eio" or "slow MS"."""
        self.faults.setdefault(node, {})[directory] = fault
        self._write(node)

    def mend(self, node: str, directory: Path) -> None:
        self.faults.get(node, {}).pop(directory, None)
        self._write(node)

    def _write(self, node: str) -> None:
        text = "".join(f"{d} {f}\n" for d, f in self.faults.get(node, {}).items())
        partial = self.folder / f".{node}.partial"
        partial.write_text(text)
        partial.replace(self.folder / node)  # read whole or not at all
