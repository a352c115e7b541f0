"""The draft scorer: each fault found by its rule, and none on a good line."""

from __future__ import annotations

from npc_runtime.dialogue.plan import Act, Plan
from npc_runtime.dialogue.score import faults, numbers, states
from npc_runtime.lore.model import World

NOTE = "What you say next must include this: A room costs five copper pieces a night."


def _faults(world: World, text: str, act: Act = Act.ANSWER, **kw: object) -> tuple[str, ...]:
    plan = Plan(act, (world.facts["room_price"],) if act is Act.ANSWER else ())
    return faults(text, plan, world.characters["maren"], note=kw.pop("note", NOTE),
                  **kw).faults  # type: ignore[arg-type]


def test_a_good_answer_has_no_fault(world: World) -> None:
    assert _faults(world, "Five coppers a night for a room, love.") == ()
    assert _faults(world, "I'm Maren, and a room's five copper a night.") == ()


def test_each_fault_is_found(world: World) -> None:
    assert _faults(world, "Welcome to the inn, love.") == ("misses the plan",)
    assert "talks about the game ('player')" in _faults(
        world, "The player wants a room for five coppers a night.")
    assert "repeats its instructions" in _faults(
        world, "What you say next must include a room.", Act.SMALL_TALK,
        note="What you say next must include this")
    assert "third person ('Maren')" in _faults(
        world, "Maren says a room is five coppers a night.")
    assert "repeats itself" in _faults(
        world, "A room is five coppers a night.", recent=["A room is five coppers a night!"])
    assert "unfinished" in _faults(world, "Five coppers a night, and:")
    assert "unfinished" in _faults(world, "Greetings,", Act.GREETING)
    assert "unknown number (40)" in _faults(
        world, "A room is five coppers a night, or 40 a week.", known_numbers={5})


def test_a_fact_is_stated_by_its_numbers_and_words() -> None:
    fact = "A room at the Gull and Lantern costs five copper pieces a night."
    assert states("Five coppers a night, the room.", fact)
    assert not states("Six coppers a night, the room.", fact)
    assert not states("Five, love.", fact)
    assert numbers("two rooms, 12 nights") == [2, 12]
