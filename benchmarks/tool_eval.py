"""
Tool choice: does the NPC act only when the player asks, and then do the right thing?

Lines from the tool benchmark's data files (`benchmarks/data/tools/`, its README says how
they were written and how each set may be used): each has a world, an NPC, the player's
line, optionally a quest `state` and the conversation before it (`history`), and what a
game designer expects: `expect: none` (no call) or `expect: {tool: ID, args: {...}}`.

Each line is said in a fresh session of an in-process engine with the default model
(the tool choice runs before any token is spoken; the reply is spoken too, briefly), its
history set as the session's history and its state as the player's quest state; engine
tool calls are answered `{"ok": true}`: played and judged by
`npc_runtime/dialogue/world_tests.py`, as a world's own tests are. Reported per file and
per kind: for lines that expect none, the lines with any call and the calls; for
requests, the right tool (first call), the right tool with the expected arguments, no
call, a wrong tool.

    python benchmarks/tool_eval.py --data benchmarks/data/tools/dev.yaml [-v] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from npc_runtime.config import Settings
from npc_runtime.dialogue.engine import DialogueEngine
from npc_runtime.dialogue.world_tests import play, verdict
from npc_runtime.logs import configure_logging
from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import Exchange, ToolCall, World, WorldState
from npc_runtime.lore.world_tests import exchanges, expectation, world_state
from npc_runtime.model.build import build_model, default_source, model_dir_for
from npc_runtime.model.encoder_build import load_default_encoder
from npc_runtime.model.loader import LoadedModel, load_model

ROOT = Path(__file__).resolve().parent.parent  # data files name worlds relative to it
THREADS = 2
MAX_NEW_TOKENS = 32  # the reply after the choice: short, it is not what is judged


@dataclasses.dataclass(frozen=True)
class Line:
    """One player line and what a designer expects of it."""

    file: str
    index: int
    world: str
    npc: str
    text: str
    kind: str
    state: dict[str, Any]
    history: tuple[Exchange, ...]  # the conversation before the line, oldest first
    expect: ToolCall | None  # None: no call expected


def read_lines(path: Path) -> list[Line]:
    """The lines of a data file; SystemExit naming the file and line on bad format."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SystemExit(f"{path}: cannot read: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("lines"), list):
        raise SystemExit(f"{path}: expected a mapping with a `lines:` list")
    return [_line(path, i, item) for i, item in enumerate(data["lines"])]


def _line(path: Path, i: int, item: Any) -> Line:
    where = f"{path}: lines[{i}]"
    if not isinstance(item, dict) or not all(isinstance(item.get(k), str)
                                             for k in ("world", "npc", "text")):
        raise SystemExit(f"{where}: needs world, npc and text (strings)")
    try:  # read as world tests read theirs (npc_runtime/lore/world_tests.py)
        expect, history = expectation(item.get("expect")), exchanges(item.get("history"))
    except ValueError as exc:
        raise SystemExit(f"{where}: {exc}") from exc
    return Line(file=path.name, index=i, world=item["world"], npc=item["npc"],
                text=item["text"], kind=str(item.get("kind", "")),
                state=dict(item.get("state") or {}), history=history, expect=expect)


def _state(state: dict[str, Any]) -> WorldState:
    """A line's `state` (as the persona set writes it too) as the player's quest state."""
    return world_state({"stages": state.get("stages"),
                        "revealed": state.get("revealed") or state.get("revealed_facts"),
                        "has": state.get("has") or state.get("player_items")})


