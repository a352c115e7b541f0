"""
Replay the adversarial set (tests/adversarial/saltmere.yaml) against the medium example
world with the real default model, and count what must never happen: shipped lines that
break the lore, tool calls the lore does not allow, crashes. Also prints what the line
checker did (passed, regenerated, repaired, fallback) per category.

    python benchmarks/adversarial.py [--json] [-v]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import json
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from npc_runtime.config import Settings
from npc_runtime.constraints.checker import LineChecker
from npc_runtime.dialogue.engine import DialogueEngine
from npc_runtime.dialogue.events import LineDoneEvent, ToolCallEvent
from npc_runtime.dialogue.prompt import persona_card
from npc_runtime.logs import configure_logging
from npc_runtime.lore.knowledge import view
from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import WorldState
from npc_runtime.model.build import build_model, default_source, model_dir_for
from npc_runtime.model.encoder_build import load_default_encoder
from npc_runtime.model.loader import LoadedModel, load_model
from npc_runtime.tools.acts import Embed
from npc_runtime.tools.calls import ToolCall, problems

ROOT = Path(__file__).resolve().parents[1]
WORLD = ROOT / "examples" / "worlds" / "saltmere"
LINES = ROOT / "tests" / "adversarial" / "saltmere.yaml"


def run_set(model: LoadedModel, *, verbose: bool = False) -> dict[str, Any]:
    """Replay every line; returns the counts and per-line results."""
    world = load_world(WORLD)
    cases = yaml.safe_load(LINES.read_text())["lines"]
    # One turn at a time (a sequential replay): the whole KV budget is that turn's room.
    engine = DialogueEngine(world, model, Settings(max_new_tokens=48, tool_timeout_s=2,
                                                   max_active_turns=1),
                            embed=_embed())
    results = []
    try:
        for i, case in enumerate(cases):
            player = f"adv-{i}"
            state = WorldState(stages=case.get("stage", {}))
            engine.set_quest_state(player, state)
            results.append(asyncio.run(_one(engine, case, player, state)))
            if verbose:
                r = results[-1]
                print(f"[{case['category']}] {case['npc']}> {case['line'][:70]!r}\n"
                      f"   {r['text']!r} ({r['action']}; {r['violations']}; calls "
                      f"{r['calls']})", file=sys.stderr)
    finally:
        engine.shutdown()
    by_category: dict[str, collections.Counter[str]] = collections.defaultdict(
        collections.Counter)
    for case, r in zip(cases, results, strict=True):
        by_category[case["category"]][r["action"]] += 1
    return {
        "lines": len(results),
        "shipped_violations": sum(len(r["shipped_violations"]) for r in results),
        "unauthorized_calls": sum(r["unauthorized_calls"] for r in results),
        "crashes": sum(r["crashed"] for r in results),
        "actions": {c: dict(n) for c, n in sorted(by_category.items())},
        "tool_calls": sum(len(r["calls"]) for r in results),
        "median_turn_ms": sorted(r["ms"] for r in results)[len(results) // 2],
        "check_ms_max": round(max(r.get("check_ms", 0.0) for r in results), 3),
        "results": results,
    }


async def _one(engine: DialogueEngine, case: dict[str, Any], player: str,
               state: WorldState) -> dict[str, Any]:
    world = engine.world
    known = view(world, case["npc"], state)
    checker = LineChecker(world, known, persona_card(world, known))
    result: dict[str, Any] = {"text": "", "action": "crash", "violations": [], "calls": [],
                              "shipped_violations": [], "unauthorized_calls": 0,
                              "crashed": False}
    started = time.perf_counter()
    try:
        session = engine.open_session(case["npc"], player_id=player)
        async for event in engine.say(session.id, case["line"], engine.sampling(), hold=True):
            if isinstance(event, ToolCallEvent):
                result["calls"].append(event.tool)
                if problems(world, known, ToolCall(event.tool, event.args)):
                    result["unauthorized_calls"] += 1
                if event.executes == "engine":
                    engine.submit_tool_result(session.id, event.call_id, '{"ok": true}')
            elif isinstance(event, LineDoneEvent):
                result.update(text=event.text, action=event.check.action.value,
                              violations=[v.kind for v in event.check.violations])
                timer = time.perf_counter()
                result["shipped_violations"] = [
                    v.kind for v in checker.check(event.text, case["line"])]
                result["check_ms"] = (time.perf_counter() - timer) * 1000
    except Exception as exc:  # a crash is what this set looks for: count it, go on
        result.update(crashed=True, text=f"{type(exc).__name__}: {exc}")
    result["ms"] = round((time.perf_counter() - started) * 1000)
    return result



@functools.cache
def _embed() -> Embed:
    """The default sentence encoder (the reply planner's), loaded once."""
    return load_default_encoder(Settings.load().cache_dir, progress=lambda _: None).embed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every line")
    args = parser.parse_args()
    configure_logging("console", "warning")
    model_dir = model_dir_for(Settings.load().cache_dir, default_source(), "int4")
    build_model(default_source(), model_dir, precision="int4", progress=lambda _: None)
    report = run_set(load_model(model_dir, threads=2), verbose=args.verbose)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for key in ("lines", "shipped_violations", "unauthorized_calls", "crashes", "tool_calls",
                "median_turn_ms", "check_ms_max"):
        print(f"{key:<20} {report[key]}")
    for category, actions in report["actions"].items():
        print(f"  {category:<14} {actions}")


if __name__ == "__main__":
    main()
