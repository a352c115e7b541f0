"""
How a player's quest state moves: a tool call's effects (items handed over, stages set)
and the quest transitions waiting for a call, for a fact to be told, or for the player to
pick one of their options.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from npc_runtime.lore.model import Tool, Transition, World, WorldState
from npc_runtime.tools.calls import ToolCall


def apply(world: World, state: WorldState, call: ToolCall, tool: Tool
          ) -> tuple[WorldState, list[str]]:
    """
    The player's state after ``call`` ran: items handed over, stages set, and quest
    transitions that wait for this call (with these arguments). Returns the new state
    and a line per change ("quest: stage -> stage", "item: id").
    """
    stages, items, changes = dict(state.stages), set(state.player_items), []
    if tool.gives_player and (item := call.args.get(tool.gives_player)):
        items.add(str(item))
        changes.append(f"item: {item}")
    for ref in tool.sets_stage:
        if stages.get(ref.quest) != ref.stage:
            changes.append(f"{ref.quest}: {stages.get(ref.quest, '-')} -> {ref.stage}")
            stages[ref.quest] = ref.stage
    changes += _advance(world, stages, lambda t: t.tool == call.tool and all(
        str(call.args.get(k)) == str(v) for k, v in t.args.items()))
    return WorldState(stages=stages, revealed=state.revealed,
                      player_items=frozenset(items)), changes


def reveal(world: World, state: WorldState, facts: Iterable[str]
           ) -> tuple[WorldState, list[str]]:
    """The player's state once told ``facts``: transitions waiting for them advance."""
    told = set(facts) - state.revealed
    if not told:
        return state, []
    revealed = state.revealed | told
    stages = dict(state.stages)
    changes = [f"revealed: {f}" for f in sorted(told)]
    changes += _advance(world, stages, lambda t: t.revealed is not None
                        and t.revealed in revealed)
    return WorldState(stages=stages, revealed=revealed,
                      player_items=state.player_items), changes


def options(world: World, state: WorldState, npc_id: str) -> tuple[str, ...]:
    """
    What the player may say to ``npc_id`` now to move a quest on: the option texts of the
    current stages of the started quests this NPC gives (the game's dialogue buttons).
    """
    found: list[str] = []
    for quest_id, stage_id in sorted(state.stages.items()):
        quest = world.quests.get(quest_id)
        if quest is None or quest.giver != npc_id or stage_id not in quest.reachable:
            continue
        found += [t.option for t in quest.stage(stage_id).next if t.option]
    return tuple(dict.fromkeys(found))


def choose(world: World, state: WorldState, npc_id: str, line: str
           ) -> tuple[WorldState, list[str]]:
    """The player's state after saying ``line`` to ``npc_id``: if it is one of their
    options (case, spacing and end punctuation aside), the transition it names fires."""
    picked = _plain(line)
    stages = dict(state.stages)
    changes = _advance(world, stages, lambda t: t.option is not None
                       and _plain(t.option) == picked, giver=npc_id)
    if not changes:
        return state, []
    return WorldState(stages=stages, revealed=state.revealed,
                      player_items=state.player_items), changes


def _plain(text: str) -> str:
    return " ".join(text.casefold().split()).rstrip(".!?")


def _advance(world: World, stages: dict[str, str], fires: Callable[[Transition], bool],
             giver: str | None = None) -> list[str]:
    """Move each started quest (of ``giver``, if given) along its first transition that
    ``fires`` (in place)."""
    changes = []
    for quest_id, stage_id in list(stages.items()):
        quest = world.quests.get(quest_id)
        if quest is None or stage_id not in quest.reachable:
            continue
        if giver is not None and quest.giver != giver:
            continue
        transition = next((t for t in quest.stage(stage_id).next if fires(t)), None)
        if transition is not None:
            stages[quest_id] = transition.to
            changes.append(f"{quest_id}: {stage_id} -> {transition.to}")
    return changes
