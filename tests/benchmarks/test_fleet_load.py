"""The fleet load run's harness, end to end: PostgreSQL, two pinned replicas (tiny
model) and nginx with the shipped config, one short pair of runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_a_short_pair_reports_both_modes_their_ratio_and_the_load(tiny_model_dir: Path
                                                                   ) -> None:
    """One "one" run and one "two" run of a few seconds: turns complete in both, without
    errors, and the report carries the two/one ratios and each run's load verdict."""
    for tool in ("nginx", "taskset", "pg_ctl"):
        if not (shutil.which(tool) or Path("/usr/sbin", tool).exists()
                or any(Path("/usr/lib/postgresql").glob(f"*/bin/{tool}"))):
            pytest.skip(f"{tool} is not installed")
    result = subprocess.run(
        [sys.executable, "benchmarks/fleet_load.py", "--json", "--model", str(tiny_model_dir),
         "--reps", "1", "--seconds", "3", "--warmup-s", "1", "--sessions", "4",
         "--max-new-tokens", "8"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert [r["mode"] for r in report["runs"]] == ["one", "two"]
    for run in report["runs"]:
        assert run["turns"] > 0, run
        assert run["errors"] == {}, run
        assert isinstance(run["under_load"], bool)
        assert sum(run["says_by_replica"].values()) >= run["turns"], run
    assert set(report["runs"][0]["says_by_replica"]) == {"core 0"}  # "one": all on one
    ratio = report["figures"]["turns_per_s"]["ratio_two_over_one"]
    assert ratio["n"] == 1
    assert ratio["median"] > 0
    assert set(report["target"]) == {"turns_per_s_ratio", "met", "under_load", "load_reasons"}
    assert "pair 1/1: two replica(s)" in result.stderr
