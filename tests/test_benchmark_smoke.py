"""The benchmark script keeps working (its figures are judged by people, not by this test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.cluster
def test_throughput_benchmark_runs_and_reports_both_ratios(tmp_path: Path) -> None:
    out = tmp_path / "throughput.json"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "throughput.py"),
            "--size-mib",
            "16",
            "--rounds",
            "1",
            "--json",
            str(out),
            "--work-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    # 0: targets met, 1: a target missed on this (possibly loaded) machine; anything else,
    # including 2 (pygfs returned different bytes), is a failure.
    assert result.returncode in (0, 1), result.stdout + result.stderr
    figures = json.loads(out.read_text())
    assert set(figures["mb_per_s"]) == {"bare_put", "gfs_put", "bare_get", "gfs_get"}
    assert all(v > 0 for v in figures["mb_per_s"].values())
    assert "put/(a): best" in result.stdout and "get/(b): best" in result.stdout
    assert "(a) bare 3-process chain" in result.stdout
    assert set(figures["ratios_median"]) == {"put", "get"}
