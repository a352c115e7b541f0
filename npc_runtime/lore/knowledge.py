"""
Point-in-time knowledge: what one NPC knows and may do, given where the player stands.

Knowledge unlocked at a stage is known at that stage and at every stage reachable from
it; a secret is known but withheld until its ``tell_when`` holds.
"""

from __future__ import annotations

import dataclasses

from npc_runtime.lore.model import (
    Character,
    Condition,
    Entity,
    Fact,
    Stage,
    StageRef,
    Tool,
    World,
    WorldState,
)


@dataclasses.dataclass(frozen=True)
class KnowledgeView:
    """Everything the model may be told about one NPC at one point of the story."""

    npc: Character
    facts: tuple[Fact, ...]  # may be said
    withheld: tuple[Fact, ...]  # known secrets whose condition does not hold yet
    entities: tuple[Entity, ...]  # may be named
    must_reveal: tuple[Fact, ...]  # the current stages want this NPC to tell these
    tools: tuple[Tool, ...]  # callable now (stage preconditions hold)
    objectives: tuple[tuple[str, Stage], ...]  # (quest name, current stage) of started quests


def reached(world: World, ref: StageRef, state: WorldState) -> bool:
    """True when the player's stage in ``ref.quest`` is ``ref.stage`` or comes after it."""
    current = state.stages.get(ref.quest)
    quest = world.quests.get(ref.quest)
    return current is not None and quest is not None and current in quest.reachable[ref.stage]


def available(world: World, tool: Tool, state: WorldState) -> bool:
    """Whether the NPC may call ``tool`` now: its ``requires`` stage is reached, and a tool
    that moves a quest has somewhere to move it (once every stage it sets is reached,
    calling it again would take the harbour fee twice, or move the quest back)."""
    if tool.requires_stage is not None and not reached(world, tool.requires_stage, state):
        return False
    return not tool.sets_stage or not all(reached(world, ref, state) for ref in tool.sets_stage)


def holds(world: World, condition: Condition, state: WorldState) -> bool:
    """Whether a secret's (or tool's) condition holds for this player."""
    if condition.stage is not None:
        return reached(world, condition.stage, state)
    if condition.revealed:
        return set(condition.revealed) <= state.revealed
    return condition.player_has is not None and condition.player_has in state.player_items


def view(world: World, npc_id: str, state: WorldState | None = None) -> KnowledgeView:
    """
    The gated knowledge of ``npc_id`` at ``state`` (no quest started when None).

    Raises:
        UnknownNpcError: No such character.
    """
    state = state or WorldState()
    npc = world.character(npc_id)
    known: list[str] = list(npc.knows)
    must: list[str] = []
    objectives: list[tuple[str, Stage]] = []
    for quest_id, stage_id in state.stages.items():
        quest = world.quests.get(quest_id)
        if quest is None or stage_id not in quest.reachable:
            continue
        objectives.append((quest.name, quest.stage(stage_id)))
        for stage in quest.stages:
            if stage_id in quest.reachable[stage.id]:  # this stage is behind or at the player
                known += stage.unlocks.get(npc.id, ())
                known += [f for f, by in stage.reveals if by == npc.id]
        must += [f for f, by in quest.stage(stage_id).reveals if by == npc.id]
    for fact in world.facts.values():
        if npc.id in fact.known_by and (fact.since is None or reached(world, fact.since,
                                                                      state)):
            known.append(fact.id)
    facts: list[Fact] = []
    withheld: list[Fact] = []
    for fact_id in dict.fromkeys(known):
        if fact_id not in world.facts or not world.facts[fact_id].available:
            continue  # an entity id, or a fact whose text the source lacked
        fact = world.facts[fact_id]
        told = not fact.secret or (fact.tell_when is not None and holds(world, fact.tell_when,
                                                                        state))
        (facts if told else withheld).append(fact)
    entity_ids = [npc.id, *filter(None, (npc.faction, npc.location)),
                  *(r.to for r in npc.relationships), *npc.inventory,
                  *(i for i in known if i in world.entities),
                  *(a for f in facts for a in f.about if a in world.entities)]
    tools = [world.tools[t] for t in npc.tools if available(world, world.tools[t], state)]
    # A tool that asks first for others (their ``confirm_with``) is callable only while one
    # of them is: once signed on, "Sign me up!" put the contract in front of the player again.
    confirmed = {t.confirm_with for t in tools}
    asking = {t.confirm_with for t in world.tools.values()}
    tools = [t for t in tools if t.id not in asking or t.id in confirmed]
    return KnowledgeView(
        npc=npc, facts=tuple(facts), withheld=tuple(withheld),
        entities=tuple(world.entities[e] for e in dict.fromkeys(entity_ids)),
        must_reveal=tuple(world.facts[f] for f in dict.fromkeys(must)),
        tools=tuple(tools), objectives=tuple(objectives),
    )


def state_problems(world: World, state: WorldState) -> list[str]:
    """Why ``state`` cannot hold in ``world``, each naming what would (empty: it can)."""
    problems = []
    for quest_id, stage_id in sorted(state.stages.items()):
        quest = world.quests.get(quest_id)
        if quest is None:
            problems.append(f"no quest {quest_id!r}; quests: {', '.join(sorted(world.quests))}")
        elif stage_id not in quest.reachable:
            problems.append(f"quest {quest_id!r} has no stage {stage_id!r}; stages: "
                            f"{', '.join(s.id for s in quest.stages)}")
    problems += [f"no fact {fact_id!r} to reveal" for fact_id in sorted(state.revealed)
                 if fact_id not in world.facts]
    problems += [f"no item {item!r} for the player to carry" for item in
                 sorted(state.player_items)
                 if item not in world.entities or world.entities[item].kind != "items"]
    return problems
