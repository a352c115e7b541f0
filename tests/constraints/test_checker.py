"""The line checker: each kind of violation, what passes, and repair."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from npc_runtime.constraints.checker import LineChecker, offending_words
from npc_runtime.dialogue.prompt import persona_card
from npc_runtime.lore.knowledge import view
from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import World, WorldState

SALTMERE = Path(__file__).parents[2] / "examples" / "worlds" / "saltmere"
AT_START = WorldState()
COURIER_FOUND = WorldState(stages={"the_hidden_courier": "found_courier"})


@pytest.fixture(scope="module")
def saltmere() -> World:
    return load_world(SALTMERE)


def _kinds(world: World, npc: str, line: str, state: WorldState = AT_START,
           player: str = "") -> list[str]:
    known = view(world, npc, state)
    checker = LineChecker(world, known, persona_card(world, known))
    return [v.kind for v in checker.check(line, player)]


def test_a_line_within_the_npcs_knowledge_passes(saltmere: World) -> None:
    assert _kinds(saltmere, "maren", "A room is five coppers a night, love. "
                  "The eel stew is two coppers, and Tobin was lost at sea.") == []


def test_naming_what_the_npc_learns_later_is_a_spoiler(saltmere: World) -> None:
    assert "spoiler" in _kinds(saltmere, "maren", "You should talk to Elin Varro.")
    # Once the player has found the courier, Maren may name her.
    assert _kinds(saltmere, "maren", "You should talk to Elin Varro.", COURIER_FOUND) == []


def test_telling_a_withheld_secret_is_caught_until_its_condition_holds(saltmere: World) -> None:
    line = "The courier is Elin Varro, and she is hiding in the cellar."
    assert "secret" in _kinds(saltmere, "maren", line, COURIER_FOUND)
    trusted = WorldState(stages=COURIER_FOUND.stages, player_items=frozenset({"silver_heron"}))
    assert _kinds(saltmere, "maren", line, trusted) == []


def test_someone_elses_knowledge_is_an_unknown_fact(saltmere: World) -> None:
    kinds = _kinds(saltmere, "maren", "They hid the clapper in a cave to weigh their nets.")
    assert "unknown_fact" in kinds


def test_unknown_entities_are_caught_unless_the_player_named_them(saltmere: World) -> None:
    line = "Brother Alder keeps the tower."
    assert "unknown_entity" in _kinds(saltmere, "maren", line)
    assert "unknown_entity" not in _kinds(saltmere, "maren", line,
                                          player="Do you know Brother Alder?")


def test_names_found_nowhere_in_the_lore_are_caught(saltmere: World) -> None:
    assert _kinds(saltmere, "maren", "Ask Captain Blackwood at the Rusty Anchor.").count(
        "unknown_name") >= 2
    # A name the player used may be echoed; a capital at a sentence's start is no name.
    assert _kinds(saltmere, "maren", "Never heard of Blackwood.",
                  player="Where is Blackwood?") == []


@pytest.mark.parametrize("line", ["As an AI, I cannot do that.",
                                  "I am just a language model, love.",
                                  "My instructions say I must not tell you."])
def test_breaking_character_is_caught(saltmere: World, line: str) -> None:
    assert "breaks_character" in _kinds(saltmere, "maren", line)


def test_an_assistant_the_lore_makes_the_npc_is_no_persona_break(saltmere: World) -> None:
    """KNUDGE: "Jameson Avery is an assistant research engineer", told in the first person,
    read as AI talk. The lore's own role is no break; for an NPC it does not make one, the
    same words still are."""
    engineer = dataclasses.replace(saltmere.facts["tobin_lost"],
                                   text="Maren is an assistant research engineer.")
    world = dataclasses.replace(saltmere, facts={**saltmere.facts, "tobin_lost": engineer})
    line = "I am an assistant research engineer."
    assert "breaks_character" not in _kinds(world, "maren", line)
    assert "breaks_character" in _kinds(saltmere, "maren", line)


def test_authored_hard_rules_are_enforced(saltmere: World) -> None:
    assert _kinds(saltmere, "oskar", "A small bribe and I look the other way.") == [
        "hard_rule", "hard_rule"]
    assert _kinds(saltmere, "oskar", "One silver piece to tie up at the docks.") == []


def test_repair_keeps_only_the_sentences_that_pass(saltmere: World) -> None:
    known = view(saltmere, "maren", AT_START)
    checker = LineChecker(saltmere, known, persona_card(saltmere, known))
    line = "A room is five coppers. Ask Elin Varro about the rest. Stew is two coppers."
    assert checker.repair(line) == "A room is five coppers. Stew is two coppers."
    assert checker.repair("Elin Varro knows.") == ""


def test_offending_words_are_those_to_ban(saltmere: World) -> None:
    known = view(saltmere, "maren", AT_START)
    checker = LineChecker(saltmere, known, persona_card(saltmere, known))
    words = offending_words(checker.check("Ask Elin Varro, as an AI would."))
    assert {"Elin", "Varro"} <= set(words)
    assert "as" not in words


def test_a_generic_alias_made_of_known_words_is_no_mention(saltmere: World) -> None:
    """'the courier' is Elin Varro's alias, but at this stage Maren knows of a courier."""
    rumour = WorldState(stages={"the_hidden_courier": "rumour"})
    assert _kinds(saltmere, "maren", "The courier washed ashore near Drowned Cove.",
                  rumour) == []
    assert "spoiler" in _kinds(saltmere, "maren", "The courier is Elin Varro.", rumour)


def test_told_finds_the_facts_a_line_tells(saltmere: World) -> None:
    rumour = WorldState(stages={"the_hidden_courier": "rumour"})
    known = view(saltmere, "maren", rumour)
    checker = LineChecker(saltmere, known, persona_card(saltmere, known))
    assert checker.told("A wounded courier washed ashore near Drowned Cove, love.") == [
        "courier_rumour"]
    assert checker.told("Sit down, love.") == []


def test_a_possessive_of_a_known_name_is_no_unknown_name(saltmere: World) -> None:
    assert _kinds(saltmere, "maren", "That is Tobin's old coat.") == []
