"""The soak benchmark's harness, end to end against a real server with the tiny model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_short_soak_reports_turns_statuses_and_memory(tiny_model_dir: Path) -> None:
    """Two players for a few seconds: turns complete, memory and CPU are sampled, and the
    overload phase (more players than admitted turns) is answered with statuses, not a
    crash."""
    result = subprocess.run(
        [sys.executable, "benchmarks/soak.py", "--json", "--model", str(tiny_model_dir),
         "--phase", "2:4", "--phase", "6:4", "--max-active-turns", "2",
         "--serve-arg=--max-active-turns", "--serve-arg=2",
         "--serve-arg=--max-queued-turns", "--serve-arg=0"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    report = json.loads(result.stdout)
    calm, overload = report["phases"]
    assert calm["turns_ok"] > 0
    assert calm["errors"] == {}
    assert calm["rss_mb_max_whole_phase"] > 0
    assert overload["turns_ok"] > 0
    assert set(overload["errors"]) <= {"RESOURCE_EXHAUSTED"}
    assert "the server died" not in " ".join(report["failures"])
