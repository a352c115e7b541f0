"""
Tool choice: does the NPC act only when the player asks, and then do the right thing?

Lines from the tool benchmark's data files (`benchmarks/data/tools/`, its README says how
they were written and how each set may be used): each has a world, an NPC, the player's
line, optionally a quest `state` and the conversation before it (`history`), and what a
game designer expects: `expect: none` (no call) or `expect: {tool: ID, args: {...}}`.

Each line is said in a fresh session of an in-process engine with the default model
(the tool choice runs before any token is spoken; the reply is spoken too, briefly), its
history set as the session's history and its state as the player's quest state; engine
tool calls are answered `{"ok": true}`. Reported per file and per kind: for lines that
expect none, the lines with any call and the calls; for requests, the right tool (first
call), the right tool with the expected arguments, no call, a wrong tool.

    python benchmarks/tool_eval.py --data benchmarks/data/tools/dev.yaml [-v] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from npc_runtime.config import Settings
from npc_runtime.dialogue.engine import DialogueEngine
from npc_runtime.dialogue.events import LineDoneEvent, ToolCallEvent
from npc_runtime.errors import NpcRuntimeError
from npc_runtime.logs import configure_logging
from npc_runtime.lore.knowledge import view
from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import World, WorldState
from npc_runtime.model.build import build_model, default_source, model_dir_for
from npc_runtime.model.encoder_build import load_default_encoder
from npc_runtime.model.loader import LoadedModel, load_model
from npc_runtime.tools.choice import proposed

ROOT = Path(__file__).resolve().parent.parent  # data files name worlds relative to it
THREADS = 2
MAX_NEW_TOKENS = 32  # the reply after the choice: short, it is not what is judged
TOOL_RESULT = '{"ok": true}'


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
    history: tuple[tuple[str, str], ...]  # (role, text) as a session keeps them
    last_calls: tuple[tuple[str, dict[str, Any]], ...]  # the NPC's calls since the last line
    offered: str  # the tool the NPC's last turn proposed, as the data says ("" none)
    tool: str | None  # None: no call expected
    args: dict[str, Any]


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
    expect = item.get("expect", "none")
    if expect in (None, "none"):
        tool, args = None, {}
    elif isinstance(expect, dict) and isinstance(expect.get("tool"), str):
        tool, args = expect["tool"], dict(expect.get("args") or {})
    else:
        raise SystemExit(f"{where}: expect is `none` or {{tool: ID, args: {{...}}}}")
    history: list[tuple[str, str]] = []
    calls: list[tuple[str, dict[str, Any]]] = []
    offered = ""
    for turn in item.get("history") or []:
        if not isinstance(turn, dict):
            raise SystemExit(f"{where}: history items are mappings (player, npc, called)")
        if turn.get("player"):
            history.append(("user", str(turn["player"])))
            calls = []
        if isinstance(called := turn.get("called"), dict):  # as the engine keeps a call
            history += [("assistant", f"[{called['tool']}] {json.dumps(called.get('args') or {})}"),
                        ("tool", TOOL_RESULT)]
            calls.append((called["tool"], dict(called.get("args") or {})))
        if turn.get("npc"):
            history.append(("assistant", str(turn["npc"])))
        offered = str((turn.get("proposed") or {}).get("tool", ""))
    return Line(file=path.name, index=i, world=item["world"], npc=item["npc"],
                text=item["text"], kind=str(item.get("kind", "")),
                state=dict(item.get("state") or {}), history=tuple(history),
                last_calls=tuple(calls), offered=offered, tool=tool, args=args)


def _state(state: dict[str, Any]) -> WorldState:
    """A line's `state` (as the persona set writes it) as the player's quest state."""
    revealed = state.get("revealed") or state.get("revealed_facts") or ()
    items = state.get("has") or state.get("player_items") or ()
    return WorldState(stages=dict(state.get("stages") or {}), revealed=frozenset(revealed),
                      player_items=frozenset(items))


async def _run_line(engine: DialogueEngine, line: Line, n: int) -> dict[str, Any]:
    player = f"tools-{n}"
    engine.set_quest_state(player, _state(line.state))
    session = engine.open_session(line.npc, player_id=player)
    session.history = list(line.history)
    # The NPC's offer, as the engine would have kept it at the end of that turn.
    said = next((text for role, text in reversed(line.history) if role == "assistant"
                 and not text.startswith("[")), "")
    known = view(engine.world, line.npc, _state(line.state))
    session.proposal = proposed(engine.world, known, line.last_calls, said, functools.partial(
        engine.acts.offers, engine.world)) if line.history else None
    seen = session.proposal.tool if session.proposal else ""
    calls: list[dict[str, Any]] = []
    text, error = "", ""
    started = time.perf_counter()
    try:
        async for event in engine.say(session.id, line.text, engine.sampling(), hold=True):
            if isinstance(event, ToolCallEvent):
                calls.append({"tool": event.tool, "args": dict(event.args)})
                if event.executes == "engine":
                    engine.submit_tool_result(session.id, event.call_id, TOOL_RESULT)
            elif isinstance(event, LineDoneEvent):
                text = event.text
    except NpcRuntimeError as exc:
        error = str(exc)
    finally:
        engine.close_session(session.id)
        engine.store.forget(engine.world.name, player)
    return {"calls": calls, "reply": text, "error": error, "offer_seen": seen,
            "ms": round((time.perf_counter() - started) * 1000)}


def verdict(line: Line, calls: list[dict[str, Any]]) -> str:
    """"quiet" (none expected, none made), "unasked" (none expected, some made), "right"
    (the first call is the tool with the expected arguments), "right tool" (wrong
    arguments), "wrong tool", "missed" (no call)."""
    if line.tool is None:
        return "unasked" if calls else "quiet"
    if not calls:
        return "missed"
    first = calls[0]
    if first["tool"] != line.tool:
        return "wrong tool"
    same = all(str(first["args"].get(k)) == str(v) for k, v in line.args.items())
    return "right" if same else "right tool"


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
                       "expect": ({"tool": line.tool, "args": line.args} if line.tool
                                  else None), **result,
                       "verdict": verdict(line, result["calls"]),
                       "offer": line.offered}
                rows.append(row)
                if verbose and line.offered != result["offer_seen"]:
                    print(f"{'offer':>10}  {line.npc}: after {line.history[-1][1]!r} the "
                          f"runtime sees {result['offer_seen'] or 'no offer'} (the data: "
                          f"{line.offered or 'none'})", file=sys.stderr)
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
          f"{'tool':>6}{'missed':>8}{'wrong':>7}{'offers':>8}")
    for name, s in [("all", report["all"]), *report["files"].items(),
                    *report["kinds"].items()]:
        print(f"{name[:22]:<22}{s['lines']:>6}{s['negative_lines']:>6}"
              f"{s['negative_lines_with_a_call']:>8}{s['unasked_calls']:>7}{s['requests']:>6}"
              f"{s['right']:>7}{s['right_tool']:>6}{s['missed']:>8}{s['wrong_tool']:>7}"
              f"{s['offers_missed']:>8}")
    print("neg: lines that ask for nothing; called: of those, lines with a call; right: the "
          "expected tool and arguments; tool: the expected tool; offers: lines whose pending "
          "offer (the data's `proposed`) the runtime saw otherwise")
    return 0


if __name__ == "__main__":
    sys.exit(main())
