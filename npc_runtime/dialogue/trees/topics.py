"""
What a conversation is about, for a dialogue spec that names no facts (imported ones).

A written spec says which facts its tree reveals; an imported one (KNUDGE) gives only its
participants and its quest stages. Filling the tree with everything the NPC knows made
every tree one fixed size (``max_nodes``) and mostly about nothing the scene is for. The
spec says enough to choose, in this order:

1. the stage: what the entry stage wants this NPC to tell, what the NPC learns at the entry
   and unlock stages (quest-log and walkthrough facts of those stages);
2. the people: what the NPC knows about itself and the other participants;
3. what those name: the first ``PER_NAMED`` facts about each thing or person that the
   stage's facts, the stage objectives and the participants' facts name (a thing's
   introduction: what it is, where, whose), and its other facts that share words with
   those texts;
4. the rest of the quest's lore (an imported quest lists the things it involves): what each
   other thing is, its first ``PER_OTHER`` facts.

Everything else the NPC knows (the rest of a company's history, say) stays out, and the
size of the tree follows: a scene with a rich stage and well-known participants gets more
answers than a short errand; ``max_nodes`` still caps it, dropping from the end of that
order. The gold trees are never read here.

Measured with the planned facts alone (each is revealed by construction) on all 29 KNUDGE
development quests (103 specs): filling 40 nodes covered 0.741 of the gold trees' facts with
38.3 nodes a tree; this order covers 0.759 with 26.8. Without step 4 it is 0.70 on the
first three quests: imported specs often have redacted objectives, so the quest's lore is
the only cue left to what a scene touches.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Iterable, Sequence

from npc_runtime.lore.knowledge import KnowledgeView
from npc_runtime.lore.mentions import content_words, find_mentions
from npc_runtime.lore.model import DialogueSpec, Fact, World

PER_NAMED = 2  # facts about each named thing, its first (they introduce it)
TOUCHES = 2  # content words a later fact shares with the scene's texts to be told too
PER_OTHER = 2  # facts about each other thing of the quest's lore


def scene_facts(world: World, spec: DialogueSpec, known: KnowledgeView,
                later: Sequence[Fact] = ()) -> list[Fact]:
    """
    The facts the conversation ``spec`` is about, most central first: from what the NPC
    may tell now (``known``) and what it may tell once the quest is at the unlock stage
    (``later``).
    """
    pool = list({f.id: f for f in [*known.facts, *later]}.values())
    stages = {s for s in (spec.entry_stage, spec.unlock_stage) if s}
    stage = [*known.must_reveal, *(f for f in pool
                                   if f.since is not None and f.since.stage in stages)]
    people = set(spec.participants) | {known.npc.id}
    about_people = sorted((f for f in pool if people & set(f.about)),
                          key=lambda f: known.npc.id not in f.about)  # the NPC's own first
    core = list(dict.fromkeys([*stage, *about_people]))
    texts = [f.text for f in core] + _objectives(world, spec)
    named = [f for entity in _named(world, texts, exclude=people)
             for f in _introduced(world, entity, pool, content_words(" ".join(texts)))]
    told = {a for f in [*core, *named] for a in f.about}
    rest = [f for entity in dict.fromkeys(a for f in pool for a in f.about)
            if entity not in told for f in _about(entity, pool)[:PER_OTHER]]
    return list(dict.fromkeys([*core, *named, *rest]))


def _about(entity: str, pool: Sequence[Fact]) -> list[Fact]:
    """The facts of ``pool`` about ``entity``, in the lore's order."""
    return [f for f in pool if entity in f.about]


def _introduced(world: World, entity: str, pool: Sequence[Fact], scene: set[str]
                ) -> list[Fact]:
    """What a scene that names ``entity`` tells of it: its first facts, and the others that
    share words with the scene (``scene``: its content words) beyond the entity's name."""
    name = content_words(world.entities[entity].name) if entity in world.entities else set()
    return [f for i, f in enumerate(_about(entity, pool))
            if i < PER_NAMED or len((content_words(f.text) - name) & scene) >= TOUCHES]


def _objectives(world: World, spec: DialogueSpec) -> list[str]:
    """The objective lines of the spec's entry and unlock stages (where the world has them)."""
    quest = world.quests.get(spec.quest or "")
    if quest is None:
        return []
    stages = {s.id: s for s in quest.stages}
    return [stages[s].objective for s in (spec.entry_stage, spec.unlock_stage)
            if s in stages and stages[s].objective]


def _named(world: World, texts: Iterable[str], *, exclude: set[str]) -> list[str]:
    """The entities ``texts`` name, most often named first (ties: first named first). A
    person may be named by a first name alone ("Catherine"), as the lore's facts do."""
    firsts = _first_names(world)
    counts: collections.Counter[str] = collections.Counter()
    for text in texts:
        counts.update(m.entity_id for m in find_mentions(world, text))
        counts.update(firsts[w] for w in re.findall(r"[A-Z][a-z]+", text) if w in firsts)
    return [e for e, _ in counts.most_common() if e not in exclude]


def _first_names(world: World) -> dict[str, str]:
    """Characters' first names that name no one else: first name -> character id."""
    owners: dict[str, set[str]] = {}
    for character in world.characters.values():
        parts = character.name.split()
        if len(parts) > 1:
            owners.setdefault(parts[0], set()).add(character.id)
    return {name: next(iter(ids)) for name, ids in owners.items() if len(ids) == 1}
