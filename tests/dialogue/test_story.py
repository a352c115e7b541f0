"""Story points: built once per NPC and point of the story, the least recently used go."""

from __future__ import annotations

from npc_runtime.dialogue.story import StoryPoints
from npc_runtime.lore.model import World, WorldState
from npc_runtime.model.loader import LoadedModel


def test_a_story_point_is_built_once_and_the_oldest_goes(world: World,
                                                         tiny_model: LoadedModel) -> None:
    points = StoryPoints(tiny_model.tokenizer, size=2)
    start = points.get(world, "maren", WorldState())
    assert points.get(world, "maren", WorldState()) is start
    asked = points.get(world, "maren", WorldState({"noises_below": "asked"}))
    assert asked.known.must_reveal != start.known.must_reveal
    points.get(world, "maren", WorldState({"noises_below": "trusted"}))  # start goes
    assert points.get(world, "maren", WorldState()) is not start
    assert points.get(world, "maren", WorldState()).card == start.card
