"""The committed generated code must be exactly what scripts/gen_protos.sh makes now."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_committed_stubs_match_the_proto_files(tmp_path: Path) -> None:
    subprocess.run(["bash", str(ROOT / "scripts" / "gen_protos.sh"), str(tmp_path)], check=True)
    generated = sorted(p.relative_to(tmp_path) for p in (tmp_path / "protos").iterdir())
    assert generated, "the generator produced nothing"
    for rel in generated:
        committed = ROOT / rel
        assert committed.exists(), f"{rel} is generated but not committed"
        assert committed.read_text() == (tmp_path / rel).read_text(), (
            f"{rel} drifted from protos/*.proto: run scripts/gen_protos.sh"
        )
