"""
What an NPC's turn left waiting for the player's answer: a ``Proposal`` ("Shall I fit
them?", "Three chits. Paying now?") with the tool and the arguments it offered, which a
yes in the player's next line accepts (``choice.py``).

Pure policy: no model, no onnxruntime; the NPC-line reader and the sentence encoder come
in through ``SpeechActs``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from npc_runtime.lore.knowledge import KnowledgeView
from npc_runtime.lore.model import Tool, World
from npc_runtime.model.tokenizer import Message
from npc_runtime.tools.acts import OFFER_AT, SpeechActs
from npc_runtime.tools.calls import choices, ground, stated
from npc_runtime.tools.intents import intents, pointed_at, sentences

CALL_TEXT = re.compile(r"\[(\w+)\]\s*(\{.*\})?\s*$", re.DOTALL)  # a call as kept in history
# A tool the NPC's offer points at by its examples (``intents.chances``), when it names
# no thing: at least this likely, and this many times likelier than the NPC's next such
# tool ("Three chits and the wells are yours. Paying now?" reads 0.72 for the toll,
# 0.02 for stabling the camel; an NPC line is mostly read as small talk, so the bar is
# low: "A copper a night in the stable, shall I take her?" 0.16 against 0.03).
POINTED_AT = 0.1
# An offer that asks ("Three slabs of biscuit for three bits?", read 0.64) leaves the
# player something to answer: a lower bar than ``OFFER_AT``, which keeps a price told
# ("A room costs five coppers.") from being one; not after a call, whose line mostly tells
# what was done ("There, strung tight. Feels right, doesn't it?"). On npc_acts_check.yaml
# 0.5 for questions and 0.7 for all read the same 31 of 32 offers and 2 of 32 other lines.
ASKED_AT = 0.5
POINTED_BY = 3.0


@dataclasses.dataclass(frozen=True)
class Proposal:
    """
    A call the NPC offered and has not made: the player's next line may accept it, and
    then only that line (it expires after the next player turn). Kept per session as
    data, not read back from the conversation's text.
    """

    tool: str
    args: Mapping[str, Any]  # those the offer settled (the item sold, how many)
    why: str  # for the trace: "fit_gear follows sell_goods"

    def to_json(self) -> str:
        return json.dumps({"tool": self.tool, "args": dict(self.args), "why": self.why})

    @classmethod
    def from_json(cls, text: str) -> Proposal | None:
        """The stored proposal ("" or damaged: none; a lost offer only asks again)."""
        try:
            data = json.loads(text) if text else None
        except ValueError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("tool"), str):
            return None
        return cls(data["tool"], dict(data.get("args") or {}), str(data.get("why", "")))


def proposed(world: World, known: KnowledgeView, calls: Sequence[tuple[str, Mapping[str, Any]]],
             said: str, acts: SpeechActs, *, asked: str = "") -> Proposal | None:
    """
    What the NPC's turn offered, if anything: after it called ``C``, the tool that must be
    confirmed with ``C`` (it called ``C`` to ask); a tool that ``follows`` a call it made,
    if what it ``said`` asks the player something ("Want them fitted?"); the tool its
    last question asks for by the tool's examples ("Shall I open the gate?"). Else, when
    ``acts`` (its NPC-line reader, ``SpeechActs.offers``) reads ``said``, or its last
    question, as an offer: of the tools that act for the player (``SpeechActs.acts_on``),
    the one whose thing the line names ("Bowl of stew, love? Two coppers."); else, asked
    after a call of one, that tool again for the same thing ("Want a third for the way
    back?"); else the one whose thing the player's line named; else the one the line
    points at by the tools' examples ("Three chits. Paying now?"), or the NPC's one such
    tool, or its one such tool that takes no thing.
    A turn that made a call and asks nothing offers nothing: it tells what it did ("Two
    skins, filled to the neck.", "Then take it."); one that asks offers only by its
    question ("There you go. Anything else?" offers no second loaf). ``calls``: the calls
    made this turn (id, arguments), in order; ``asked``: the player's line the turn
    answered, where the thing an offer means without naming it was named ("Does the salve
    sting?" - "Eight coppers a pot. Want one?"). A proposal keeps the arguments its offer
    settled.
    """
    question = _last_question(said)
    for called, args in reversed(calls):
        for tool in known.tools:
            if tool.confirm_with == called or (tool.follows == called and question):
                how = "is confirmed by" if tool.confirm_with == called else "follows"
                kept = {p.name: args[p.name] for p in tool.params if p.name in args}
                return Proposal(tool.id, kept, f"{tool.id} {how} {called}")
    if question and (by_examples := intents(world, known.tools, question, embed=acts.embed)):
        tool = world.tools[by_examples[0].tool]
        return Proposal(tool.id, offered_args(world, known, tool, said, asked),
                        f"the NPC asked {question!r}")
    acting = [t for t in known.tools if acts.acts_on(world, t)]
    if not said or not acting or (calls and not question):
        return None
    bar = ASKED_AT if question and not calls else OFFER_AT
    # After a call, only its question offers: the rest tells what was handed over ("There
    # you go. Anything else?" read 0.88 whole, "Anything else?" 0.56).
    if (odds := _offer_odds(world, "" if calls else said, question, acts)) < bar:
        return None
    why = f"the NPC offered it ({odds:.2f}): {said!r}"
    found = _naming(world, known, acting, said, bare=True)
    if len(found) == 1:
        return Proposal(found[0].id, offered_args(world, known, found[0], said, asked), why)
    if found:
        return None  # two tools' things named: which is offered is the player's to say
    again = [(t, called, args) for called, args in reversed(calls) for t in acting
             if t.id == called]
    if question and again:
        tool, called, args = again[0]
        # The thing again, not the count: "a third" is one more, not another two.
        kept = {p.name: args[p.name] for p in tool.params
                if p.name in args and choices(world, known, p)}
        return Proposal(tool.id, kept, f"the NPC offered more after {called} ({odds:.2f}): "
                                       f"{said!r}")
    bare = [t for t in acting if not any(choices(world, known, p) for p in t.params)]
    in_asked = _naming(world, known, acting, asked)
    meant = ((in_asked[0] if len(in_asked) == 1 else None)
             or _pointed_at(world, acting, said, acts)
             or (acting[0] if len(acting) == 1 else None)
             or (bare[0] if len(bare) == 1 else None))
    return (Proposal(meant.id, offered_args(world, known, meant, said, asked), why)
            if meant else None)


def _offer_odds(world: World, said: str, question: str, acts: SpeechActs) -> float:
    """How likely ``said`` offers something: read whole, and its last ``question`` alone
    (a remark before the offer drowns it: "So the ledger says. Shall I unlock it?")."""
    return max((acts.offers(world, text) for text in dict.fromkeys([said, question]) if text),
               default=0.0)


def offered_args(world: World, known: KnowledgeView, tool: Tool, said: str, asked: str = ""
                 ) -> dict[str, Any]:
    """
    The arguments of ``tool`` an offer settled: each thing named in what the NPC ``said``,
    else in the player's line it answered (``asked``), else the one thing it may be; the
    count the offer states before the thing or a word of the tool's name ("Two tablets
    for the road?", "Two skins. Shall I fill them?": 2; not "The key? Five coppers."). What
    it left open the accepting line, or the model, settles.
    """
    args: dict[str, Any] = {}
    for text, bare in ((said, True), (asked, False)):
        for name, values in ground(world, known, tool, text, bare=bare).items():
            if values and name not in args:
                args[name] = values[0]
    for param in tool.params:
        allowed = choices(world, known, param)
        if param.name not in args and allowed and param.type == "string" and len(allowed) == 1:
            args[param.name] = allowed[0]
        elif not allowed and (count := stated(world, param, said, list(args.values()),
                                              counted=[tool.id.replace("_", " ")],
                                              loose=False)):
            args[param.name] = int(count[0])
    return args


def _naming(world: World, known: KnowledgeView, tools: Sequence[Tool], text: str, *,
            bare: bool = False) -> list[Tool]:
    """The ``tools`` a thing of which ``text`` names."""
    return [t for t in tools if any(ground(world, known, t, text, bare=bare).values())]


def _pointed_at(world: World, acting: Sequence[Tool], said: str, acts: SpeechActs
                ) -> Tool | None:
    """The tool an offer naming no thing points at by the tools' examples, if clearly one."""
    tool = pointed_at(world, acting, [t.id for t in acting], said, embed=acts.embed,
                      at=POINTED_AT, by=POINTED_BY)
    return world.tools[tool] if tool else None


def last_turn(history: Sequence[Message]) -> tuple[list[tuple[str, dict[str, Any]]], str]:
    """
    The NPC's last turn in a recorded ``history``: the calls it made since the player's
    last line (id, arguments) and the last thing it said aloud. For replaying recorded
    conversations (benchmarks, tests); a live session keeps its ``Proposal`` instead.
    """
    start = max((i for i, (role, _) in enumerate(history) if role == "user"), default=-1) + 1
    turn = history[start:]
    calls = [(m.group(1), json.loads(m.group(2) or "{}")) for role, text in turn
             if role == "assistant" and (m := CALL_TEXT.match(text))]
    said = next((text for role, text in reversed(turn)
                 if role == "assistant" and not CALL_TEXT.match(text)), "")
    return calls, said


def _last_question(said: str) -> str:
    """The last question in what the NPC said ("" if it asked none)."""
    return next((s for s in reversed(sentences(said)) if s.endswith("?")), "")

