"""
Tool calls against the lore: what values each argument may take, which of them the
player's words point at, whether a call may run, and what it changes.

The decoder builds its grammar from ``choices`` (so the model can only pick values the
lore offers), ``ground`` links the player's words to those values, and ``problems`` checks
a call again before anything runs (types, ranges, preconditions, inventory); its effects
on the player's quest state are in ``progress``.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping, Sequence

import numpy as np

from npc_runtime.lore.knowledge import KnowledgeView
from npc_runtime.lore.mentions import NUMBER_WORDS, STOPWORDS, WORD, numbers, refers, stem
from npc_runtime.lore.model import Tool, ToolParam, World
from npc_runtime.tools.intents import Embed, sentences

QUANTITY = "count"  # the parameter saying how many of ``requires: has_item`` change hands


@dataclasses.dataclass(frozen=True)
class ToolCall:
    """A call an NPC makes: a tool id and its arguments."""

    tool: str
    args: Mapping[str, object]


def choices(world: World, known: KnowledgeView, param: ToolParam) -> tuple[str, ...]:
    """
    The values ``param`` may take for this NPC now: its ``enum``, or the ids its ``from``
    source holds (the NPC's inventory, what it knows, entities of a kind it knows, ...).
    Empty for a free parameter.
    """
    if param.enum:
        return tuple(str(v) for v in param.enum)
    source = param.source
    if source is None:
        return ()
    if source == "npc.inventory":
        return tuple(item for item, count in known.npc.inventory.items() if count > 0)
    if source == "npc.knows":
        return (*(e.id for e in known.entities), *(f.id for f in known.facts))
    if source == "facts":
        return tuple(f.id for f in known.facts)
    if source == "quests":
        started = {q for q, _ in known.objectives}
        return tuple(q.id for q in world.quests.values()
                     if q.giver == known.npc.id or q.name in started)
    return tuple(e.id for e in known.entities if e.kind == source)


def json_schema(world: World, known: KnowledgeView, tool: Tool) -> dict[str, object]:
    """The tool's arguments as JSON Schema, with ``enum`` filled from the lore."""
    properties: dict[str, object] = {}
    for param in tool.params:
        spec: dict[str, object] = {"type": param.type}
        if param.description:
            spec["description"] = param.description
        if values := choices(world, known, param):
            spec["enum"] = list(values)
        if param.minimum is not None:
            spec["minimum"] = param.minimum
        if param.maximum is not None:
            spec["maximum"] = param.maximum
        properties[param.name] = spec
    return {"type": "object", "properties": properties, "additionalProperties": False,
            "required": [p.name for p in tool.params if not p.optional]}


def ground(world: World, known: KnowledgeView, tool: Tool, text: str, *, bare: bool = False
           ) -> dict[str, tuple[str, ...]]:
    """
    For each lore-valued parameter, the allowed values the player's ``text`` names (by
    name, alias, id, or a word of the name no other allowed value has: after "the", or
    also after "a" or a count for a tool that hands the player things; anywhere with
    ``bare``), in the order they were said.
    """
    grounded = {}
    for param in tool.params:
        allowed = choices(world, known, param)
        if allowed and param.type == "string":
            grounded[param.name] = tuple(refers(world, allowed, text, bare=bare,
                                                counted=bool(tool.gives_player))
                                         or _said([v for v in allowed
                                                   if v not in world.entities], text))
    return grounded


def _said(allowed: Sequence[str], text: str) -> list[str]:
    """The allowed values that are no lore entity (an ``enum``: "up", "one_way") the text
    says in words, in the order said ("take us up", "one way"); one value only: a line
    saying two ("up or down?") settles neither."""
    found = {match.start(): value for value in allowed
             for match in re.finditer(rf"\b{re.escape(value.replace('_', ' '))}\b", text,
                                      re.IGNORECASE)}
    said = list(dict.fromkeys(found[at] for at in sorted(found)))
    return said if len(said) == 1 else []


def meant(world: World, known: KnowledgeView, param: ToolParam, text: str, embed: Embed
          ) -> tuple[str, ...]:
    """
    The allowed value of a lore-valued ``param`` that the player's ``text`` means without
    naming it ("I need a bed tonight" means the room key), by the sentence encoder: the
    value whose name, aliases and facts lie nearest the text, or one of its sentences
    ("I'm soaked and dead on my feet. I need a bed for the night.": the whole lies 0.23
    from the key), if at least ``MEANT_AT`` near and ``MEANT_BY`` nearer than the next;
    else none (a guess between close values is worse than asking).
    """
    for ranked in (nearest(world, known, param, part, embed)
                   for part in dict.fromkeys([text, *sentences(text)])):
        if not ranked:
            return ()
        best, value = ranked[0]
        runner_up = ranked[1][0] if len(ranked) > 1 else -1.0
        if best >= MEANT_AT and best - runner_up >= MEANT_BY:
            return (value,)
    return ()


def nearest(world: World, known: KnowledgeView, param: ToolParam, text: str, embed: Embed
            ) -> list[tuple[float, str]]:
    """The allowed values of ``param`` by how near ``text`` their lore lies (cosine), nearest
    first (empty for a parameter that takes no lore value)."""
    allowed = choices(world, known, param)
    if not allowed or param.type != "string":
        return []
    lore = _lore_vectors(embed, tuple(_described(world, value) for value in allowed))
    near = lore @ embed([text])[0]
    return sorted(zip(near.tolist(), allowed, strict=True), reverse=True)


@functools.lru_cache(maxsize=64)
def _lore_vectors(embed: Embed, texts: tuple[str, ...]) -> np.ndarray:
    """The vectors of the values' lore, kept: a turn asks in every phase, and per tool."""
    return embed(list(texts))


# Cosine similarity of MiniLM sentence vectors. "I need a bed tonight" lies 0.50 from the
# room key (its fact: "A room ... costs five copper pieces a night") and 0.33 from eel
# stew; "something for my cold hands" 0.34 from ice cleats and 0.32 from wool mittens.
MEANT_AT = 0.4
MEANT_BY = 0.1


def _described(world: World, value: str) -> str:
    """What the lore says of ``value``: its name and aliases, and the facts about it."""
    entity = world.entities.get(value)
    if entity is None:
        return value.replace("_", " ")
    facts = [f.text for f in world.facts.values() if value in f.about]
    return "; ".join([entity.name, *entity.aliases]) + "".join(f". {f}" for f in facts)


def stated(world: World, param: ToolParam, line: str, things: Sequence[str], *,
           counted: Sequence[str] = (), loose: bool = True) -> tuple[str, ...]:
    """
    How many the player asked for, when it is a count: the number just before a word
    naming one of ``things`` or one of the ``counted`` words ("two flasks of lamp oil",
    "both your salves", "a couple of spikes", "here's 4 coppers, two bowls of stew": 2);
    else, when ``loose``, a number standing alone in a line naming the thing ("Candles.
    Three of them."), or the one number of a line naming none ("I'll take two": 2). The
    model wrote counts the line did not say (ten flasks for "two flasks"). An NPC's offer
    is read strictly: its one number is likely a price.
    """
    if param.name != QUANTITY or param.type != "integer":
        return ()
    words = [*counted, *(name for thing in things if (entity := world.entities.get(thing))
                         for name in (entity.name, *entity.aliases))]
    names = {stem(form) for name in words for w in WORD.findall(name.lower())
             if w not in STOPWORDS for form in (w, w + "s")}  # "salves" for "salve"
    tokens = _WORD_OR_MARK.findall(line.lower())
    before, named = set(), False
    for at, token in enumerate(tokens):
        if stem(token) in names:
            named = True
            for back in reversed(tokens[max(0, at - COUNT_REACH):at]):
                if not back[0].isalnum() or back in _RATE:  # "4 coppers, two bowls" and
                    break  # "one chit a skin" count no skins
                if (count := _count(back)) is not None:
                    before.add(count)
                    break
    if named and loose and not before:
        # The thing named with no count before it: a number standing alone is its count
        # ("Candles. Three of them.", "candles for the night shift, say 5"); one before
        # another word counts something else ("ten bits, right?", "two miles").
        before = {count for at, token in enumerate(tokens)
                  if (count := _count(token)) is not None and _alone(tokens, at + 1, names)}
    stated = before or (set() if named or not loose else set(numbers(line)))
    return (str(stated.pop()),) if len(stated) == 1 else ()


def _alone(tokens: Sequence[str], after: int, names: set[str]) -> bool:
    """Whether the token before ``after`` counts nothing else: the line or the clause ends
    there, or a little word or the thing's own name comes next."""
    if after >= len(tokens) or not tokens[after][0].isalnum():
        return True
    return tokens[after] in STOPWORDS or stem(tokens[after]) in names


COUNT_REACH = 3  # words between a count and the thing's name ("two big bowls of stew")
_RATE = frozenset({"a", "an", "per", "each"})
_WORD_OR_MARK = re.compile(r"[a-z0-9]+|[^\sa-z0-9']")


def _count(word: str) -> int | None:
    if word.isdigit():
        return int(word)
    return 2 if word in ("both", "couple") else NUMBER_WORDS.get(word)


def with_count(tool: Tool, args: Mapping[str, object]) -> dict[str, object]:
    """``args`` with the count said outright: a tool handing over an item (``requires:
    has_item``) that takes a ``count`` gets 1 when none was decoded, as ``problems`` and
    the quest state read it, so the game need not guess what a missing count means."""
    takes = tool.requires_has_item and any(p.name == QUANTITY for p in tool.params)
    return {**args, QUANTITY: 1} if takes and QUANTITY not in args else dict(args)


def problems(world: World, known: KnowledgeView, call: ToolCall) -> list[str]:
    """Why ``call`` may not run now (empty: it may)."""
    tool = next((t for t in known.tools if t.id == call.tool), None)
    if tool is None:
        return [f"{known.npc.id} cannot call {call.tool!r} now; it can call: "
                f"{', '.join(t.id for t in known.tools) or 'nothing'}"]
    found = [f"unknown argument {name!r}" for name in call.args
             if name not in {p.name for p in tool.params}]
    for param in tool.params:
        if param.name not in call.args:
            if not param.optional:
                found.append(f"missing argument {param.name!r}")
            continue
        found += _param_problems(world, known, param, call.args[param.name])
    if tool.requires_has_item and not found:
        item = str(call.args.get(tool.requires_has_item, ""))
        count = call.args.get(QUANTITY, 1)
        if known.npc.inventory.get(item, 0) < (count if isinstance(count, int) else 1):
            found.append(f"{known.npc.id} does not have {count} {item!r}")
    return found


def _param_problems(world: World, known: KnowledgeView, param: ToolParam,
                    value: object) -> list[str]:
    name = param.name
    if param.type == "integer" and (not isinstance(value, int) or isinstance(value, bool)):
        return [f"{name!r} must be an integer"]
    if param.type == "number" and (not isinstance(value, int | float)
                                   or isinstance(value, bool)):
        return [f"{name!r} must be a number"]
    if param.type == "boolean" and not isinstance(value, bool):
        return [f"{name!r} must be true or false"]
    if param.type == "string" and not isinstance(value, str):
        return [f"{name!r} must be a string"]
    if isinstance(value, int | float) and not isinstance(value, bool):
        if param.minimum is not None and value < param.minimum:
            return [f"{name!r} is {value}; the minimum is {param.minimum}"]
        if param.maximum is not None and value > param.maximum:
            return [f"{name!r} is {value}; the maximum is {param.maximum}"]
    allowed = choices(world, known, param)
    if (param.enum or param.source) and str(value) not in allowed:
        return [f"{name!r} is {value!r}; allowed: {', '.join(allowed) or 'nothing now'}"]
    return []
