"""
Replay CPDC-format conversations (task 1: function calling in character) through the
runtime and score its tool calls against the gold ones.

Each conversation becomes a world (written as YAML and loaded like any other, so it is
validated): the NPC with its persona, role and the worldview; its knowledge records as
items it holds (with their fields as facts it knows); its function list as engine tools
(name-like parameters take their values from the NPC's records, the rest are free text).
Each turn is answered with the gold history before it; the item the player points at
(``target_item``) is passed as part of the line, as a game would. A call whose name
matches a gold call is answered with that call's gold ``return``.

Scores (matching rules of the CPDC kit): a call matches a gold call of the same name;
``check_*`` arguments must be equal (case-insensitive), ``search_*`` numbers equal and
other values word-F1 > 0.4; other functions equal. ``name_accuracy`` counts per turn
matched names over max(gold, predicted) calls, a turn with neither counting as right;
``args_accuracy`` is over name-matched calls; ``valid_rate`` checks every emitted call
against its tool's JSON Schema.

    python benchmarks/cpdc_eval.py --data ../shared/data/cpdc-sample/task1_sample.json
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from npc_runtime.config import Settings
from npc_runtime.dialogue.engine import MAX_CALLS, DialogueEngine
from npc_runtime.dialogue.events import LineDoneEvent, ToolCallEvent
from npc_runtime.logs import configure_logging
from npc_runtime.lore.knowledge import view
from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import World
from npc_runtime.model.build import build_model, default_source, model_dir_for
from npc_runtime.model.encoder_build import load_default_encoder
from npc_runtime.model.loader import LoadedModel, load_model
from npc_runtime.tools.acts import Embed, SpeechActs
from npc_runtime.tools.calls import json_schema
from npc_runtime.tools.choice import offer, wanted
from npc_runtime.tools.proposal import last_turn, proposed

NPC = "npc"
THREADS = 2



@functools.cache
def _acts() -> SpeechActs:
    """The speech-act reader, as the engine builds it."""
    return SpeechActs(_embed(), Settings.load().cache_dir)


@functools.cache
def _embed() -> Embed:
    """The default sentence encoder (the reply planner's), loaded once."""
    return load_default_encoder(Settings.load().cache_dir, progress=lambda _: None).embed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a CPDC task 1 JSON file")
    parser.add_argument("--functions", type=Path,
                        help="function_schemas.json (default: beside --data)")
    parser.add_argument("--model", type=Path, help="a built model folder (default: int4)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every turn")
    parser.add_argument("--tools-only", action="store_true", help=(
        "no model: only which tools the runtime would call (the same offer/wanted steps "
        "the engine takes; name accuracy only, in seconds), for iterating on examples"))
    args = parser.parse_args()
    configure_logging("console", "warning")
    functions_path = args.functions or args.data.parent / "function_schemas.json"
    try:
        conversations = json.loads(args.data.read_text())
        functions = json.loads(functions_path.read_text())["function_lists"]
    except (OSError, ValueError, KeyError) as exc:
        sys.exit(f"cannot read the CPDC data: {exc}")
    model_dir = args.model
    if args.tools_only:
        model = None
    elif model_dir is None:
        model_dir = model_dir_for(Settings.load().cache_dir, default_source(), "int4")
        build_model(default_source(), model_dir, precision="int4", progress=lambda _: None)
    if not args.tools_only:
        model = load_model(model_dir, threads=THREADS)
    turns: list[dict[str, Any]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i, conversation in enumerate(conversations):
            folder = Path(tmp) / f"c{i}"
            names = write_world(conversation, functions[conversation["function_list_id"]],
                                folder)
            world = load_world(folder)
            turns += (asyncio.run(replay(conversation, world, model, names,
                                         verbose=args.verbose)) if model
                      else choose_tools(conversation, world, names, verbose=args.verbose))
    report = score(turns)
    if args.tools_only:  # no arguments were written, no replies said
        report = {k: v for k, v in report.items()
                  if k in {"turns", "name_accuracy", "gold_calls", "calls", "calls_per_turn"}}
    report["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:<18} {value}")


# --- a conversation as a world ------------------------------------------------------------

def write_world(conversation: dict[str, Any], functions: dict[str, Any], folder: Path
                ) -> dict[str, str]:
    """Write the conversation's world as YAML; returns item id -> record name."""
    persona = conversation["npc"]["persona"]
    records = conversation["knowledge"]["knowledge_info"]
    ids: dict[str, str] = {}
    for record in records:
        ids[_slug(record["name"], ids)] = record["name"]
    facts = [{"id": f"{item}_{_slug(key, {})}", "text": f"{name}: {key} {value}"[:500],
              "about": [item]}
             for (item, name), record in zip(ids.items(), records, strict=True)
             for key, value in record.items() if key != "name" and value]
    general = conversation["knowledge"].get("general_info")
    if general:
        facts.append({"id": "general_info", "text": str(general)[:500]})
    kit = [*functions.get("tools", []), *functions.get("actions", [])]
    tools = [_tool(f, {f["name"] for f in kit}) for f in kit]
    world = {
        "world": {"name": "CPDC", "setting": str(conversation.get("worldview", ""))[:2000]},
        "characters": [{
            "id": NPC, "name": persona.get("name", "the merchant"),
            "role": (persona.get("occupation") or "shopkeeper")[:200],
            "persona": {"backstory": " ".join(
                str(persona[k]) for k in ("background", "personality traits")
                if persona.get(k))[:2000] or conversation["npc"].get("role", "")[:2000]
                or "Keeps a shop.",
                "goals": [conversation["npc"].get("role", "")[:200]]},
            "inventory": [{"item": item} for item in ids],
            "knows": [f["id"] for f in facts],
            "tools": [t["id"] for t in tools],
            "fallback_lines": ["Let me see what I can do for you."],
        }],
        "items": [{"id": item, "name": name} for item, name in ids.items()],
        "facts": facts,
        "tools": tools,
    }
    folder.mkdir(parents=True)
    (folder / "world.yaml").write_text(yaml.safe_dump(world, sort_keys=False))
    return ids


# What players say to ask for each function of the kit's lists (who wrote them: the file's
# "about").
EXAMPLES: dict[str, list[str]] = json.loads(
    (Path(__file__).parent / "data" / "cpdc_examples.json").read_text())["examples"]


def _examples(name: str) -> list[str]:
    """The examples of a kit function (search_item and search_quest share theirs)."""
    if name.startswith("search_"):
        return EXAMPLES["search"]
    if name.endswith("_request_record"):
        return EXAMPLES["request_record"]
    return EXAMPLES.get(name, [])


def _tool(function: dict[str, Any], names: set[str]) -> dict[str, Any]:
    description = function["docstring"].split("Parameters:")[0].strip()
    params: dict[str, Any] = {}
    for p in function["parameters"]:
        name = p["name"]
        if name in {"item_names"}:  # the kit's quirk: gold calls say item_name
            name = "item_name"
        optional = function["name"].startswith("search_")
        if name.endswith("_name"):
            params[name] = {"type": "string", "from": "npc.inventory", "optional": optional}
        else:
            params[name] = {"type": "string", "optional": True}
    tool = {"id": function["name"], "description": " ".join(description.split())[:500],
            "params": params, "executes": "engine", "examples": _examples(function["name"])}
    if function["name"] == "check_basic_info":  # the overview of a thing just brought up
        tool["on_mention"] = True
    # The roles say: after a sale, offer to equip; after a quest is selected, to set off.
    follows = {"equip": "sell", "start": "select"}.get(function["name"])
    if follows in names:
        tool["follows"] = follows
    # The kit's lists name the confirming step "<action>_request_confirm".
    if f"{function['name']}_request_confirm" in names:
        tool["confirm_with"] = f"{function['name']}_request_confirm"
    return tool


def _slug(text: str, taken: dict[str, str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "x"
    if not base[0].isalpha():
        base = f"x_{base}"
    slug, n = base[:60], 2
    while slug in taken:
        slug, n = f"{base[:56]}_{n}", n + 1
    return slug


# --- replaying turns ---------------------------------------------------------------------

async def replay(conversation: dict[str, Any], world: World, model: LoadedModel,
                 names: dict[str, str], *, verbose: bool) -> list[dict[str, Any]]:
    """Answer every turn of one conversation with its gold history; returns per-turn results."""
    # One turn at a time (a sequential replay): the whole KV budget is that turn's room.
    engine = DialogueEngine(world, model, Settings(max_new_tokens=48, threads=THREADS,
                                                   max_active_turns=1, tool_timeout_s=5),
                            embed=_embed())
    results = []
    try:
        for k in range(conversation["total_turn"]):
            turn = conversation[f"turn_{k}"]
            *before, last = turn["dialogue"]
            session = engine.open_session(NPC, conversation["player"]["persona"].get("name", ""))
            session.history = _history(conversation, before,
                                       {n: i for i, n in names.items()})
            line = _line(last)
            gold = turn.get("gold_functions", [])
            calls: list[dict[str, Any]] = []
            text = ""
            async for event in engine.say(session.id, line, engine.sampling(), hold=True):
                if isinstance(event, ToolCallEvent):
                    args = {k: names.get(v, v) if isinstance(v, str) else v
                            for k, v in event.args.items()}
                    calls.append({"name": event.tool, "parameters": args,
                                  "valid": _valid(world, event)})
                    answer = next((g.get("return") for g in gold if g["name"] == event.tool),
                                  {"error": "n/a"})
                    engine.submit_tool_result(session.id, event.call_id, json.dumps(answer))
                elif isinstance(event, LineDoneEvent):
                    text = event.text
            engine.close_session(session.id)
            results.append({"gold": gold, "calls": calls, "reply": text})
            if verbose:
                print(f"> {line}\n  gold {[(g['name'], g['parameters']) for g in gold]}\n"
                      f"  ours {[(c['name'], c['parameters']) for c in calls]}\n  {text!r}",
                      file=sys.stderr)
    finally:
        engine.shutdown()
    return results


def choose_tools(conversation: dict[str, Any], world: World, names: dict[str, str], *,
                 verbose: bool) -> list[dict[str, Any]]:
    """Per turn, the tools the engine would call (names only: no model, no arguments)."""
    known = view(world, NPC)
    results = []
    for k in range(conversation["total_turn"]):
        turn = conversation[f"turn_{k}"]
        *before, last = turn["dialogue"]
        history = _history(conversation, before, {n: i for i, n in names.items()})
        line = _line(last)
        pending: list[tuple[str, str]] = [("user", line)]
        calls: list[dict[str, Any]] = []
        made, said = last_turn(history)
        asked = next((text for role, text in reversed(history) if role == "user"), "")
        proposal = proposed(world, known, made, said, _acts(), asked=asked)
        reading = _acts().read(world, line, tools=known.tools, answering=proposal is not None)
        while len(calls) < MAX_CALLS:  # the engine's phases: offer, then what is wanted
            done = {c["name"] for c in calls}
            offered = offer(world, known, [*history, *pending], line, done, reading=reading,
                            proposal=proposal)
            wants = wanted(world, known, history, line, offered, reading=reading,
                           proposal=proposal, again=bool(calls)) if offered else []
            if not wants:
                break
            calls.append({"name": wants[0], "parameters": {}, "valid": True})
            pending += [("assistant", f"[{wants[0]}] {{}}"), ("tool", "{}")]
        gold = turn.get("gold_functions", [])
        results.append({"gold": gold, "calls": calls, "reply": ""})
        if verbose:
            print(f"> {line}\n  gold {[g['name'] for g in gold]}\n"
                  f"  ours {[c['name'] for c in calls]}", file=sys.stderr)
    return results


def _line(message: dict[str, Any]) -> str:
    """The player's line, with the item they point at as a game would pass it."""
    targets = [t["name"] for t in message.get("target_item", []) if t.get("name")]
    return str(message["text"]) + (f" (pointing at: {', '.join(targets)})" if targets else "")


def _history(conversation: dict[str, Any], before: list[dict[str, Any]],
             ids: dict[str, str]) -> list[tuple[str, str]]:
    """
    The gold history as the runtime keeps it: each NPC line preceded by the calls made
    for it ("[name] {arguments}" then the result), names of things as the world's ids.
    """
    history: list[tuple[str, str]] = []
    npc_turn = 0
    for message in before:
        if message["speaker"] == "player":
            history.append(("user", message["text"]))
            continue
        for call in conversation[f"turn_{npc_turn}"].get("gold_functions", []):
            args = {k: [ids.get(x, x) for x in v] if isinstance(v, list) else ids.get(v, v)
                    for k, v in call["parameters"].items()}
            history += [("assistant", f"[{call['name']}] {json.dumps(args)}"),
                        ("tool", json.dumps(call.get("return", {}))[:1000])]
        history.append(("assistant", message["text"]))
        npc_turn += 1
    return history


def _valid(world: World, event: ToolCallEvent) -> bool:
    """The call against its JSON Schema (types, enums, required, no extras)."""
    schema = json_schema(world, view(world, NPC), world.tools[event.tool])
    props = schema["properties"]
    assert isinstance(props, dict)
    required = schema["required"]
    assert isinstance(required, list)
    if set(event.args) - set(props) or set(required) - set(event.args):
        return False
    for name, value in event.args.items():
        spec = props[name]
        if spec.get("type") == "string" and not isinstance(value, str):
            return False
        if "enum" in spec and value not in spec["enum"]:
            return False
    return True


# --- scoring ------------------------------------------------------------------------------

def score(turns: list[dict[str, Any]]) -> dict[str, Any]:
    """The CPDC figures over all turns."""
    name_scores, arg_hits, arg_total = [], 0, 0
    emitted = [c for t in turns for c in t["calls"]]
    for turn in turns:
        gold, ours = turn["gold"], list(turn["calls"])
        if not gold and not ours:
            name_scores.append(1.0)
            continue
        matched = 0
        for g in gold:
            hit = next((c for c in ours if c["name"] == g["name"]), None)
            if hit is None:
                continue
            matched += 1
            ours.remove(hit)
            arg_total += 1
            arg_hits += _args_match(g["name"], g["parameters"], hit["parameters"])
        name_scores.append(matched / max(len(gold), len(turn["calls"])))
    replies = [len(t["reply"].split()) for t in turns]
    return {
        "turns": len(turns),
        "name_accuracy": round(statistics.mean(name_scores), 3) if name_scores else 0.0,
        "args_accuracy": round(arg_hits / arg_total, 3) if arg_total else 0.0,
        "valid_rate": round(sum(c["valid"] for c in emitted) / len(emitted), 3)
        if emitted else 1.0,
        "gold_calls": sum(len(t["gold"]) for t in turns),
        "calls": len(emitted),
        "calls_per_turn": round(len(emitted) / len(turns), 2) if turns else 0.0,
        "words_per_reply": round(statistics.mean(replies), 1) if replies else 0.0,
    }


def _args_match(name: str, gold: dict[str, Any], ours: dict[str, Any]) -> bool:
    for key, want in gold.items():
        got = ours.get(key)
        want_s = " | ".join(want) if isinstance(want, list) else str(want)
        got_s = " | ".join(got) if isinstance(got, list) else str(got or "")
        if name.startswith("search_") and not re.fullmatch(r"[\d.]+", want_s.strip()):
            if _word_f1(want_s, got_s) <= 0.4:
                return False
        elif want_s.strip().lower() != got_s.strip().lower():
            return False
    return True


def _word_f1(a: str, b: str) -> float:
    x, y = a.lower().split(), b.lower().split()
    common = sum(min(x.count(w), y.count(w)) for w in set(x))
    if not common:
        return 0.0
    p, r = common / len(y), common / len(x)
    return 2 * p * r / (p + r)


if __name__ == "__main__":
    main()
