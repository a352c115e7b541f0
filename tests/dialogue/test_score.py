"""The draft scorer: each fault found by its rule, and none on a good line."""

from __future__ import annotations

import dataclasses

from npc_runtime.constraints.checker import LineChecker
from npc_runtime.dialogue.plan import Act, Plan
from npc_runtime.dialogue.prompt import persona_card
from npc_runtime.dialogue.score import Verdict, best, faults, judge, stand_in, states
from npc_runtime.lore.knowledge import view
from npc_runtime.lore.mentions import numbers
from npc_runtime.lore.model import World, WorldState

NOTE = "What you say next must include this: A room costs five copper pieces a night."


def _faults(world: World, text: str, act: Act = Act.ANSWER, **kw: object) -> tuple[str, ...]:
    plan = Plan(act, (world.facts["room_price"],) if act is Act.ANSWER else ())
    gist = world.facts["room_price"].text if act is Act.ANSWER else ""
    return faults(text, plan, world.characters["maren"], note=kw.pop("note", NOTE),
                  gist=kw.pop("gist", gist), **kw).faults  # type: ignore[arg-type]


def test_a_good_answer_has_no_fault(world: World) -> None:
    assert _faults(world, "Five coppers a night for a room, love.") == ()
    assert _faults(world, "I'm Maren, and a room's five copper a night.") == ()
    assert _faults(world, "Maren Ashveil, innkeeper. Rooms are five copper a night.") == ()


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
    assert "sounds like an assistant" in _faults(
        world, "I'm here to help you with that.", Act.SMALL_TALK, note="")
    assert "unfinished" in _faults(world, "Five coppers a night, and:")
    assert "unfinished" in _faults(world, "Greetings,", Act.GREETING)
    assert "misses the plan" in _faults(world, "I'm ready to help.", Act.FAREWELL,
                                        gist="Safe travels.")
    assert "misses the plan" not in _faults(world, "Safe travels, love.", Act.FAREWELL,
                                            gist="Safe travels.")
    assert "unknown number (40)" in _faults(
        world, "A room is five coppers a night, or 40 a week.", known_numbers={5})


def test_a_fact_is_stated_by_its_numbers_and_words() -> None:
    fact = "A room at the Gull and Lantern costs five copper pieces a night."
    assert states("Five coppers a night, the room.", fact)
    assert not states("Six coppers a night, the room.", fact)
    assert not states("Five, love.", fact)
    assert numbers("two rooms, 12 nights") == [2, 12]
    assert numbers("on the 12th, at 3pm") == [12, 3]


def test_when_every_draft_has_faults_the_stand_in_follows_the_rule(world: World) -> None:
    """No draft stated the gist, or every draft has a severe fault: the gist (a fact as the
    NPC says it, a greeting...); severe faults and no gist: an authored line ("");
    else the best draft (None)."""
    gist = "My husband Tobin was lost at sea with the herring fleet."
    missed = [Verdict("Welcome, love.", ("misses the plan",)),
              Verdict("The player is here.", ("misses the plan", "talks about the game"))]
    assert stand_in(gist, missed) == gist
    severe = [Verdict("The player is here.", ("talks about the game ('player')",))]
    assert stand_in("", severe) == ""
    assert stand_in("Sit down, love.", severe) == "Sit down, love."
    mild = [*severe, Verdict("Evening, love. Evening.", ("repeats itself",))]
    assert stand_in("", mild) is None
    assert stand_in("Evening, love.", mild) is None
    assert best(mild) == 1


def test_a_fact_the_checker_does_not_find_in_a_draft_misses_the_plan(world: World) -> None:
    """A draft that keeps a third of the fact's words but not what the checker reveals it
    by misses the plan: said, it would not count as telling the fact."""
    known = view(world, "maren", WorldState())
    checker = LineChecker(world, known, persona_card(world, known))
    fact = world.facts["silent_bell"]
    find = judge(Plan(Act.ANSWER, (fact,)), known, checker, note=NOTE, gist=fact.text,
                 recent=[], player_line="The bell?", context="")
    loose = "The old bell went quiet a year ago."
    assert states(loose, fact.text)  # the scorer's own rule alone would take it
    assert "misses the plan" in find(loose).faults
    # Told in other forms of the fact's words ("stops ringing" for "stopped ringing").
    assert find("That bell stops ringing in the tower the night of the great storm, a "
                "year ago.").faults == ()


def test_a_fact_told_in_other_forms_of_its_words_is_told(world: World) -> None:
    """The checker finds a fact by its words' stems: the copy ban makes an NPC telling it
    in its own words change their forms ("five coppers" for "five copper pieces")."""
    known = view(world, "maren", WorldState())
    checker = LineChecker(world, known, persona_card(world, known))
    assert checker.told("A room is five coppers a night.") == ["room_price"]
    assert checker.told("Rooms are cheap.") == []


def test_a_draft_telling_two_facts_must_carry_the_numbers_of_each(world: World) -> None:
    """Told a room's price and the stew's, the model gave the room's number to both; a
    draft that leaves out one planned fact's number misses the plan."""
    known = view(world, "maren", WorldState())
    checker = LineChecker(world, known, persona_card(world, known))
    room, stew = world.facts["room_price"], world.facts["eel_stew_price"]
    find = judge(Plan(Act.ANSWER, (room, stew)), known, checker, note=NOTE,
                 gist=f"{room.text} {stew.text}", recent=[], player_line="Supper and a bed?",
                 context="")
    merged = ("A room at the Gull and Lantern is a fine place to dine, with the evening's "
              "eel stew served for five copper pieces.")
    assert "misses the plan" in find(merged).faults
    assert find("A room at the Gull and Lantern costs five copper pieces a night, and the "
                "inn serves eel stew every evening for two.").faults == ()


def test_after_a_call_that_handed_a_thing_over_the_line_must_name_it(world: World) -> None:
    """The key went to the player: telling the price alone misses what just happened."""
    fact = world.facts["room_price"]
    plan = Plan(Act.ACT, (fact,), tool="give_item", tool_status="ok", thing="room key")
    gist = f"Here you are, the room key. {fact.text}"

    def found(text: str) -> tuple[str, ...]:
        return faults(text, plan, world.characters["maren"], note=NOTE, gist=gist).faults

    assert found("A room is five copper pieces a night.") == ("misses the plan",)
    assert found("Here's your key, love. Five copper pieces a night.") == ()
    refused = dataclasses.replace(plan, tool_status="failed")
    assert faults("A room is five copper pieces a night.", refused, world.characters["maren"],
                  note=NOTE, gist=fact.text).faults == ()
