"""
The server race's report: the machine it ran on, a console table, and the results files
(markdown stating the conditions, the raw JSON, and the sweep as an SVG drawn by hand:
matplotlib is not a dependency of the project).
"""

from __future__ import annotations

import json
import math
import os
import platform
from pathlib import Path
from typing import Any

import onnxruntime

# npc-runtime times its decode from its first released sentence (the tokens it drafted
# before then count as free), llama-server from its first token: shown, never divided.
NO_RATIO = {"reported_decode_tps"}
NOTE = ("Decode as the server times it is not comparable: npc-runtime counts from its first "
        "released sentence, llama-server from its first token; compare the whole-turn rate.")

# (label, metric key, unit, digits); c{N}_ keys are filled in with the session count.
ROWS = [
    ("new session, NPC prefix cached: TTFT", "new_session_ttft_ms", "ms", 0),
    ("warm turn (~30-token line): TTFT", "warm_ttft_ms", "ms", 0),
    ("reply, batch 1: tokens / whole turn", "reply_tps", "tok/s", 0),
    ("decode, batch 1, as the server times it", "reported_decode_tps", "tok/s", 0),
    ("{n} sessions at once: aggregate", "c{n}_tokens_per_s", "tok/s", 0),
    ("{n} sessions at once: TTFT p50", "c{n}_ttft_ms_p50", "ms", 0),
    ("{n} sessions at once: TTFT p95", "c{n}_ttft_ms_p95", "ms", 0),
    ("{n} sessions at once: refused", "c{n}_refused", "", 0),
    ("{n} sessions at once: said without the model", "c{n}_without_model", "", 0),
    ("warm turn: prompt tokens", "warm_prompt_tokens", "", 0),
    ("warm turn: generated tokens", "warm_tokens", "", 0),
    ("decode: generated tokens", "decode_tokens", "", 0),
    ("decode: prompt tokens", "decode_prompt_tokens", "", 0),
    ("{n} sessions: generated tokens", "c{n}_tokens", "", 0),
]


def machine() -> dict[str, Any]:
    """The CPU, its SIMD extensions that matter here, and the onnxruntime version."""
    name, flags = "unknown", set[str]()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
    simd = [f for f in ("avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx_vnni")
            if f in flags]
    return {"cpu": name or platform.processor(), "cores": os.cpu_count(), "simd": simd,
            "onnxruntime": onnxruntime.__version__}