async def _run_line(engine: DialogueEngine, line: Line, n: int) -> dict[str, Any]:
    played = await play(engine, line.npc, line.text, state=_state(line.state),
                        history=line.history, player=f"tools-{n}")
    return {"calls": [{"tool": c.tool, "args": dict(c.args)} for c in played.calls],
            "reply": played.reply, "error": played.error, "ms": played.ms,
            "offer_seen": played.offer,
            "asked_first": ({"tool": played.asked_first.tool, "args": dict(played.asked_first.args)}
                            if played.asked_first else None)}


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts over ``rows``: lines that expect none and those that made a call; requests
    and how they went."""
    negatives = [r for r in rows if r["expect"] is None]
    positives = [r for r in rows if r["expect"] is not None]
    outcomes = Counter(r["verdict"] for r in positives)
    return {
        "lines": len(rows),
        "negative_lines": len(negatives),
        "negative_lines_with_a_call": sum(r["verdict"] == "unasked" for r in negatives),
        "unasked_calls": sum(len(r["calls"]) for r in negatives),
        "requests": len(positives),
        "right": outcomes["right"],
        "right_pct": round(100 * outcomes["right"] / len(positives), 1) if positives else None,
        "right_tool": outcomes["right"] + outcomes["right tool"],
        "missed": outcomes["missed"],
        "wrong_tool": outcomes["wrong tool"],
        "offers_missed": sum(r["offer"] != r["offer_seen"] for r in rows),
        # Asked first (tools/confirm.py): the NPC offered a call instead of acting; a yes
        # would take it. Not a call, so neither right nor unasked above.
        "negative_lines_asked_first": sum(r["asked_first"] is not None for r in negatives),
        "requests_asked_first_right": sum(
            r["verdict"] == "missed" and r["asked_first"] is not None
            and verdict(ToolCall(r["expect"]["tool"], r["expect"]["args"]),
                        [ToolCall(r["asked_first"]["tool"], r["asked_first"]["args"])])
            == "right" for r in positives),
    }


def _engine(world: World, model: LoadedModel) -> DialogueEngine:
    embed = load_default_encoder(Settings.load().cache_dir, progress=lambda _: None).embed
    return DialogueEngine(world, model, Settings(max_new_tokens=MAX_NEW_TOKENS, threads=THREADS,
                                                 max_active_turns=1, tool_timeout_s=5,
                                                 state_db=None),
                          embed=embed)


async def run(lines: list[Line], model: LoadedModel, *, verbose: bool) -> list[dict[str, Any]]:
    rows = []
    for world_name in dict.fromkeys(line.world for line in lines):
        folder = Path(world_name) if Path(world_name).is_absolute() else ROOT / world_name
        engine = _engine(load_world(folder), model)
        try:
            for n, line in enumerate(x for x in lines if x.world == world_name):
                result = await _run_line(engine, line, n)
                row = {"file": line.file, "index": line.index, "world": line.world,
                       "npc": line.npc, "text": line.text, "kind": line.kind,
                       "expect": ({"tool": line.expect.tool, "args": dict(line.expect.args)}
                                  if line.expect else None), **result,
                       "verdict": verdict(line.expect, [ToolCall(c["tool"], c["args"])
                                                        for c in result["calls"]]),
                       "offer": line.history[-1].proposed.tool
                       if line.history and line.history[-1].proposed else ""}
                rows.append(row)
                if verbose and row["offer"] != row["offer_seen"]:
                    print(f"{'offer':>10}  {line.npc}: after {line.history[-1].npc!r} the "
                          f"engine sees {row['offer_seen'] or 'no offer'} (the data: "
                          f"{row['offer'] or 'none'})", file=sys.stderr)
                if verbose and row["asked_first"]:
                    print(f"{'asks':>10}  {line.npc}: {line.text!r} -> offers "
                          f"{row['asked_first']} (expected {row['expect']})", file=sys.stderr)
                if verbose and row["verdict"] not in ("quiet", "right"):
                    print(f"{row['verdict']:>10}  {line.npc}: {line.text!r} -> "
                          f"{row['calls']} (expected {row['expect']})", file=sys.stderr)
        finally:
            engine.shutdown()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", type=Path, action="append", required=True,
                        help="a data file (repeatable)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N lines a file")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print each line that went wrong")
    args = parser.parse_args()
    configure_logging("console", "warning")
    lines = [line for path in args.data for line in read_lines(path)[: args.limit or None]]
    model_dir = model_dir_for(Settings.load().cache_dir, default_source(), "int4")
    build_model(default_source(), model_dir, precision="int4", progress=lambda _: None)
    started = time.perf_counter()
    rows = asyncio.run(run(lines, load_model(model_dir, threads=THREADS), verbose=args.verbose))
    report = {"seconds": round(time.perf_counter() - started),
              "all": summarise(rows),
              "files": {f: summarise([r for r in rows if r["file"] == f])
                        for f in dict.fromkeys(r["file"] for r in rows)},
              "kinds": {k: summarise([r for r in rows if r["kind"] == k])
                        for k in sorted({r["kind"] for r in rows})},
              "records": rows}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{'':<22}{'lines':>6}{'neg':>6}{'called':>8}{'calls':>7}{'req':>6}{'right':>7}"
          f"{'tool':>6}{'missed':>8}{'wrong':>7}{'offers':>8}{'ask-':>6}{'ask+':>6}")
    for name, s in [("all", report["all"]), *report["files"].items(),
                    *report["kinds"].items()]:
        print(f"{name[:22]:<22}{s['lines']:>6}{s['negative_lines']:>6}"
              f"{s['negative_lines_with_a_call']:>8}{s['unasked_calls']:>7}{s['requests']:>6}"
              f"{s['right']:>7}{s['right_tool']:>6}{s['missed']:>8}{s['wrong_tool']:>7}"
              f"{s['offers_missed']:>8}{s['negative_lines_asked_first']:>6}"
              f"{s['requests_asked_first_right']:>6}")
    print("neg: lines that ask for nothing; called: of those, lines with a call; right: the "
          "expected tool and arguments; tool: the expected tool; offers: lines whose pending "
          "offer (the data's `proposed`) the engine saw otherwise; ask-: lines that ask for "
          "nothing the NPC answered by offering a call (tools/confirm.py), ask+: missed "
          "requests it answered by offering the expected call (a yes would take it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
