"""
Asking before acting: a line that reads as a request, but too unsurely to act on, for a
tool that would change the game with everything it needs named or meant, gets the NPC's
offer of that very call ("The room key, then?") instead of nothing; the player's yes takes
it (a ``Proposal``, as any offer of the NPC's).

Why: the speech-act reader (``acts.py``) reads most requests surely, but indirect and
chat-style ones ("the captain sent me for the grate key", "key pls") often land between
0.3 and the bar of 0.5, as do a few lines that ask nothing. Acting on them gives things
away; ignoring them leaves a player who asked with an NPC who talks past them. Asking
first is what a shopkeeper does, costs the player one "yes", and gives nothing away.

Pure policy: no model, no onnxruntime. ``NPC_CONFIRM=0`` (``Settings.confirm``) switches
it off.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from npc_runtime.lore.knowledge import KnowledgeView
from npc_runtime.lore.model import World
from npc_runtime.model.tokenizer import Message
from npc_runtime.tools.acts import Reading, acting_at, changes_game
from npc_runtime.tools.choice import offer, wanted
from npc_runtime.tools.intents import examples
from npc_runtime.tools.proposal import Proposal

# A line whose likeliest act is a request, read at least this surely but not surely enough
# to act on, is asked about first.
CONFIRM_AT = 0.3


def ask_first(world: World, known: KnowledgeView, history: Sequence[Message], line: str,
              reading: Reading, *, proposal: Proposal | None = None) -> Proposal | None:
    """
    The call to offer the player before acting, or None: when ``line``'s likeliest act is a
    request read at ``CONFIRM_AT`` or more (``reading``), no offer of the NPC's waits
    (``proposal``), and, read as a sure request, the line would call exactly one tool that
    changes the game, with every required argument settled by one value (what the player
    named or meant), whose bar (``acting_at``) the line's reading does not reach. A line
    the NPC acts on, or lets the model decide about, is not asked about.
    """
    if proposal is not None or reading.act != "request" or reading.p < CONFIRM_AT:
        return None
    conversation = [*history, ("user", line)]
    as_read = offer(world, known, conversation, line, set(), reading=reading)
    if wanted(world, known, history, line, as_read, reading=reading) or any(
            not examples(world.tools[t]) for t in as_read):
        return None  # it acts, or the model decides (a tool without examples is offered)
    sure = dataclasses.replace(reading, p=1.0, acting=True)
    offered = offer(world, known, conversation, line, set(), reading=sure)
    asked = wanted(world, known, history, line, offered, reading=sure)
    if len(asked) != 1 or not changes_game(tool := world.tools[asked[0]]):
        return None
    if reading.acts_for(acting_at(world, known.npc, tool)):
        return None  # sure enough for this tool's bar: something else kept it from acting
    args: dict[str, object] = {}
    for param, values in offered[tool.id]:
        if len(values) != 1:
            if param.optional:
                continue
            return None  # which one is the player's to say
        args[param.name] = int(values[0]) if param.type == "integer" else values[0]
    return Proposal(tool.id, args, f"the line reads as a request at {reading.p:.2f}, too "
                                   "unsurely to act on: the NPC asks first")


def thing(world: World, args: Mapping[str, object]) -> str:
    """The name of the thing a call with ``args`` hands over or works on ("" if none)."""
    return next((world.entities[value].name for value in args.values()
                 if isinstance(value, str) and value in world.entities), "")
