"""
Training data the runtime makes and judges itself (rejection sampling).

Each player line (``lines.py``, from the lore only) is said to its NPC by the real
:class:`DialogueEngine`, the serving pipeline with its drafts (candidates), in a fresh
session at the line's story point. The reply is KEPT only when everything the runtime
judges a line by passed:

- the checker passed the first line it wrote (no regeneration, repair or fallback);
- a line the model wrote: its last draft (the one said) has no fault by the scorer
  (``dialogue/score.py``), and it is not the plan's gist said in its place;
- the plan agrees with what the line was made to ask: a question about a thing gets an
  answer telling a fact about it; a greeting a greeting, a farewell a farewell; a line
  about something withheld, a refusal or "does not know";
- no tool was called (tool calls are not in the data yet: lines are said with
  ``tool_choice="none"``, so a tool's example line is answered in words; while serving,
  whether a tool acts is the tool-choice policy's decision, not the model's);
- a line the model wrote stays in the world's words: at least ``IN_WORLD`` of its words of
  five letters or more begin (first five letters) like a word of the lore, the stock lines
  or the generic player lines. The runtime's judge lets a remark such as "The new
  smartphone has revolutionized the way businesses operate" through (it names nothing the
  lore forbids); in the first saltmere run 48 of 92 replies the judge kept fell under
  0.6, and reading them, nearly all were off-world or garbled; most above were not.

Each kept example carries the exact chat it was produced under (the messages the engine
built, rendered by the model's template), rebuilt here with the engine's own functions and
checked against the prompt's token count the engine reported, so training sees what
serving sees. Replies the engine says as written (a greeting's sample line, a refusal's
stock line) are kept too, ``realised_by: lore``: the model never writes those while
serving, and ``train.py`` leaves them out by default.

Why not ask a bigger model for answers: nothing may download, and the runtime's own judge
is exactly what a served line must pass.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from npc_runtime.config import Settings
from npc_runtime.constraints.checker import CheckAction
from npc_runtime.dialogue.engine import DialogueEngine
from npc_runtime.dialogue.events import LineDoneEvent, ToolCallEvent
from npc_runtime.dialogue.plan import Act, Plan
from npc_runtime.dialogue.prompt import build_messages, persona_card
from npc_runtime.dialogue.realise import gist, note, voice_examples
from npc_runtime.lore.knowledge import view
from npc_runtime.lore.model import World
from npc_runtime.model.loader import LoadedModel
from npc_runtime.tools.acts import Embed
from npc_runtime.tune.lines import PlayerLine, state_json

IN_WORLD = 0.6  # share of a model-written reply's long words that must be the lore's
PLAYER_NAME = "a traveller"  # what the engine calls a player who gave no name
# What a kept reply's plan must do, per kind of line (None: any act but a tool call).
_ACTS: dict[str, frozenset[Act] | None] = {
    "fact": frozenset({Act.ANSWER}),
    "greeting": frozenset({Act.GREETING}),
    "farewell": frozenset({Act.FAREWELL}),
    "withheld": frozenset({Act.WILL_NOT_TELL, Act.DOES_NOT_KNOW, Act.SMALL_TALK}),
    "unknown": frozenset({Act.DOES_NOT_KNOW, Act.SMALL_TALK}),
    "ai_bait": frozenset({Act.SMALL_TALK, Act.DOES_NOT_KNOW}),
}

Progress = Callable[[str], None]
_WORD = re.compile(r"[a-z]+")


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Whether a reply is kept, and why not ("" when kept)."""

    kept: bool
    why: str = ""


def world_words(world: World) -> frozenset[str]:
    """The first five letters of every word in the world's text (names, persona, facts,
    quests, tools), the stock lines and the generic player lines."""
    from importlib import resources

    texts: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            texts.append(value)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for field in dataclasses.fields(value):
                walk(getattr(value, field.name))
        elif isinstance(value, Mapping):
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, (tuple, list, frozenset, set)):
            for item in value:
                walk(item)

    walk(world)
    for package, name in (("npc_runtime.dialogue", "stock_lines.yaml"),
                          ("npc_runtime.tune", "generic_lines.yaml")):
        texts.append(resources.files(package).joinpath(name).read_text(encoding="utf-8"))
    return frozenset(w[:5] for text in texts for w in _WORD.findall(text.lower()))


def in_world_share(text: str, words: frozenset[str]) -> float:
    """The share of ``text``'s words of five letters or more found in ``words`` (1.0 when
    it has none)."""
    long = [w for w in _WORD.findall(text.lower()) if len(w) >= 5]
    return sum(w[:5] in words for w in long) / len(long) if long else 1.0


