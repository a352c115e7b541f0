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
import re
from collections.abc import Callable, Mapping, Sequence

from npc_runtime.lore.knowledge import KnowledgeView
from npc_runtime.lore.mentions import content_words, find_mentions, owned, stem
from npc_runtime.lore.model import Tool, ToolParam, World
from npc_runtime.model.tokenizer import Message
from npc_runtime.tools.acts import Reading, acting_at, waits_for_asking
from npc_runtime.tools.calls import QUANTITY, choices, ground, meant, stated
from npc_runtime.tools.intents import (
    MATCH,
    MATCH_AGAIN,
    Embed,
    Remarks,
    bounds,
    chances,
    examples,
    intents,
    pointed_at,
    sentences,
)
from npc_runtime.tools.proposal import CALL_TEXT, POINTED_AT, POINTED_BY, Proposal

_NOT_TAKEN = frozenset({"no", "question"})  # answers to an offer that do not take it
GROUNDING_MESSAGES = 6  # recent messages searched for an argument the line does not name

Offer = dict[str, list[tuple[ToolParam, tuple[str, ...]]]]
"""Tool id -> its parameters, each with the values it may take now."""

Tighten = Callable[[ToolParam, dict[str, object]], ToolParam]
"""Narrows a parameter given the arguments chosen before it (e.g. count <= stock)."""


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
    NPC's ``proposal`` is, whatever the line's words ("Fine, here's your silver."), with
    the arguments it settled, unless the line answers it no or with a question.
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
        # An offer answered no, or with a question, is not taken by what follows ("hmm.
        # let me think about it, I might find a bunk on a ship" and "does it burn alright
        # in the damp though? everything on my boat is wet" read as requests, whole).
        if (reading and reading.answer in _NOT_TAKEN and proposal
                and proposal.tool == tool.id):
            return False
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
        # Accepting the offer takes what it settled ("Two tablets for the road?" - "yes
        # please": two), unless the line says otherwise ("yes, but three").
        settled = proposal.args if proposal and offered_now and acts else {}
        for param in tool.params:
            allowed = choices(world, known, param)
            if not allowed or param.type != "string":
                things = [v for _, values in params for v in values]
                # A thing only meant, not named, takes no count from the line: its one
                # number may be the price ("a bed tonight, here's five coppers").
                count = () if allowed or guessed else stated(world, param, line, things)
                if not count and param.name in settled and not allowed:
                    count = (str(settled[param.name]),)
                if not param.optional or count:  # "two stews": the count, though optional
                    params.append((param, allowed or count))
                continue
            named = next((g for found in named_in if (g := found.get(param.name))), ())
            if param.name in settled and not ground(world, known, tool, line).get(param.name):
                named = (str(settled[param.name]),)
            if not named and acts and not param.optional and embed is not None:
                others, own = _items_named(world, line)
                if not others:  # "a bed": the key; not "a pick head" for a pickaxe
                    named = meant(world, known, param, line, embed)
                    if set(named) & own:  # "fill my waterskin": not one to sell, though
                        named = ()  # it lies nearest
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
           offered: Offer, *, reading: Reading,
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
    offered now, if that tool has no examples or takes a thing the player named, and the
    line names no item that tool does not take; of several such, after a thing first
    asked about, the one the line's words clearly point at.
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
                  and reading.acts_for(acting_at(world, known.npc, world.tools[t]))
                  and not other_items(world, known, world.tools[t], line)
                  and _vouched(world, known, world.tools[t], offered[t], line)]
        # Of several, the one the line's words point at, if clearly one ("I'll buy a tow
        # line off you, mine's rotten through": the seller, not the mender), after a thing
        # asked about for the first time ("Warding the lighthouse? I'm listening.").
        # Not after an offer turned down ("Hmm, not yet... Could you just wrap it?").
        turned_down = proposal is not None and reading.answer in _NOT_TAKEN
        pointed = None if turned_down else pointed_at(
            world, known.tools, giving, line, embed=reading.embed, at=POINTED_AT,
            by=POINTED_BY)
        asked = (giving[:1] if len(giving) == 1 else []) or (
            brought_up or ([pointed] if pointed else [])
            or [t.id for t in known.tools if _bounded_find(t, line)]
            or _needs(world, known, line, reading.embed, reading.remarks))
    return list(dict.fromkeys(call(t) for t in asked if call(t) in offered))


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


def _items_named(world: World, line: str) -> tuple[set[str], set[str]]:
    """The items ``line`` names: other than the player's own (then nothing is guessed by
    meaning), and the player's own ("my sandals": "my lamp's dead, I need something to see
    by" may still mean a candle)."""
    items = [m for m in find_mentions(world, line) if world.entities[m.entity_id].kind == "items"]
    return ({m.entity_id for m in items if not owned(line, m.start)},
            {m.entity_id for m in items if owned(line, m.start)})


def _vouched(world: World, known: KnowledgeView, tool: Tool,
             params: list[tuple[ToolParam, tuple[str, ...]]], line: str) -> bool:
    """Whether a tool on offer may be called for a request no example covers: it has no
    examples to say otherwise, it takes a thing the player named, or the line says what
    its name says ("Fill all six of my skins" for ``fill_skins``). A word shared with its
    description is not enough ("Take your three chits for the water." shares "chits" with
    stabling a camel, "two chits a night")."""
    return (not tool.examples
            or any(values and choices(world, known, param) for param, values in params)
            or bool(_stems(content_words(line)) & _stems(content_words(tool.id.replace("_", " ")))))


def other_items(world: World, known: KnowledgeView, tool: Tool, line: str) -> set[str]:
    """Items ``line`` names that ``tool`` does not take, save the player's own ("fill my
    skins"): a request for one of them is not for this tool ("sell me a candle for the
    ride?" asks the cage-man for no ride; "i need a pick head" for no mended pickaxe)."""
    takes = {value for param in tool.params for value in choices(world, known, param)}
    return {m.entity_id for m in find_mentions(world, line)
            if world.entities[m.entity_id].kind == "items"
            and not owned(line, m.start)} - takes


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


def _tool_words(tool: Tool) -> set[str]:
    """What a tool does, in stems: its name and its description's first clause."""
    clause = re.split(r"[(.;:]", tool.description, maxsplit=1)[0]  # no "(e.g. ...)"
    return _stems(content_words(tool.id.replace("_", " ") + " " + clause))


def _stems(words: set[str]) -> set[str]:
    return {stem(w) for w in words}


