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
from collections.abc import Generator, Mapping, Sequence

import numpy as np

from npc_runtime.constraints.grammar import TokenTrie
from npc_runtime.dialogue.scheduler import Decode
from npc_runtime.lore.model import ToolParam
from npc_runtime.model.runner import KVCache
from npc_runtime.model.tokenizer import ChatTokenizer
from npc_runtime.tools.choice import Tighten

SAY = "say"
MAX_FREE_TOKENS = 24  # a free-text argument is a short phrase
MAX_RANGE = 200  # integer arguments with more values than this are capped
EVIDENCE_BIAS = 4.0  # logits added per word the player's line shares with a tool

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
