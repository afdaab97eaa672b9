"""The gfs command's master flags default to what MasterConfig says, so the two never drift."""

from __future__ import annotations

import dataclasses

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
