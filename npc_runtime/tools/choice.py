"""
Which tool, if any, a player's line sets off: the tool-choice policy of a turn.

A 135M model offered a tool takes it ("talk less, call right"), so the runtime decides
before the model runs: ``offer`` narrows the NPC's tools to those the line could be about
(their lore-valued arguments grounded in the player's words), and ``wanted`` names the ones
the line asks for, by the writers' ``examples:``, the line's speech act (``tools/acts.py``)
and the dialogue state: a ``Proposal`` the NPC made last turn ("Shall I fit them?") that a
yes accepts. What is left to the model (a tool without examples) and the arguments are
decoded under a grammar in ``dialogue/actions.py``.

Pure policy: no model, no onnxruntime; ``tools explain`` runs it as a turn does.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from npc_runtime.lore.knowledge import KnowledgeView
from npc_runtime.lore.mentions import NUMBER_WORDS, content_words, find_mentions, numbers, stem
from npc_runtime.lore.model import Tool, ToolParam, World
from npc_runtime.model.tokenizer import Message
from npc_runtime.tools.acts import OFFER_AT, Reading, SpeechActs, acting_at, waits_for_asking
from npc_runtime.tools.calls import QUANTITY, choices, ground, meant
from npc_runtime.tools.intents import (
    MATCH,
    MATCH_AGAIN,
    Embed,
    Remarks,
    bounds,
    chances,
    examples,
    intents,
    sentences,
)

GROUNDING_MESSAGES = 6  # recent messages searched for an argument the line does not name
CALL_TEXT = re.compile(r"\[(\w+)\]\s*(\{.*\})?\s*$", re.DOTALL)  # a call as kept in history

Offer = dict[str, list[tuple[ToolParam, tuple[str, ...]]]]
"""Tool id -> its parameters, each with the values it may take now."""

Tighten = Callable[[ToolParam, dict[str, object]], ToolParam]
"""Narrows a parameter given the arguments chosen before it (e.g. count <= stock)."""


@dataclasses.dataclass(frozen=True)
class Proposal:
    """
    A call the NPC offered and has not made: the player's next line may accept it, and
    then only that line (it expires after the next player turn). Kept per session as
    data, not read back from the conversation's text.
    """

    tool: str
    args: Mapping[str, Any]  # those known when it was offered (the item sold, say)
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
             said: str, acts: SpeechActs) -> Proposal | None:
    """
    What the NPC's turn offered, if anything: after it called ``C``, the tool that must be
    confirmed with ``C`` (it called ``C`` to ask); a tool that ``follows`` a call it made,
    if what it ``said`` asks the player something ("Want them fitted?"); the tool its
    last question asks for by the tool's examples ("Shall I open the gate?"). Else, when
    ``acts`` (its NPC-line reader, ``SpeechActs.offers``) reads ``said`` as an offer:
    of the tools that act for the player (``SpeechActs.acts_on``), the one whose item the
    line names ("Bowl of stew, love? Two coppers.", "I can mend the lamp."); else, asked
    after a call of one, that tool again for the same thing ("Want a third for the way
    back?"); else the NPC's one such tool that takes no item ("One silver to tie up. Pay
    now?", "She's ready. Level four?"). ``calls``: the calls made this turn (id,
    arguments), in order.
    """
    question = _last_question(said)
    for called, args in reversed(calls):
        for tool in known.tools:
            if tool.confirm_with == called or (tool.follows == called and question):
                how = "is confirmed by" if tool.confirm_with == called else "follows"
                kept = {p.name: args[p.name] for p in tool.params if p.name in args}
                return Proposal(tool.id, kept, f"{tool.id} {how} {called}")
    if question and (asked := intents(world, known.tools, question, embed=acts.embed)):
        return Proposal(asked[0].tool, {}, f"the NPC asked {question!r}")
    acting = [t for t in known.tools if acts.acts_on(world, t)]
    if not said or not acting or (odds := acts.offers(world, said)) < OFFER_AT:
        return None
    why = f"the NPC offered it ({odds:.2f}): {said!r}"
    named = [(t, {name: values[0] for name, values
                  in ground(world, known, t, said, bare=True).items() if values})
             for t in acting]
    if len(found := [(t, args) for t, args in named if args]) == 1:
        return Proposal(found[0][0].id, found[0][1], why)
    again = [(t, called, args) for called, args in reversed(calls) for t in acting
             if t.id == called]
    if question and not found and again:
        tool, called, args = again[0]
        # The thing again, not the count: "a third" is one more, not another two.
        kept = {p.name: args[p.name] for p in tool.params
                if p.name in args and choices(world, known, p)}
        return Proposal(tool.id, kept, f"the NPC offered more after {called} ({odds:.2f}): "
                                       f"{said!r}")
    bare = [t for t in acting if not any(choices(world, known, p) for p in t.params)]
    return Proposal(bare[0].id, {}, why) if not found and len(bare) == 1 else None


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


def offer(world: World, known: KnowledgeView, conversation: Sequence[Message], line: str,
          done: set[str], *, chosen: bool = False, acting: bool = True,
          reading: Reading | None = None, proposal: Proposal | None = None) -> Offer:
    """
    The tools worth offering the model now, each with its parameters and the values
    they may take ("talk less, call right": a 135M model, offered a tool, takes it).

    A lore-valued parameter takes the values the player named (in this line, else in the
    recent conversation); a tool whose required lore-valued parameter names nothing
    the player said is left out, and so is one with no such parameter unless the
    player's ``line`` shares a word with its name or description or matches one of its
    examples. Tools already called
    this turn (``done``) are left out. ``chosen``: the game picked the tool; no word needed.
    ``acting``: the line asks for something or says yes (``tools/acts.py``; its
    ``reading``, when given, decides per tool, at the tool's ``acting_at``, or at any
    probability when the tool's examples match the line); if not, a
    tool that changes the game (gives an item, moves a quest) is not offered; if so, the
    NPC's ``proposal`` is, whatever the line's words ("Fine, here's your silver.").
    """
    # What the player refers to: their line first, then the recent conversation
    # (the NPC naming an item lets the player say "I'll take it").
    said = [text for role, text in reversed(conversation)
            if role in {"user", "assistant"}][:GROUNDING_MESSAGES]
    line_words = _stems(content_words(line))
    embed = reading.embed if reading else None
    remarks = reading.remarks if reading else None
    asked = {intent.tool for intent in intents(world, known.tools, line, embed=embed,
                                               remarks=remarks)}
    needed = _needs(world, known, line, embed, remarks)
    offered: Offer = {}

    def asks_for(tool: Tool) -> bool:
        # The tool's own examples matching the line make a less sure request enough (its
        # writers' examples: the built-in ones of its kind are too few to vouch for it).
        return (reading.acts_for(acting_at(world, known.npc, tool))
                or (tool.id in asked and reading.asking and bool(tool.examples))
                if reading else acting)

    called = {tool for tool, _ in _all_calls(conversation)}
    for tool in known.tools:
        # A tool that asks first for others, without examples of its own, is asked for as
        # they are ("where do I sign?" asks for the contract that sign_on shows first).
        confirms = [t for t in known.tools if t.confirm_with == tool.id]
        acts = (any(map(asks_for, confirms)) if confirms and not examples(tool)
                else asks_for(tool))
        waits = reading.waits(tool) if reading else waits_for_asking(tool)
        if tool.id in done or (waits and not (acts or chosen)):
            continue
        offered_now = proposal is not None and proposal.tool == tool.id
        if tool.follows and tool.follows not in called and not (chosen or offered_now):
            continue  # fitting gear follows its sale: "I'll take two pairs" fitted mittens
        params: list[tuple[ToolParam, tuple[str, ...]]] = []
        grounded = guessed = False
        named_in = [ground(world, known, tool, text) for text in said]  # nearest first
        for param in tool.params:
            allowed = choices(world, known, param)
            if not allowed or param.type != "string":
                things = [v for _, values in params for v in values]
                # A thing only meant, not named, takes no count from the line: its one
                # number may be the price ("a bed tonight, here's five coppers").
                stated = () if allowed or guessed else _stated(world, param, line, things)
                if not param.optional or stated:  # "two stews": the count, though optional
                    params.append((param, allowed or stated))
                continue
            named = next((g for found in named_in if (g := found.get(param.name))), ())
            if not named and acts and not param.optional and embed is not None:
                named = meant(world, known, param, line, embed)  # "a bed" for the key
                guessed = bool(named)
            if named:
                params.append((param, named))
                grounded = True
            elif not param.optional:
                break
        else:
            # After a call, only the player's own words justify another one.
            accepted = acts and proposal is not None and proposal.tool == tool.id
            if (chosen or accepted or (grounded and not done) or tool.id in asked
                    or line_words & _tool_words(tool) or _bounded_find(tool, line)
                    or tool.id in needed):
                offered[tool.id] = params
    return offered


def wanted(world: World, known: KnowledgeView, history: Sequence[Message], line: str,
           offered: Mapping[str, object], *, reading: Reading,
           proposal: Proposal | None = None, again: bool = False) -> list[str]:
    """
    The offered tools the player's ``line`` asks for by their authored examples, in the
    order to call them (``again``: a call was made this turn already; another needs a
    closer match). A line whose first clause (``reading.answer``) is a yes or a request
    while the NPC's ``proposal`` waits accepts it, its first sentence being the answer
    ("Yes please, I'm starving.", not "Hmm, not yet. Could you wrap it?"); once
    answered, the yes asks nothing more. A
    thing the player asks about for the first time (the NPC listing it does not count),
    with nothing else asked and not merely remarked on, asks for the ``on_mention`` tool
    that takes it, and so does one question asking several things ("how much, and how
    long?"). A line naming nothing that sets a bound on an amount ("anything under 50
    gold?") or, as a question or a request, is loosely likely to ask a finder, asks
    that finder. A tool that must be confirmed first gives way to its
    ``confirm_with`` tool until the player accepted it. A line that acts (read as a
    request or a yes) that no example covers asks for the one tool that changes the game
    offered now (its item named by the player or in the offer).
    """
    accepts = proposal is not None and reading.accepts
    overview = next((t.id for t in known.tools if t.on_mention), None)
    found = [(overview if overview and len(set(i.aspects) - {overview}) > 1 else i.tool,
              i.sentence)
             for i in intents(world, known.tools, line, MATCH_AGAIN if again else MATCH,
                              embed=reading.embed, remarks=reading.remarks)]
    asked = [tool for tool, _ in found]
    if accepts and again:  # the yes was answered by the first call
        asked = [tool for tool, at in found if at > 0]
    elif proposal and accepts:
        asked = [proposal.tool, *(t for t, at in found if at > 0 and t != proposal.tool)]

    def call(tool_id: str) -> str:  # a tool to confirm first gives way to its asker
        confirm = world.tools[tool_id].confirm_with
        accepted = proposal is not None and proposal.tool == tool_id and accepts
        return confirm if confirm and not accepted else tool_id

    asked = [t for t in asked if call(t) in offered]
    brought_up = [t.id for t in known.tools
                  if t.on_mention and _first_named(world, known, t, history, line)]
    if brought_up:  # a named thing is not looked for: finders give way
        asked = [t for t in asked if not _finds(world.tools[t])]
    if not asked and not again:
        if all(map(reading.remarks, sentences(line))):  # "The bow looks heavy.": a new thing,
            brought_up = []  # remarked on, is not asked about
        giving = [t for t in offered
                  if reading.acts_on(world.tools[t])
                  and reading.acts_for(acting_at(world, known.npc, world.tools[t]))]
        asked = (giving[:1] if len(giving) == 1 else []) or (
            brought_up or [t.id for t in known.tools if _bounded_find(t, line)]
            or _needs(world, known, line, reading.embed, reading.remarks))
    return list(dict.fromkeys(call(t) for t in asked if call(t) in offered))


def _last_question(said: str) -> str:
    """The last question in what the NPC said ("" if it asked none)."""
    return next((s for s in reversed(sentences(said)) if s.endswith("?")), "")


def _first_named(world: World, known: KnowledgeView, tool: Tool,
                 history: Sequence[Message], line: str) -> bool:
    """
    Whether ``line`` names a thing ``tool`` takes that the player has not asked about
    before: not named in their earlier lines, no call made about it (the NPC listing it
    does not count).
    """
    asked = " ".join(text for role, text in history if role == "user")
    looked_up = " ".join(args for _, args in _all_calls(history))
    before = {value for text in (asked, looked_up)
              for values in ground(world, known, tool, text).values() for value in values}
    return any(value not in before
               for values in ground(world, known, tool, line).values() for value in values)


def _all_calls(history: Sequence[Message]) -> list[tuple[str, str]]:
    """Every tool call (id, arguments JSON) in the history."""
    return [(m.group(1), m.group(2) or "{}") for role, text in history
            if role == "assistant" and (m := CALL_TEXT.match(text))]


def _needs(world: World, known: KnowledgeView, line: str, embed: Embed | None,
           remarks: Remarks | None) -> list[str]:
    """
    Finders a line that names no thing asks for loosely: a question or request with at
    least ``FIND_MATCH`` probability of asking for the finder ("I'm after a bow that's
    easy to handle" is a need, though no example says so).
    """
    if find_mentions(world, line):
        return []
    finders = [t.id for t in known.tools if _finds(t)]
    odds = chances(world, known.tools, line, embed=embed)  # per sentence, as sentences(line) splits
    return list(dict.fromkeys(
        tool for sentence, chance in zip(sentences(line), odds, strict=False)
        for tool in finders
        if chance.get(tool, 0.0) >= FIND_MATCH and not (remarks and remarks(sentence))))


FIND_MATCH = 0.3


def _bounded_find(tool: Tool, line: str) -> bool:
    """A finder with criteria, asked with a bound on an amount ("anything under 50 gold?")."""
    return _finds(tool) and bool(tool.params) and bounds(line)


def _finds(tool: Tool) -> bool:
    """A tool that looks things up by description: no lore-valued parameter is required."""
    return not any(p.source or p.enum for p in tool.params if not p.optional)


def evidence(known: KnowledgeView, line: str, offered: Mapping[str, object]
             ) -> dict[str, float]:
    """Per offered tool, the words the player's line shares with what the tool does."""
    words = _stems(content_words(line))
    return {t.id: float(len(words & _tool_words(t))) for t in known.tools if t.id in offered}


def stock_limit(tool: Tool, known: KnowledgeView) -> Tighten:
    """A tool that hands over an item the NPC holds cannot ask for more than it holds."""
    def tighten(param: ToolParam, args: dict[str, object]) -> ToolParam:
        item = args.get(tool.requires_has_item or "")
        if param.name != QUANTITY or not isinstance(item, str):
            return param
        held = known.npc.inventory.get(item, 0)
        top = held if param.maximum is None else min(param.maximum, held)
        return dataclasses.replace(param, maximum=max(top, param.minimum or 0))

    return tighten


def _stated(world: World, param: ToolParam, line: str, things: Sequence[str]
            ) -> tuple[str, ...]:
    """
    How many the player asked for, when it is a count: the number just before a word
    naming one of ``things`` ("two flasks of lamp oil", "both your salves", "here's 4
    coppers, two bowls of stew": 2; the thing named with no number before it: none
    stated), else the line's one number ("I'll take two": 2). The model wrote counts the
    line did not say (ten flasks for "two flasks").
    """
    if param.name != QUANTITY or param.type != "integer":
        return ()
    names = {stem(form) for thing in things if (entity := world.entities.get(thing))
             for name in (entity.name, *entity.aliases) for w in content_words(name)
             for form in (w, w + "s")}  # "salves" for "salve"
    tokens = _TOKEN.findall(line.lower())
    before, named = set(), False
    for at, token in enumerate(tokens):
        if stem(token) in names:
            named = True
            for back in reversed(tokens[max(0, at - COUNT_REACH):at]):
                if not back[0].isalnum():  # "4 coppers, two bowls": not past the comma
                    break
                if (count := _count(back)) is not None:
                    before.add(count)
                    break
    stated = before or (set() if named else set(numbers(line)))
    return (str(stated.pop()),) if len(stated) == 1 else ()


COUNT_REACH = 3  # words between a count and the thing's name ("two big bowls of stew")
_TOKEN = re.compile(r"[a-z0-9]+|[^\sa-z0-9']")


def _count(word: str) -> int | None:
    if word.isdigit():
        return int(word)
    return 2 if word == "both" else NUMBER_WORDS.get(word)


def _tool_words(tool: Tool) -> set[str]:
    """What a tool does, in stems: its name and its description's first clause."""
    clause = re.split(r"[(.;:]", tool.description, maxsplit=1)[0]  # no "(e.g. ...)"
    return _stems(content_words(tool.id.replace("_", " ") + " " + clause))


def _stems(words: set[str]) -> set[str]:
    return {stem(w) for w in words}