def _rows(report: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    n = report["conditions"]["sessions"]
    return [(label.format(n=n), key.format(n=n), unit, digits)
            for label, key, unit, digits in ROWS if key.format(n=n) in report["figures"]]


def _cell(spread: dict[str, Any], digits: int) -> str:
    if not spread["n"] or math.isnan(spread["median"]):
        return "-"
    if spread["n"] == 1:
        return f"{spread['median']:.{digits}f}"
    return (f"{spread['median']:.{digits}f} ({spread['low']:.{digits}f}-"
            f"{spread['high']:.{digits}f})")


def _ratio(spread: dict[str, Any]) -> str:
    if not spread["n"] or math.isnan(spread["median"]):
        return "-"
    return f"{spread['median']:.2f} ({spread['low']:.2f}-{spread['high']:.2f})"


def _conditions(report: dict[str, Any]) -> list[str]:
    c = report["conditions"]
    w = report["weights_bytes"]
    policy = c["wait_policy"]
    measured = ", ".join(f"{k} {v:.0f} tok/s" for k, v in policy["measured"].items())
    during = c["load_during"]
    lines = [
        f"{c['cpu']}, {c['cores']} cores ({', '.join(c['simd'])}), {c['threads']} threads "
        f"each side; onnxruntime {c['onnxruntime']}; {c['llama_server_build']} (llama.cpp "
        f"from the llama-cpp-python sdist; it says: {c['llama_server_version']})",
        f"npc-runtime: default turn pipeline, tool_choice none, onnxruntime spinning "
        f"{c.get('ours_spin', 'on')}",
        f"{c['reps']} interleaved repetitions (npc-runtime then llama-server, the idle one "
        f"SIGSTOPped), median (min-max); ratio = median of per-repetition ratios",
        f"llama-server: --parallel {c['slots']}, -c {c['slots'] * c['ctx_per_slot']} "
        f"({c['ctx_per_slot']} per slot), continuous batching, prompt cache, "
        f"OMP_WAIT_POLICY={policy['chosen'] or 'unset'}"
        + (f" (measured on the spot: {measured})" if measured else ""),
        f"weights: npc-runtime model {w['ours_model'] / 2**20:.1f} MiB (+ sentence encoder "
        f"{w['ours_encoder'] / 2**20:.1f} MiB), llama-server GGUF "
        f"{w['theirs_gguf'] / 2**20:.1f} MiB",
        "load before: " + ", ".join(f"{v:.2f}" for v in c["loadavg_before"])
        + " (1/5/15 min); during: busy "
        + f"{during.get('busy_cores_median', math.nan):.2f} cores, other processes "
        + f"{during.get('foreign_cores_median', math.nan):.2f} (max "
        + f"{during.get('foreign_cores_max', math.nan):.2f}), load1 max "
        + f"{during.get('load1_max', math.nan):.2f}",
        ("UNDER LOAD: " + "; ".join(c["load_reasons"])) if c["under_load"]
        else "quiet machine (load1 <= 0.5 before; other processes <= 0.25 cores during)",
        f"{c['started_at']}, {c['duration_s']} s, commit {c['git_commit']}",
    ]
    loaded = [r["rep"] for r in report["reps"] if r["under_load"]]
    if loaded:
        lines.append(f"repetitions under load (marked *): {loaded}")
    return lines


def print_table(report: dict[str, Any]) -> None:
    """The console form: conditions, then metric, both sides and the ratio."""
    for line in _conditions(report):
        print(f"# {line}")
    print(f"{'metric':<44} {'npc-runtime':>20} {'llama-server':>20} {'ratio':>18}")
    for label, key, unit, digits in _rows(report):
        f = report["figures"][key]
        ratio = "-" if key in NO_RATIO else _ratio(f["ratio"])
        print(f"{(label + (' ' + unit if unit else '')):<44} {_cell(f['ours'], digits):>20} "
              f"{_cell(f['theirs'], digits):>20} {ratio:>18}")
    rss = report["rss_mb"]
    print(f"{'server peak RSS MB':<44} {rss['ours']:>20.0f} {rss['theirs']:>20.0f} "
          f"{rss['ours'] / rss['theirs']:>18.2f}")
    print(f"# {NOTE}")
    for point in report["sweep"]:
        a, b = point["ours"], point["theirs"]
        mark = " *" if point["under_load"] else ""
        print(f"sweep {point['sessions']:>2} sessions: {a['tokens_per_s']:6.0f} vs "
              f"{b['tokens_per_s']:6.0f} tok/s, TTFT p95 {a['ttft_ms_p95']:6.0f} vs "
              f"{b['ttft_ms_p95']:6.0f} ms, refused {a['refused']:.0f} vs "
              f"{b['refused']:.0f}{mark}")


def markdown(report: dict[str, Any]) -> str:
    """The results page: conditions first, then the table, the repetitions, the sweep."""
    loaded = " (UNDER LOAD: see the conditions)" if report["conditions"]["under_load"] else ""
    out = [f"# npc-runtime vs llama-server{loaded}", "",
           "`python benchmarks/server_race.py --write benchmarks/results "
           f"--reps {report['conditions']['reps']}"
           + (" --sweep" if report["sweep"] else "") + "`", "", "Conditions:", ""]
    out += [f"- {line}" for line in _conditions(report)]
    out += ["", "| scenario | npc-runtime | llama-server | ratio |", "|---|---|---|---|"]
    for label, key, unit, digits in _rows(report):
        f = report["figures"][key]
        ratio = "-" if key in NO_RATIO else _ratio(f["ratio"])
        out.append(f"| {label}{' (' + unit + ')' if unit else ''} | {_cell(f['ours'], digits)} "
                   f"| {_cell(f['theirs'], digits)} | {ratio} |")
    rss = report["rss_mb"]
    out.append(f"| server peak RSS (MB) | {rss['ours']:.0f} | {rss['theirs']:.0f} "
               f"| {rss['ours'] / rss['theirs']:.2f} |")
    out += ["", NOTE, "", "Per repetition (npc-runtime / llama-server; * under load):", "",
            "| rep | other processes (cores) | warm TTFT ms | reply tok/s, batch 1 | "
            f"{report['conditions']['sessions']} sessions tok/s |", "|---|---|---|---|---|"]
    n = report["conditions"]["sessions"]
    for r in report["reps"]:
        a, b = r["ours"], r["theirs"]
        out.append(f"| {r['rep']}{' *' if r['under_load'] else ''} | "
                   f"{r['foreign_cores']:.2f} | {a['warm_ttft_ms']:.0f} / "
                   f"{b['warm_ttft_ms']:.0f} | {a['reply_tps']:.0f} / {b['reply_tps']:.0f} | "
                   f"{a[f'c{n}_tokens_per_s']:.0f} / {b[f'c{n}_tokens_per_s']:.0f} |")
    if report["sweep"]:
        out += ["", "Concurrency sweep (one interleaved run per point unless stated; "
                "![sweep](" + _stem(report) + ".svg)):", "",
                "| sessions | tok/s | TTFT p50 ms | TTFT p95 ms | refused |",
                "|---|---|---|---|---|"]
        for p in report["sweep"]:
            a, b = p["ours"], p["theirs"]
            out.append(f"| {p['sessions']}{' *' if p['under_load'] else ''} | "
                       f"{a['tokens_per_s']:.0f} / {b['tokens_per_s']:.0f} | "
                       f"{a['ttft_ms_p50']:.0f} / {b['ttft_ms_p50']:.0f} | "
                       f"{a['ttft_ms_p95']:.0f} / {b['ttft_ms_p95']:.0f} | "
                       f"{a['refused']:.0f} / {b['refused']:.0f} |")
        after = report["rss_mb_after_sweep"]
        out.append(f"\nPeak RSS after the sweep: npc-runtime {after['ours']:.0f} MB, "
                   f"llama-server {after['theirs']:.0f} MB.")
    return "\n".join(out) + "\n"


def _stem(report: dict[str, Any]) -> str:
    return "server-race-" + str(report["conditions"]["started_at"])[:10]


def write_results(report: dict[str, Any], folder: Path) -> list[Path]:
    """server-race-DATE.md, .json and (with a sweep) .svg in ``folder``; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / _stem(report)
    paths = [stem.with_suffix(".md"), stem.with_suffix(".json")]
    paths[0].write_text(markdown(report))
    paths[1].write_text(json.dumps(report, indent=2) + "\n")
    if report["sweep"]:
        from benchmarks.race_plot import sweep_svg

        paths.append(stem.with_suffix(".svg"))
        paths[2].write_text(sweep_svg(report["sweep"]))
    return paths
