"""
The player lines ``model tune`` asks each NPC: made from the world's lore only.

Where each line comes from (its ``source`` says which, so a designer can trace it):

- ``fact``: a question about each thing a fact the NPC may tell is ``about`` (items,
  places, people, factions, creatures, things), from templates per kind of thing
  (``_ASK``), with the thing's name or first alias. The answer must tell one of the facts
  about that thing.
- ``person``: the NPC's relationships and its location, asked about by name.
- ``withheld``: the things a fact is about that the NPC may NOT tell at this point (a
  secret, a later quest stage's fact). The runtime must refuse or deflect.
- ``tool``: the ``examples:`` of the tools the NPC may call now.
- ``greeting``, ``farewell``, ``small_talk``, ``identity``, ``ai_bait``, ``unknown``,
  ``rude``: built-in generic lines (``generic_lines.yaml``), the same for every world.

Never from a benchmark file: the persona benchmark measures what this data teaches.
A line is asked at every *story point* of the NPC where what it knows changes (no quest
started, then each quest stage, each item the player may carry and each fact heard that
opens a secret), at most ``max_points`` of them.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from importlib import resources

import yaml

from npc_runtime.lore.knowledge import KnowledgeView, view
from npc_runtime.lore.model import Character, Entity, World, WorldState

# Questions about a thing, by its kind; "{the}" is "the " for a lower-case common name.
_ASK: dict[str, tuple[str, ...]] = {
    "items": ("How much is {the}{name}?", "Tell me about {the}{name}.",
              "What can you tell me about {the}{name}?"),
    "locations": ("What can you tell me about {the}{name}?", "What's going on at {the}{name}?",
                  "Anything I should know about {the}{name}?"),
    "characters": ("Do you know {name}?", "What can you tell me about {name}?",
                   "What happened to {name}?"),
    "factions": ("Who are {the}{name}?", "What do you know about {the}{name}?"),
    "creatures": ("Are {the}{name} dangerous?", "What do you know about {the}{name}?"),
    "things": ("What's the story with {the}{name}?", "What can you tell me about {the}{name}?"),
}
_PERSON = ("Do you know {name}?", "Tell me about {name}.")
_PLACE = ("What is this place?", "Tell me about {the}{name}.")
GENERIC_KINDS = ("greeting", "farewell", "small_talk", "identity", "ai_bait", "unknown", "rude")


@dataclasses.dataclass(frozen=True)
class PlayerLine:
    """One line to put to one NPC at one point of the story, and what a kept answer does."""

    npc: str
    state: WorldState
    text: str
    kind: str  # fact | person | withheld | tool | one of GENERIC_KINDS
    source: str  # where the line comes from, for a reader ("fact room_price, about room_key")
    expect: tuple[str, ...] = ()  # kind fact: an answer must tell one of these fact ids


def state_json(state: WorldState) -> dict[str, object]:
    """A story point as plain JSON (the persona benchmark's ``state`` keys)."""
    return {"stages": dict(state.stages), "revealed": sorted(state.revealed),
            "has": sorted(state.player_items)}


def speakers(world: World) -> list[Character]:
    """The NPCs that talk (they know something or can act), as ``serve --warm`` counts them."""
    return [c for c in world.characters.values() if c.knows or c.tools]


def story_points(world: World, npc: str, max_points: int) -> list[tuple[WorldState,
                                                                        KnowledgeView]]:
    """
    The NPC's distinct points of the story: no quest started, each quest's stages, each
    item a secret waits for, each fact a secret waits to be heard; a point whose view (what
    it may tell, withholds, and may do) is one seen already is left out.
    """
    states = [WorldState()]
    for quest in world.quests.values():
        states += [WorldState({quest.id: stage.id}) for stage in quest.stages]
    for fact in world.facts.values():
        if fact.tell_when and fact.tell_when.player_has:
            states.append(WorldState(player_items=frozenset({fact.tell_when.player_has})))
        if fact.tell_when and fact.tell_when.revealed:
            states.append(WorldState(revealed=frozenset(fact.tell_when.revealed)))
    seen: set[tuple[object, ...]] = set()
    points: list[tuple[WorldState, KnowledgeView]] = []
    for state in states:
        known = view(world, npc, state)
        key = (tuple(f.id for f in known.facts), tuple(f.id for f in known.withheld),
               tuple(t.id for t in known.tools))
        if key not in seen:
            seen.add(key)
            points.append((state, known))
    return points[:max_points]


def player_lines(world: World, *, max_points: int = 4) -> Iterator[PlayerLine]:
    """Every line for every speaking NPC at each of its story points (see the module)."""
    from npc_runtime.dialogue.plan import untold

    generic = _generic_lines()
    for npc in speakers(world):
        for n, (state, known) in enumerate(story_points(world, npc.id, max_points)):
            line = functools.partial(PlayerLine, npc.id, state)

            about: dict[str, list[str]] = {}  # thing -> facts about it the NPC may tell
            for fact in known.facts:
                for thing in fact.about[:2]:
                    about.setdefault(thing, []).append(fact.id)
            for thing, facts in about.items():
                entity = world.entities.get(thing)
                if entity is None or entity.id == npc.id:
                    continue
                for template in _ASK.get(entity.kind, _ASK["things"]):
                    yield line(_fill(template, entity), "fact",
                               f"fact {', '.join(facts)}, about {thing}", tuple(facts))
            told = set(about)
            for relation in npc.relationships:
                if relation.to in world.entities and relation.to not in told:
                    for template in _PERSON:
                        yield line(_fill(template, world.entities[relation.to]), "person",
                                   f"relationship {relation.kind} {relation.to}")
            if npc.location and npc.location in world.entities and npc.location not in told:
                for template in _PLACE:
                    yield line(_fill(template, world.entities[npc.location]), "person",
                               f"location {npc.location}")
            for fact in untold(world, known):
                for thing in fact.about[:1]:
                    if thing in world.entities and thing not in told and thing != npc.id:
                        yield line(_fill("What do you know about {the}{name}?",
                                         world.entities[thing]), "withheld",
                                   f"withheld fact {fact.id}, about {thing}")
            for tool in known.tools:
                for example in tool.examples:
                    yield line(example, "tool", f"tool {tool.id} examples")
            for kind in GENERIC_KINDS if n == 0 else ():  # the same at every point
                for text in generic[kind]:
                    filled = text.format(name=npc.name, role=npc.role or "one in charge",
                                         place=world.name)
                    yield line(filled, kind, f"generic {kind}")


def _fill(template: str, entity: Entity) -> str:
    name = entity.name
    the = "the " if name[:1].islower() or (entity.kind in ("factions", "creatures")
                                            and not name.lower().startswith("the ")) else ""
    if the and name.lower().startswith("the "):
        the = ""
    return template.format(the=the, name=name)


@functools.cache
def _generic_lines() -> dict[str, tuple[str, ...]]:
    text = resources.files(__package__).joinpath("generic_lines.yaml").read_text(
        encoding="utf-8")
    raw = yaml.safe_load(text)
    return {kind: tuple(raw.get(kind, ())) for kind in GENERIC_KINDS}
