"""
How a player's quest state moves: a tool call's effects (items handed over, stages set)
and the quest transitions waiting for a call or for a fact to be told.
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


def _advance(world: World, stages: dict[str, str], fires: Callable[[Transition], bool]
             ) -> list[str]:
    """Move each started quest along its first transition that ``fires`` (in place)."""
    changes = []
    for quest_id, stage_id in list(stages.items()):
        quest = world.quests.get(quest_id)
        if quest is None or stage_id not in quest.reachable:
            continue
        transition = next((t for t in quest.stage(stage_id).next if fires(t)), None)
        if transition is not None:
            stages[quest_id] = transition.to
            changes.append(f"{quest_id}: {stage_id} -> {transition.to}")
    return changes
