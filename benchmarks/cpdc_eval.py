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
from npc_runtime.dialogue.actions import offer, wanted
from npc_runtime.dialogue.engine import MAX_CALLS, DialogueEngine
from npc_runtime.dialogue.events import LineDoneEvent, ToolCallEvent
from npc_runtime.logs import configure_logging
from npc_runtime.lore.knowledge import view
from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import World
from npc_runtime.model.build import build_model, default_source, model_dir_for
from npc_runtime.model.loader import LoadedModel, load_model
from npc_runtime.tools.calls import json_schema

NPC = "npc"
THREADS = 2


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


# What players say to ask for each function of the kit's lists, written from the functions'
# docstrings the way a game's writers would author their tools (never from conversations of
# the data: the names of things are left out; the matcher masks them in the player's line).
EXAMPLES: dict[str, list[str]] = {
    "search": [
        "What do you have?", "Do you have anything for a beginner?",
        "Show me what you've got.", "I'm looking for something cheap.",
        "Anything under a hundred gold?", "Which ones would you recommend?",
        "Do you have something stronger?", "I need something light and fast.",
        "What else is there?", "Got anything good?", "Can you suggest something for me?",
        "Is there anything that pays well?", "Anything that's quick to finish?",
        "Do you carry spears?", "I'm after something with a lot of power.",
        "Give me something good.", "What would suit me?", "Any good ones for me?",
        "I want something with real action.", "Find me something easy.",
        "What options do I have?", "Show me the cheap stuff.", "Anything new in?",
        "Something for a mage, maybe?", "What can a newcomer handle?",
        "I need something easy to use.", "What would you suggest for someone like me?",
        "I'm looking for one that's good up close.", "Which is the best paying one?",
        "Anything at my level?", "What jobs are open right now?",
        "I need a new one.", "I'm looking for a weapon.", "Looking for work.",
        "I need something that hits hard.", "Got any for a beginner?",
        "I'm after something light.", "What's the strongest one you have?",
        "Which is the cheapest?", "Anything easy?", "Got anything involving monsters?",
        "What's the hardest job you have?", "I want something I can use with a shield.",
        "Do you sell anything for hunting?", "I'm searching for a good blade.",
        "Something that won't break the bank.", "What would help me on the road?",
        "I could use something for close combat.", "Is there any work for someone like me?",
        "Which would you pick for me?", "Any jobs that pay well?",
    ],
    "check_basic_info": [
        "What is this one?", "What about that one?", "Tell me about it.",
        "What can you tell me about this?", "How about this one here?",
        "What's that over there?", "Give me the basics on it.",
        "I'm curious about this one.", "What do you think of it?",
        "Any thoughts on this one?", "Numbers on it?", "What are the stats?",
        "Give me the rundown.", "What's the deal with that one?", "And this one?",
        "What's it about?", "Info on that, please.", "What is that thing?",
        "Tell me about the one you mentioned.", "I'm listening, go on about it.",
        "Tell me more about this one.", "Could you explain this one?",
        "What can you tell me about the one next to it?", "I'd like to know about that one.",
        "How about the one on the wall?", "And that one over there?",
        "What's this one like?", "Can I take a look at that one?",
        "What are its features?", "Could you walk me through it?",
    ],
    "check_price": [
        "How much is it?", "What does it cost?", "What's the price?",
        "How much gold do you want for it?", "Is it expensive?", "Can I afford it?",
        "How much?", "Price?", "What are you asking for it?", "How many coins?",
        "What would that set me back?",
        "How much gold is it?", "What's it going for?", "Is it cheap?",
        "How much does it go for?", "What's the cost?", "What do you charge for it?",
    ],
    "check_type": [
        "What type is it?", "What kind of weapon is that?", "Is it a sword or an axe?",
        "Is it one-handed or two-handed?", "What sort is it?", "What is it, a spear?",
        "Which kind is that?", "Is that a bow or a crossbow?",
        "What type of weapon is it?", "Is it a two-hander?", "What would you call it?",
        "Is it a sword?", "What class of weapon is that?", "Is it for one hand?",
    ],
    "check_attack": [
        "How strong is it?", "What's its attack?", "How much damage does it do?",
        "How powerful is it?", "What's the attack level?", "Does it hit hard?",
        "How hard does it hit?", "Is it strong enough?", "What's its power?",
        "Can it cut through armour?",
        "How much damage?", "What's its attack power?", "How deadly is it?",
        "Will it pierce armour?", "What's the damage like?", "How strong is its attack?",
    ],
    "check_level": [
        "How hard is it?", "What level is it?", "Is it difficult?", "What rank is it?",
        "Is it too dangerous for me?", "How tough is it?", "What grade is it?",
        "Is it for beginners?", "How risky is it?", "Can someone like me handle it?",
        "What's the difficulty?",
        "What's the level on it?", "What rank do I need?", "Is it hard?",
        "How difficult is it?", "What level is that job?", "Which rank is it for?",
    ],
    "check_duration": [
        "How long does it take?", "How many days will it need?",
        "How much time does it take?", "How many hours is it?", "Is it a long job?",
        "When would I be back?", "How long?", "How long would I be away?",
        "Will it take long?", "How many days?",
        "How long would it take?", "How much time will I need?", "How long is the job?",
        "Is it a quick one?", "How many days would it take me?",
    ],
    "check_reward": [
        "What's the reward?", "How much does it pay?", "What do I get for it?",
        "Is it worth the money?", "What's in it for me?", "How much will I earn?",
        "What's the pay?", "And the payment?", "What's the bounty?",
        "What's the compensation?", "How much gold for it?",
        "What does it pay?", "What's the reward like?", "How much is the reward?",
        "Does it pay well?", "What would I earn?", "What's the payout?",
    ],
    "check_description": [
        "Tell me more about it.", "What are the details?", "What exactly is involved?",
        "What would I have to do?", "What makes it special?", "Any more information?",
        "How does it work?", "Describe it in detail.", "What's the story behind it?",
        "What does the job entail?", "Explain it to me properly.",
        "What's the catch?", "What's it made of?", "Will there be fighting?",
        "Where does it come from?", "Who made it?", "Is it dangerous?",
        "What's out there?", "Why is that happening?", "Who asked for it?",
        "What does it involve?", "What happened there?", "Who posted it?",
        "What do I need to do exactly?", "How should I approach it?",
        "Any tips on how to prepare?", "Is there any fighting involved?",
        "What's special about it?", "Why is it like that?", "How do you fight with it?",
        "Is it true what they say about it?", "What's the history of it?",
        "What does the job involve exactly?", "What am I up against?",
        "How does one use it?", "What is my role in this?",
    ],
    "sell": [
        "I'll take it.", "I'd like to buy it.", "I want to purchase this one.",
        "I'll buy it.", "Let me buy that.", "Sold!", "I'll pay for it.",
        "Ring it up for me.", "I'll take both of them.", "Can I buy it now?",
        "I'll have it.", "Give me that one.", "Deal.", "I buy it.", "Wrap it up.",
        "Here's my gold.", "I'll get it.",
        "I'll go with this one.", "I want that one.", "I think I'll go with it.",
        "I'll buy it now.", "That's the one I want.", "I'd like to purchase it.",
        "I'll have that one.", "Let me have it.", "I'll take the one you set aside.",
    ],
    "equip": [
        "Can I equip it now?", "Let me put it on.", "I'd like to wield it right away.",
        "Equip it for me, please.", "I want to use it now.", "Let me try holding it.",
        "I'll carry it now.", "Strap it on me.", "Let me hold it right here.",
    ],
    "select": [
        "I'll take this quest.", "Sign me up.", "I want to do it.", "I choose this one.",
        "Count me in.", "I'd like to accept it.", "Put my name down for it.",
        "I'll go with that one.", "I'll do it.", "I accept.", "I'll take that job.",
        "Register me for it.", "I shall undertake it.", "Can I take it?",
        "I'll do that one.", "I want to join this quest.", "I'd like to take it on.",
        "Let me take that one.", "I'll go with that one.", "I'll take it on.",
        "That's the one I'll do.", "I would like to join.",
    ],
    "start": [
        "Let's begin.", "Can I start now?", "I'm ready to go.", "Let's get started.",
        "I'll set off right away.", "I want to begin now.", "Let me head out.",
        "I'm leaving now.", "Off I go.", "Let's go right now.", "I'll depart at once.",
        "I'm heading out now.",
        "Can I start right away?", "I'm ready to start.", "I'll head out right now.",
        "Let's do it now.", "Time to go.", "I'm off then.",
    ],
    "request_record": [
        "I'll think about it.", "Keep that one in mind for me.", "Put it on my list.",
        "I might come back for it.", "Set it aside for me.", "Note that one down.",
        "Let me consider it.", "Hold it for me.", "Save it for me.",
        "Could you write it down for me?", "Reserve it for me.",
        "Put me down as a maybe.", "Don't sell it to anyone else yet.",
        "Mark it down for later.",
        "Could you keep it aside for me?", "Put it aside for me.",
        "I'll come back for it later.", "Can you hold on to it for me?",
        "Let me hold off for now.", "Keep that one for me.", "Write that one down.",
        "I might take it later.",
    ],
}


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
    engine = DialogueEngine(world, model, Settings(max_new_tokens=48, threads=THREADS,
                                                   tool_timeout_s=5))
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
        while len(calls) < MAX_CALLS:  # the engine's phases: offer, then what is wanted
            done = {c["name"] for c in calls}
            offered = offer(world, known, [*history, *pending], line, done)
            asked = wanted(world, known, history, line, offered, again=bool(calls)
                           ) if offered else []
            if not asked:
                break
            calls.append({"name": asked[0], "parameters": {}, "valid": True})
            pending += [("assistant", f"[{asked[0]}] {{}}"), ("tool", "{}")]
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
