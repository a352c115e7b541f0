"""
The sentences a fact is matched by when the reply planner looks for what a line asks about.

A fact's text is a statement in the third person ("Maren's husband Tobin was lost at sea");
a player's line is a question in the second ("is there a mister somewhere?"). A small
sentence encoder compares the two only so well, so each fact is matched by the closest of
several sentences, all taken from the lore a writer authored (no model writes them):

- its text;
- how the NPC says it (``lore/voice.py``: its own name as "I"/"my", or the fact's ``says:``);
- that, with what its subjects are to the NPC ("Tobin is my spouse.": "are you married?");
- its text as told to the player: "the player's boat" becomes "your boat" (the line says "my
  boat" and the encoder reads "your boat" nearer than "the player's boat");
- the NPC's words with the lore's description of each of its subjects that is not a place or
  a person ("Fog eels come up the harbour..." and "Pale eels that come up the harbour in thick
  fog."): what a thing is, which a player may ask about without naming it. A place's
  description says where, not what, and every fact set there gets it (with the inn's, "What's
  cooking tonight?" read as near the room's price as the stew's); a person's pulls every "who"
  question (with Tobin's, "Who's the mayor?" asked about him).

Tried and left out (measured with benchmarks/plan_probe.py): a question each fact answers,
written by the default language model once per world (doc2query): SmolLM2-135M wrote
questions about something else for most facts ("What's the story behind this fact?"), which
would pull unrelated lines to them; the objectives of the quest stages that reveal a fact
("Ask Maren about the noises in the cellar."): they found two more facts on the development
set and gave facts to three more lines that asked none ("Pay Oskar the harbour fee." matched
"I'm not paying your stupid fee"); the fact split into clauses: fewer right first facts.

Each form carries where it came from, so the plan's ``why`` can say which one matched.
"""

from __future__ import annotations

import dataclasses

from npc_runtime.lore.model import Character, Fact, World
from npc_runtime.lore.voice import says, to_player

# Entities whose description is no form of the facts about them (see the module docstring).
_HUBS = frozenset({"locations", "characters"})


@dataclasses.dataclass(frozen=True)
class Form:
    """One sentence a fact is matched by, and where it came from ("" for its own text)."""

    text: str
    source: str = ""  # said in the plan's ``why`` when this form matched


def fact_forms(fact: Fact, npc: Character, world: World, *, described: bool = True
               ) -> tuple[Form, ...]:
    """The sentences ``fact`` is matched by for ``npc``, its text first, without repeats;
    ``described``: with its subjects' descriptions."""
    own = says(fact, npc)
    related = [f"{world.entities[r.to].name} is my {r.kind}." for r in npc.relationships
               for about in fact.about if r.to == about and r.to in world.entities]
    forms = [Form(fact.text), Form(own), Form(" ".join([own, *related])),
             Form(to_player(fact.text)),
             *(Form(f"{own} {world.entities[a].description}",
                    f"the description of {world.entities[a].name}")
               for a in fact.about if described and _describes(world, a))]
    seen: set[str] = set()
    unique = []
    for form in forms:
        if form.text and form.text not in seen:
            seen.add(form.text)
            unique.append(form)
    return tuple(unique)


def _describes(world: World, entity_id: str) -> bool:
    """Whether the entity's description is a form of the facts about it (see above)."""
    entity = world.entities.get(entity_id)
    return entity is not None and bool(entity.description) and entity.kind not in _HUBS
