"""How a plan reaches the model (the note) and how an NPC puts a fact (first person)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from npc_runtime.dialogue.plan import Act, Plan, identity_fact
from npc_runtime.dialogue.realise import Gist, gist, note, voice_examples
from npc_runtime.lore.loader import load_world
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


def test_the_npc_as_a_clause_subject_is_i_and_a_possessive_after_s_is_my(world: World
                                                                           ) -> None:
    """KNUDGE's facts: "Agnes' style" was "Me' style" and "Agnes will ask you" was "Me will
    ask you" (a name with no verb form after it became "me" wherever it stood)."""
    agnes = dataclasses.replace(world.characters["maren"], name="Agnes Needham", aliases=())
    assert first_person("Agnes' overprotective style drove her son away.", agnes) == (
        "My overprotective style drove her son away.")
    assert first_person("Agnes will ask you to go. Later, Agnes also threatens him.", agnes
                        ) == "I will ask you to go. Later, I also threaten him."
    assert first_person("When Agnes sings, Tobin listens to Agnes.", agnes) == (
        "When I sing, Tobin listens to me.")
    assert first_person("Agnes always has a plan.", agnes) == "I always have a plan."
    assert first_person("Agnes, acting for her son, pays.", agnes).startswith("I, acting")


def test_an_authored_says_wins(world: World) -> None:
    maren = world.characters["maren"]
    fact = Fact("f", "Maren's husband Tobin was lost at sea.",
                says="My Tobin went out with the fleet and never came back.")
    assert says(fact, maren) == fact.says


def test_an_answer_note_carries_the_facts_as_the_npc_would_say_them(world: World) -> None:
    maren = world.characters["maren"]
    plan = Plan(Act.ANSWER, (world.facts["tobin_lost"], identity_fact(maren, world)))
    text = note(plan, maren, gist(plan, maren).text)
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


def test_a_reply_that_tells_nothing_gets_a_line_of_the_npc_s_own_else_a_stock_one(
        world: World) -> None:
    """Lore lines first (fallback lines when it does not know, sample lines as a
    greeting), then stock lines; not one the NPC just said; a plain remark gets none."""
    maren = world.characters["maren"]
    unknown = Plan(Act.DOES_NOT_KNOW, kind="question")
    assert gist(unknown, maren) == Gist(maren.fallback_lines[0], "fallback_lines")
    assert gist(unknown, maren, recent=[maren.fallback_lines[0]]).text == (
        maren.fallback_lines[1])
    greeting = gist(Plan(Act.GREETING, kind="greeting"), maren)
    assert greeting == Gist(maren.persona.sample_lines[0], "speech.sample_lines")
    farewell = gist(Plan(Act.FAREWELL, kind="farewell"), maren)
    assert farewell.source == "stock lines (farewell)"
    assert gist(Plan(Act.FAREWELL), maren, recent=[farewell.text]).text != farewell.text
    assert gist(Plan(Act.SMALL_TALK, kind="rude"), maren).text
    assert gist(Plan(Act.SMALL_TALK, kind="meta"), maren).source == "stock lines (meta)"
    assert gist(Plan(Act.DOES_NOT_KNOW, kind="meta"), maren).source == "fallback_lines"
    assert gist(Plan(Act.SMALL_TALK, kind="remark"), maren) == Gist("", "")
    assert note(Plan(Act.FAREWELL), maren, farewell.text).endswith(farewell.text)


def test_a_fact_naming_the_npc_by_its_title_is_said_in_the_first_person() -> None:
    """An alias that is a title ("the harbour master") is the NPC too; a bare common noun
    alias is not replaced inside other words' phrases."""
    saltmere = load_world(Path(__file__).parents[2] / "examples" / "worlds" / "saltmere")
    oskar = saltmere.characters["oskar"]
    assert says(saltmere.facts["harbour_fee"], oskar) == (
        "Every boat pays me one silver piece to tie up at the docks.")
    assert first_person("The harbour master logs every boat.", oskar) == "I log every boat."


def test_a_fact_about_the_player_is_told_to_them() -> None:
    """A fact written about "the player" is said to them: an NPC saying "the player" talks
    about the game."""
    saltmere = load_world(Path(__file__).parents[2] / "examples" / "worlds" / "saltmere")
    assert says(saltmere.facts["dues_paid"], saltmere.characters["oskar"]).startswith(
        "Your boat is cleared")


def test_after_a_call_the_gist_says_what_it_did_then_what_the_line_tells(
        world: World) -> None:
    """The game handed the key over: the line says so before the price it also tells; a
    call the game refused is not said as done; a second turn gets the other line."""
    maren = world.characters["maren"]
    handed = Plan(Act.ACT, tool="give_item", tool_status="ok", thing="room key")
    assert gist(handed, maren) == Gist("Here you are, the room key.",
                                       "stock lines (acted_thing)")
    assert gist(handed, maren, recent=["Here you are, the room key."]).text == (
        "There you go, the room key.")
    priced = dataclasses.replace(handed, facts=(world.facts["room_price"],))
    told = gist(priced, maren)
    assert told.source == "facts"
    assert told.text.startswith("Here you are, the room key. ")
    assert "five copper pieces" in told.text
    refused = dataclasses.replace(handed, tool_status="failed")
    assert gist(refused, maren).source == "stock lines (not_acted)"
    assert "room key" not in gist(refused, maren).text
    assert gist(Plan(Act.ACT, tool="collect_harbour_fee", tool_status="ok"), maren).source == (
        "stock lines (acted)")
    own = dataclasses.replace(handed, thing="Maren's spare key")  # her own thing: "my"
    assert gist(own, maren).text == "Here you are, my spare key."
