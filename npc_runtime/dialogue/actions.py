"""
Deciding and writing tool calls under a grammar, inside a turn running on the scheduler.

An NPC offered tools decides first, by an action tag: ``[say]`` (the engine then drops
the tag and lets it speak) or ``[tool_id]`` followed by the arguments as JSON. Which
tool the player asks for comes from the tools' authored examples and the dialogue state
(``wanted``); the model chooses only among tools that have no examples. The tag
is a constrained choice among "say" and the tools the lore lets it call now (and whose
lore-valued arguments the player's words ground). The arguments are written field by
field: keys and JSON punctuation are fed as fixed text, and each value is a constrained
choice among the values the lore allows (the NPC's inventory, entities it knows,
integers in range) or, for free text, a quoted string with no quote or newline inside.
So every call decoded is valid JSON against the tool's schema, with values the lore
offers.

The functions here are generators in the scheduler's protocol: they yield ``Decode``
and receive the next logits; ``yield from`` them inside a turn.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Generator, Mapping, Sequence

import numpy as np

from npc_runtime.constraints.grammar import TokenTrie
from npc_runtime.dialogue.scheduler import Decode
from npc_runtime.dialogue.score import numbers
from npc_runtime.lore.knowledge import KnowledgeView
from npc_runtime.lore.mentions import content_words, find_mentions, stem
from npc_runtime.lore.model import Tool, ToolParam, World
from npc_runtime.model.runner import KVCache
from npc_runtime.model.tokenizer import ChatTokenizer, Message
from npc_runtime.tools.acts import changes_game
from npc_runtime.tools.calls import QUANTITY, choices, ground
from npc_runtime.tools.intents import (
    MATCH,
    MATCH_AGAIN,
    affirms,
    bounds,
    chances,
    intents,
    remarks,
    sentences,
)

SAY = "say"
GROUNDING_MESSAGES = 6  # recent messages searched for an argument the line does not name
MAX_FREE_TOKENS = 24  # a free-text argument is a short phrase
MAX_RANGE = 200  # integer arguments with more values than this are capped
EVIDENCE_BIAS = 4.0  # logits added per word the player's line shares with a tool
CALL_TEXT = re.compile(r"\[(\w+)\]\s*(\{.*\})?\s*$", re.DOTALL)  # a call as kept in history

Steps = Generator[object, object, None]


@dataclasses.dataclass
class Reply:
    """The assistant reply being written into a turn's KV: its tokens and latest logits."""

    logits: np.ndarray  # for the token after ``ids``
    cache: KVCache
    ids: list[int] = dataclasses.field(default_factory=list)  # fed after the prompt


def feed(reply: Reply, tokens: Sequence[int]) -> Steps:
    """Run fixed tokens (grammar text) through the model, one decode step each."""
    for token in tokens:
        received = yield Decode(token, reply.cache)
        assert isinstance(received, np.ndarray)
        reply.logits = received
        reply.ids.append(token)


def choose(reply: Reply, trie: TokenTrie, bias: Mapping[str, float] | None = None
           ) -> Generator[object, object, str]:
    """The option the model prefers among those in ``trie``, fed as it is chosen."""
    prefix: list[int] = []
    while (value := trie.value(prefix)) is None:
        token = trie.pick(reply.logits, prefix, bias)
        prefix.append(token)
        yield from feed(reply, [token])
    return value


def decide(reply: Reply, tokenizer: ChatTokenizer, tools: Sequence[str],
           evidence: Mapping[str, float] | None = None) -> Generator[object, object, str]:
    """
    The action tag: "say" or one of ``tools``. ``evidence`` raises a tool's logit (the
    player's words name what it does): a small model weighs the persona over the request.
    """
    trie = TokenTrie({o: tokenizer.encode(f"[{o}]") for o in [SAY, *tools]})
    bias = {tool: EVIDENCE_BIAS * weight for tool, weight in (evidence or {}).items()}
    return (yield from choose(reply, trie, bias))


Tighten = Callable[[ToolParam, dict[str, object]], ToolParam]
"""Narrows a parameter given the arguments chosen before it (e.g. count <= stock)."""


def write_arguments(reply: Reply, tokenizer: ChatTokenizer,
                    params: Sequence[tuple[ToolParam, Sequence[str]]],
                    tighten: Tighten | None = None
                    ) -> Generator[object, object, dict[str, object]]:
    """
    The arguments object, one parameter after another: ``params`` pairs each with the
    values it may take (empty: free text, or its type's range).
    """
    args: dict[str, object] = {}
    yield from feed(reply, tokenizer.encode(" {" if params else " {}"))
    for i, (given, values) in enumerate(params):
        param = tighten(given, args) if tighten else given
        end = "," if i < len(params) - 1 else "}"
        yield from feed(reply, tokenizer.encode(f'{" " if i else ""}"{param.name}": '))
        literals = _literals(param, values)
        if literals:
            trie = TokenTrie({text + end: tokenizer.encode(text + end) for text in literals})
            args[param.name] = json.loads((yield from choose(reply, trie))[: -len(end)])
        else:
            args[param.name] = yield from _free_text(reply, tokenizer, end)
    return args


