"""The server race's results page states its conditions and marks figures under load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.race_report import markdown, write_results


def _spread(value: float) -> dict[str, float]:
    return {"median": value, "low": value * 0.9, "high": value * 1.1, "n": 2}


def _figures(ours: dict[str, float], theirs: dict[str, float]) -> dict[str, Any]:
    return {key: {"ours": _spread(ours[key]), "theirs": _spread(theirs[key]),
                  "ratio": _spread(ours[key] / theirs[key])} for key in ours}


OURS = {"warm_ttft_ms": 30.0, "reply_tps": 150.0, "reported_decode_tps": 400.0,
        "c16_tokens_per_s": 300.0}
THEIRS = {"warm_ttft_ms": 60.0, "reply_tps": 120.0, "reported_decode_tps": 130.0,
          "c16_tokens_per_s": 180.0}


def _report(under_load: bool, sweep: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "conditions": {
            "cpu": "Test CPU", "cores": 2, "simd": ["avx2"], "threads": 2,
            "onnxruntime": "1.0", "llama_server_build": "llama-server-0.3.36",
            "llama_server_version": "version: 0", "reps": 2, "slots": 16,
            "ctx_per_slot": 1024, "sessions": 16,
            "wait_policy": {"chosen": "PASSIVE", "measured": {"ACTIVE": 3.0, "PASSIVE": 50.0}},
            "loadavg_before": [1.5, 1.0, 0.5],
            "load_during": {"busy_cores_median": 2.0, "foreign_cores_median": 0.9,
                            "foreign_cores_max": 1.0, "load1_max": 3.0},
            "under_load": under_load,
            "load_reasons": ["load1 1.50 > 0.5 before the start"] if under_load else [],
            "started_at": "2026-12-07T03:00:00+00:00", "duration_s": 60, "git_commit": "abc",
        },
        "weights_bytes": {"ours_model": 90 * 2**20, "ours_encoder": 87 * 2**20,
                          "theirs_gguf": 94 * 2**20},
        "figures": _figures(OURS, THEIRS),
        "rss_mb": {"ours": 450.0, "theirs": 900.0}, "rss_mb_after_sweep": {},
        "reps": [{"rep": 0, "under_load": under_load, "foreign_cores": 0.9,
                  "ours": OURS, "theirs": THEIRS}],
        "sweep": sweep,
    }


def test_a_run_under_load_says_so_in_its_title_and_conditions() -> None:
    """The page cannot be quoted without its load: title, reasons and starred repetitions."""
    page = markdown(_report(True, []))
    assert page.startswith("# npc-runtime vs llama-server (UNDER LOAD")
    assert "UNDER LOAD: load1 1.50 > 0.5 before the start" in page
    assert "| 0 * | 0.90 |" in page
    assert "OMP_WAIT_POLICY=PASSIVE (measured on the spot: ACTIVE 3 tok/s, PASSIVE 50" in page


def test_a_quiet_run_is_not_marked_and_the_incomparable_row_has_no_ratio() -> None:
    """No load mark when quiet; the servers' own decode timings are shown, never divided."""
    page = markdown(_report(False, []))
    assert "UNDER LOAD" not in page
    assert "quiet machine" in page
    row = next(line for line in page.splitlines() if "as the server times it" in line)
    assert row.endswith("| - |")
    assert "| 16 sessions at once: aggregate (tok/s) | 300 (270-330) | 180 (162-198) |" in page


def test_results_are_written_as_markdown_json_and_with_a_sweep_svg(tmp_path: Path) -> None:
    """One call writes the page, the raw JSON and the sweep's picture, named by date."""
    point = {"sessions": 1, "rep": 0, "under_load": False, "foreign_cores": 0.0,
             "ours": {"tokens_per_s": 150.0, "ttft_ms_p50": 30.0, "ttft_ms_p95": 30.0,
                      "refused": 0.0},
             "theirs": {"tokens_per_s": 120.0, "ttft_ms_p50": 60.0, "ttft_ms_p95": 60.0,
                        "refused": 0.0}}
    report = _report(False, [point])
    report["rss_mb_after_sweep"] = {"ours": 460.0, "theirs": 910.0}
    paths = write_results(report, tmp_path)
    assert [p.name for p in paths] == ["server-race-2026-12-07.md", "server-race-2026-12-07.json",
                                       "server-race-2026-12-07.svg"]
    assert "![sweep](server-race-2026-12-07.svg)" in paths[0].read_text()
