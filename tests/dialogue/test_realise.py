"""How a plan reaches the model (the note) and how an NPC puts a fact (first person)."""

from __future__ import annotations

import dataclasses

from npc_runtime.dialogue.plan import Act, Plan, identity_fact
from npc_runtime.dialogue.realise import note, voice_examples
from npc_runtime.lore.model import Fact, World
from npc_runtime.lore.voice import first_person, says


def test_a_fact_about_the_npc_is_said_in_the_first_person(world: World) -> None:
    maren = world.characters["maren"]
    assert first_person("Maren's husband Tobin was lost at sea.", maren) == (
        "My husband Tobin was lost at sea.")
    assert first_person("Maren Ashveil keeps the inn. Maren is tired.", maren) == (
        "I keep the inn. I am tired.")
    assert first_person("Tobin wrote a letter to Maren.", maren) == (
        "Tobin wrote a letter to me.")
    assert first_person("The bell has been silent for a year.", maren) == (
        "The bell has been silent for a year.")


def test_an_authored_says_wins(world: World) -> None:
    maren = world.characters["maren"]
    fact = Fact("f", "Maren's husband Tobin was lost at sea.",
                says="My Tobin went out with the fleet and never came back.")
    assert says(fact, maren) == fact.says


def test_an_answer_note_carries_the_facts_as_the_npc_would_say_them(world: World) -> None:
    maren = world.characters["maren"]
    plan = Plan(Act.ANSWER, (world.facts["tobin_lost"], identity_fact(maren, world)))
    text = note(plan, maren)
    assert text.startswith("What you say next must include this:")
    assert "My husband Tobin" in text
    assert "My name is Maren Ashveil" in text
    assert "player" not in text.lower()


def test_every_act_has_a_note_that_never_says_player_or_game(world: World) -> None:
    maren = world.characters["maren"]
    for act in Act:
        for kind in ("", "thanks", "rude", "meta"):
            text = note(Plan(act, kind=kind), maren)
            assert "player" not in text.lower()
            assert "game" not in text.lower()
            assert text or act is Act.ACT


def test_voice_examples_come_from_the_writer_or_the_sample_lines(world: World) -> None:
    maren = world.characters["maren"]
    made = voice_examples(world, maren)
    assert made[0] == ("Hello.", maren.persona.sample_lines[0])
    assert made[1][1].startswith("I'm Maren Ashveil")
    authored = dataclasses.replace(maren, persona=dataclasses.replace(
        maren.persona, examples=(("Room?", "Five coppers, love."),)))
    assert voice_examples(world, authored) == [("Room?", "Five coppers, love.")]