def _literals(param: ToolParam, values: Sequence[str]) -> list[str]:
    """The JSON texts a parameter may take ([] for free text); a number the player stated
    (``values``), if in range, is the only one."""
    if param.type in {"integer", "number"}:
        low = param.minimum if param.minimum is not None else 0
        high = param.maximum if param.maximum is not None else low + 99
        stated = [v for v in values if v.isdigit() and low <= int(v) <= high]
        return stated or [str(n) for n in range(low, min(high, low + MAX_RANGE - 1) + 1)]
    if param.type == "boolean":
        return ["true", "false"]
    return [json.dumps(v) for v in values]


def _free_text(reply: Reply, tokenizer: ChatTokenizer, end: str
               ) -> Generator[object, object, str]:
    """A short quoted string the model writes; it ends where the model closes the quote."""
    yield from feed(reply, tokenizer.encode('"'))
    quotes = tokenizer.ids_containing('"')
    newlines = tokenizer.ids_containing("\n\r")
    written: list[int] = []
    text = ""
    while len(written) < MAX_FREE_TOKENS:
        logits = reply.logits.copy()
        logits[newlines] = -np.inf
        if not written:
            logits[quotes] = -np.inf  # no empty strings
        token = int(np.argmax(logits))
        piece = tokenizer.decode([token])
        if '"' in piece:  # the model closes the string: keep what came before the quote
            text += piece[: piece.index('"')]
            break
        written.append(token)
        text = tokenizer.decode(written)
        yield from feed(reply, [token])
    # The closing quote and separator are fed as canonical text, whatever the model chose.
    yield from feed(reply, tokenizer.encode(text[len(tokenizer.decode(written)):] + '"' + end))
    return text  # as written into the KV, so the JSON there and the call agree


# --- which tools to offer -------------------------------------------------------------------

Offer = dict[str, list[tuple[ToolParam, tuple[str, ...]]]]
"""Tool id -> its parameters, each with the values it may take now."""


def offer(world: World, known: KnowledgeView, conversation: Sequence[Message], line: str,
          done: set[str], *, chosen: bool = False, acting: bool = True) -> Offer:
    """
    The tools worth offering the model now, each with its parameters and the values
    they may take ("talk less, call right": a 135M model, offered a tool, takes it).

    A lore-valued parameter takes the values the player named (in this line, else in the
    recent conversation); a tool whose required lore-valued parameter names nothing
    the player said is left out, and so is one with no such parameter unless the
    player's ``line`` shares a word with its name or description or matches one of its
    examples. Tools already called
    this turn (``done``) are left out. ``chosen``: the game picked the tool; no word needed.
    ``acting``: the line asks for something or says yes (``tools/acts.py``); if not, a
    tool that changes the game (gives an item, moves a quest) is not offered.
    """
    # What the player refers to: their line first, then the recent conversation
    # (the NPC naming an item lets the player say "I'll take it").
    said = [text for role, text in reversed(conversation)
            if role in {"user", "assistant"}][:GROUNDING_MESSAGES]
    line_words = _stems(content_words(line))
    asked = {intent.tool for intent in intents(world, known.tools, line)}
    needed = _needs(world, known, line)
    offered: Offer = {}
    for tool in known.tools:
        if tool.id in done or (changes_game(tool) and not (acting or chosen)):
            continue
        params: list[tuple[ToolParam, tuple[str, ...]]] = []
        grounded = False
        named_in = [ground(world, known, tool, text) for text in said]  # nearest first
        for param in tool.params:
            allowed = choices(world, known, param)
            if not allowed or param.type != "string":
                if not param.optional:
                    params.append((param, allowed or _stated(param, line)))
                continue
            named = next((g for found in named_in if (g := found.get(param.name))), ())
            if named:
                params.append((param, named))
                grounded = True
            elif not param.optional:
                break
        else:
            # After a call, only the player's own words justify another one.
            if (chosen or (grounded and not done) or tool.id in asked
                    or line_words & _tool_words(tool) or _bounded_find(tool, line)
                    or tool.id in needed):
                offered[tool.id] = params
    return offered


