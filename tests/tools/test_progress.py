"""Player options: the buttons a stage offers, and saying one moves its quest."""

from __future__ import annotations

from npc_runtime.lore.model import World, WorldState
from npc_runtime.tools.progress import choose, options

STEW = "I'll bring the boy some stew."


def test_options_come_from_the_current_stage_of_the_npcs_own_quests(world: World) -> None:
    assert options(world, WorldState(), "maren") == ()  # nothing started
    assert options(world, WorldState(stages={"noises_below": "asked"}), "maren") == ()
    trusted = WorldState(stages={"noises_below": "trusted"})
    assert options(world, trusted, "maren") == (STEW,)
    assert options(world, trusted, "tobin") == (), "only the quest's giver offers it"


def test_saying_an_option_takes_its_transition(world: World) -> None:
    trusted = WorldState(stages={"noises_below": "trusted"}, revealed=frozenset({"room_price"}))
    state, changes = choose(world, trusted, "maren", "  i'll bring the boy  some stew ")
    assert changes == ["noises_below: trusted -> done"]
    assert state.stages == {"noises_below": "done"}
    assert state.revealed == trusted.revealed
    assert options(world, state, "maren") == ()


def test_other_lines_and_other_npcs_change_nothing(world: World) -> None:
    trusted = WorldState(stages={"noises_below": "trusted"})
    assert choose(world, trusted, "maren", "I'll bring the boy some soup.") == (trusted, [])
    assert choose(world, trusted, "tobin", STEW) == (trusted, [])
