"""The servers' tuning flags default to what their configs say, so the two never drift."""

from __future__ import annotations

import dataclasses

from chunkserver.cli import CHUNKSERVER_FLAGS
from chunkserver.config import ChunkserverConfig
from common.launching import MASTER_FLAGS
from master.config import MasterConfig


def test_every_master_flag_defaults_to_the_config_default() -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(MasterConfig)}
    for flag, _, default, _ in MASTER_FLAGS:
        name = flag.replace("-", "_")
        assert name in defaults, f"--{flag} sets no MasterConfig field"
        assert defaults[name] == default, (
            f"--{flag} defaults to {default}, the config to {defaults[name]}"
        )


def test_every_chunkserver_flag_defaults_to_the_config_default() -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(ChunkserverConfig)}
    for flag, _, default, _ in CHUNKSERVER_FLAGS:
        name = flag.replace("-", "_")
        assert name in defaults, f"--{flag} sets no ChunkserverConfig field"
        assert defaults[name] == default, (
            f"--{flag} defaults to {default}, the config to {defaults[name]}"
        )