def judge_reply(line: PlayerLine, done: LineDoneEvent, called: bool, gist_text: str = "",
                words: frozenset[str] | None = None) -> Verdict:
    """The rules of the module docstring, applied to one turn's ``LineDoneEvent``;
    ``gist_text``: the plan's gist (what is said when every draft has faults); ``words``:
    the world's words (``world_words``; None: not checked)."""
    plan = done.plan
    if called:
        return Verdict(False, "a tool was called")
    if plan is None or not done.text.strip():
        return Verdict(False, "no plan or no text")
    if done.check.action is not CheckAction.PASSED:
        return Verdict(False, f"checker: {done.check.action.value}")
    wanted = _ACTS.get(line.kind)
    if plan.act is Act.ACT or (wanted is not None and plan.act not in wanted):
        return Verdict(False, f"plan {plan.act.value} for a {line.kind} line")
    if line.expect and not {f.id for f in plan.facts} & set(line.expect):
        return Verdict(False, "plan tells none of " + ", ".join(line.expect))
    if done.timings.prompt_tokens:  # the model wrote it
        if not plan.drafts or plan.drafts[-1][1]:
            return Verdict(False, "scorer: " + "; ".join(plan.drafts[-1][1] if plan.drafts
                                                         else ("no drafts",)))
        if gist_text and done.text.strip() == gist_text.strip():
            return Verdict(False, "every draft had faults: the gist was said instead")
        if words is not None and (share := in_world_share(done.text, words)) < IN_WORLD:
            return Verdict(False, f"off the world's words: {share:.2f} of its long words")
    return Verdict(True)


def chat_for(world: World, line: PlayerLine, plan: Plan) -> list[tuple[str, str]]:
    """
    The messages the engine prompted the model with for ``line`` in a fresh session: the
    persona card and voice examples of the NPC at the line's story point, the player's
    line, and the plan's note (``DialogueEngine._run_phase`` with an empty history).
    """
    known = view(world, line.npc, line.state)
    card = persona_card(world, known)
    said = gist(plan, known.npc, ())
    return build_messages(card, PLAYER_NAME, [("user", line.text)],
                          note(plan, known.npc, said.text), voice_examples(world, known.npc))


async def _ask(engine: DialogueEngine, line: PlayerLine, player: str, seed: int,
               temperature: float | None) -> tuple[LineDoneEvent | None, bool]:
    engine.set_quest_state(player, line.state)
    session = engine.open_session(line.npc, "", player)
    done: LineDoneEvent | None = None
    called = False
    try:
        params = engine.sampling(seed=seed, temperature=temperature)
        async for event in engine.say(session.id, line.text, params, tool_choice="none"):
            called = called or isinstance(event, ToolCallEvent)
            if isinstance(event, LineDoneEvent):
                done = event
    finally:
        engine.close_session(session.id)
    return done, called


def make_examples(world: World, model: LoadedModel, embed: Embed, lines: Iterable[PlayerLine],
                  *, settings: Settings, samples: int = 1, max_examples: int = 0,
                  progress: Progress = lambda _: None) -> tuple[list[dict[str, Any]],
                                                                dict[str, int]]:
    """
    Ask every line (``samples`` times: greedy first, then sampled at 0.7), keep the judged
    ones; returns the kept examples (JSON-ready) and counts of why the rest were dropped.
    ``max_examples``: stop once this many are kept (0: no limit).
    """
    engine = DialogueEngine(world, model, settings, embed=embed)
    kept: list[dict[str, Any]] = []
    dropped: Counter[str] = Counter()
    seen: set[tuple[str, str, str]] = set()
    todo = list(lines)
    words = world_words(world)
    try:
        for n, line in enumerate(todo):
            for sample in range(samples):
                temperature = None if sample == 0 else 0.7
                done, called = asyncio.run(_ask(engine, line, f"tune-{n}-{sample}", n * 7 + sample,
                                                temperature))
                if done is None:
                    dropped["no reply"] += 1
                    continue
                said = (gist(done.plan, world.characters[line.npc], ()).text if done.plan
                        else "")
                verdict = judge_reply(line, done, called, said, words)
                if not verdict.kept:
                    reason = verdict.why.split(":")[0]
                    dropped[reason] += 1
                    continue
                key = (line.npc, json.dumps(state_json(line.state)), done.text.strip())
                if key in seen:
                    dropped["duplicate"] += 1
                    continue
                seen.add(key)
                assert done.plan is not None
                example = _example(world, model, line, done, done.plan)
                if example is None:
                    dropped["prompt mismatch"] += 1
                    continue
                kept.append(example)
            if (n + 1) % 20 == 0 or n + 1 == len(todo):
                progress(f"data: {n + 1}/{len(todo)} lines asked, {len(kept)} replies kept")
            if max_examples and len(kept) >= max_examples:
                break
    finally:
        engine.shutdown()
    return kept, dict(dropped)


def _example(world: World, model: LoadedModel, line: PlayerLine, done: LineDoneEvent,
             plan: Plan) -> dict[str, Any] | None:
    """One kept reply as a JSON-ready record; None when the rebuilt prompt is not the one
    the engine ran (its token count differs)."""
    messages = chat_for(world, line, plan)
    prompt = model.tokenizer.render(messages)
    by_model = done.timings.prompt_tokens > 0
    if by_model and len(model.tokenizer.encode(prompt)) != done.timings.prompt_tokens:
        return None
    return {
        "world": world.name, "world_version": world.version, "npc": line.npc,
        "state": state_json(line.state), "line": line.text, "kind": line.kind,
        "source": line.source, "act": plan.act.value, "facts": [f.id for f in plan.facts],
        "reply": done.text.strip(), "realised_by": "model" if by_model else "lore",
        "drafts": len(plan.drafts), "messages": [list(m) for m in messages], "prompt": prompt,
    }


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> str:
    """Write ``records`` one JSON object a line (atomically); returns the file's SHA-256."""
    text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.rename(path)
    return hashlib.sha256(text.encode()).hexdigest()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a JSONL file written by :func:`write_jsonl`."""
    return [json.loads(row) for row in path.read_text(encoding="utf-8").splitlines() if row]