def wanted(world: World, known: KnowledgeView, history: Sequence[Message], line: str,
           offered: Mapping[str, object], *, again: bool = False,
           acting: bool = False, leaning: bool | None = None) -> list[str]:
    """
    The offered tools the player's ``line`` asks for by their authored examples, in the
    order to call them (``again``: a call was made this turn already; another needs a
    closer match). A "yes" asks for what the NPC's last turn asked about: the tool its
    confirming call stood for or the one that ``follows`` its call, else the one its last
    question proposed ("Shall I equip it?"); once answered, the yes asks nothing more. A
    thing the player asks about for the first time (the NPC listing it does not count),
    with nothing else asked and not merely remarked on, asks for the ``on_mention`` tool
    that takes it, and so does one question asking several things ("how much, and how
    long?"). A line naming nothing that sets a bound on an amount ("anything under 50
    gold?") or, as a question or a request, is loosely likely to ask a finder, asks
    that finder. A tool that must be confirmed first gives way to its
    ``confirm_with`` tool until the player said yes. A line that asks for something or
    says yes (``acting``, ``tools/acts.py``) that no example covers asks for the one tool
    that changes the game offered now (its item named by the player or in the offer). A
    yes is a yes by its words and, when the line was read (``leaning``: read as a request
    or a yes), by its reading too: "I would rather not." starts with "I would" but reads
    as a no.
    """
    yes = affirms(line) and leaning is not False
    overview = next((t.id for t in known.tools if t.on_mention), None)
    found = [(overview if overview and len(set(i.aspects) - {overview}) > 1 else i.tool,
              i.sentence)
             for i in intents(world, known.tools, line, MATCH_AGAIN if again else MATCH)]
    asked = [tool for tool, _ in found]
    asked_before = [tool for tool, _ in previous_calls(history)]
    if again and yes:  # the yes was answered by the first call
        asked = [tool for tool, at in found if at > 0]
    elif yes:  # "yes" answers the question before anything else
        agreed = [t.id for t in known.tools
                  if {t.confirm_with, t.follows} & set(asked_before) - {None}] or [
            i.tool for i in intents(world, known.tools, _last_question(history))]
        if agreed:  # what the yes-sentence itself seems to say is the yes
            asked = [*agreed, *(t for t, at in found if at > 0 and t not in agreed)]

    def call(tool_id: str) -> str:  # a tool to confirm first gives way to its asker
        confirm = world.tools[tool_id].confirm_with
        return confirm if confirm and confirm not in asked_before else tool_id

    asked = [t for t in asked if call(t) in offered]
    brought_up = [t.id for t in known.tools
                  if t.on_mention and _first_named(world, known, t, history, line)]
    if brought_up:  # a named thing is not looked for: finders give way
        asked = [t for t in asked if not _finds(world.tools[t])]
    if not asked and not again:
        if all(map(remarks, sentences(line))):  # "The bow looks heavy.": a new thing,
            brought_up = []  # remarked on, is not asked about
        giving = [t for t in offered if changes_game(world.tools[t])] if acting else []
        asked = (giving[:1] if len(giving) == 1 else []) or (
            brought_up or [t.id for t in known.tools if _bounded_find(t, line)]
            or _needs(world, known, line))
    return list(dict.fromkeys(call(t) for t in asked if call(t) in offered))


def previous_calls(history: Sequence[Message]) -> list[tuple[str, str]]:
    """The tool calls (id, arguments JSON) the NPC made answering the player's last line."""
    calls = []
    for role, text in reversed(history):
        if role == "user":
            break
        if role == "assistant" and (match := CALL_TEXT.match(text)):
            calls.append((match.group(1), match.group(2) or "{}"))
    return calls[::-1]


def asked_player(history: Sequence[Message]) -> bool:
    """Whether what the NPC last said aloud asked the player something (an offer such as
    "Want the key?" may be waiting for its answer)."""
    return bool(_last_question(history))


def _last_question(history: Sequence[Message]) -> str:
    """The last question in what the NPC last said aloud ("" if it asked none)."""
    said = next((text for role, text in reversed(history)
                 if role == "assistant" and not CALL_TEXT.match(text)), "")
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


def _needs(world: World, known: KnowledgeView, line: str) -> list[str]:
    """
    Finders a line that names no thing asks for loosely: a question or request with at
    least ``FIND_MATCH`` probability of asking for the finder ("I'm after a bow that's
    easy to handle" is a need, though no example says so).
    """
    if find_mentions(world, line):
        return []
    finders = [t.id for t in known.tools if _finds(t)]
    odds = chances(world, known.tools, line)  # per sentence, as sentences(line) splits
    return list(dict.fromkeys(
        tool for sentence, chance in zip(sentences(line), odds, strict=False)
        for tool in finders if chance.get(tool, 0.0) >= FIND_MATCH and not remarks(sentence)))


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


def _stated(param: ToolParam, line: str) -> tuple[str, ...]:
    """How many the player asked for, when it is a count and the line states one number
    ("I'll take two flasks": 2; "here's 4 coppers, two bowls": two numbers, none chosen):
    the model wrote counts the line did not say (ten flasks for "two flasks")."""
    if param.name != QUANTITY or param.type != "integer":
        return ()
    stated = set(numbers(line))
    return (str(stated.pop()),) if len(stated) == 1 else ()


def _tool_words(tool: Tool) -> set[str]:
    """What a tool does, in stems: its name and its description's first clause."""
    clause = re.split(r"[(.;:]", tool.description, maxsplit=1)[0]  # no "(e.g. ...)"
    return _stems(content_words(tool.id.replace("_", " ") + " " + clause))


def _stems(words: set[str]) -> set[str]:
    return {stem(w) for w in words}


