"""Point-in-time knowledge on the medium example world."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from npc_runtime.cli import main
from npc_runtime.lore.knowledge import view
from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import World, WorldState

SALTMERE = Path(__file__).parents[2] / "examples" / "worlds" / "saltmere"
COURIER = "the_hidden_courier"


@pytest.fixture(scope="module")
def saltmere() -> World:
    """The medium example world."""
    return load_world(SALTMERE)


def _facts(world: World, npc: str, state: WorldState) -> set[str]:
    return {f.id for f in view(world, npc, state).facts}


def test_stage_unlocks_are_not_known_before_their_stage(saltmere: World) -> None:
    """Wren learns of the heron sign at ask_around, not at rumour, and keeps it after."""
    assert "heron_sign" not in _facts(saltmere, "wren", WorldState({COURIER: "rumour"}))
    assert "heron_sign" in _facts(saltmere, "wren", WorldState({COURIER: "ask_around"}))
    assert "heron_sign" in _facts(saltmere, "wren", WorldState({COURIER: "found_courier"}))


def test_nothing_from_a_quest_is_known_before_it_starts(saltmere: World) -> None:
    """With no quest started, stage-gated facts are absent."""
    assert "clapper_stolen" not in _facts(saltmere, "alder", WorldState())
    assert "clapper_stolen" in _facts(saltmere, "alder",
                                      WorldState({"the_silent_bell": "ask_alder"}))


def test_secret_is_withheld_until_its_condition_holds(saltmere: World) -> None:
    """Maren keeps the courier's identity until the player carries the heron token."""
    without = view(saltmere, "maren", WorldState({COURIER: "found_courier"}))
    with_token = view(saltmere, "maren", WorldState({COURIER: "found_courier"},
                                                    player_items=frozenset({"silver_heron"})))
    assert [f.id for f in without.withheld] == ["courier_identity"]
    assert "courier_identity" not in {f.id for f in without.facts}
    assert "courier_identity" in {f.id for f in with_token.facts}


def test_secret_told_once_a_fact_was_revealed(saltmere: World) -> None:
    """Oskar tells where the clapper is only after the player heard it was stolen."""
    assert "clapper_in_cove" not in _facts(saltmere, "oskar", WorldState())
    heard = WorldState(revealed=frozenset({"clapper_stolen"}))
    assert "clapper_in_cove" in _facts(saltmere, "oskar", heard)


def test_must_reveal_and_entities_follow_the_stage(saltmere: World) -> None:
    """The stage's reveals are requested; unlocked entities become nameable."""
    early = view(saltmere, "maren", WorldState({COURIER: "rumour"}))
    later = view(saltmere, "maren", WorldState({COURIER: "found_courier"}))
    assert [f.id for f in early.must_reveal] == ["courier_rumour"]
    assert later.must_reveal == ()
    assert "elin_varro" not in {e.id for e in early.entities}
    assert "elin_varro" in {e.id for e in later.entities}


def test_stage_gated_tool_is_offered_only_from_its_stage(saltmere: World) -> None:
    """Oskar can collect the fee once the dues quest is under way."""
    assert [t.id for t in view(saltmere, "oskar", WorldState()).tools] == []
    owed = view(saltmere, "oskar", WorldState({"harbour_dues": "owed"}))
    assert [t.id for t in owed.tools] == ["collect_harbour_fee"]


def test_a_tool_that_moves_a_quest_goes_once_the_quest_is_where_it_moves_it(
        saltmere: World) -> None:
    """Once the fee is paid (the quest at "cleared", where the fee moves it), Oskar cannot
    collect it again: a greeting at that stage took it twice before."""
    cleared = view(saltmere, "oskar", WorldState({"harbour_dues": "cleared"}))
    assert [t.id for t in cleared.tools] == []


def test_lore_show_prints_knowledge_that_changes_with_the_stage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`lore show` at two stages differs exactly by what the stage unlocks."""
    base = ["lore", "show", str(SALTMERE), "--npc", "wren", "--quest", COURIER]
    assert main([*base, "--stage", "rumour"]) == 0
    early = capsys.readouterr().out
    assert main([*base, "--stage", "ask_around"]) == 0
    later = capsys.readouterr().out
    assert "heron_sign" not in early
    assert "- heron_sign: The courier will only trust" in later
    assert "## Prompt the model sees" in later


def test_lore_show_unknown_npc_suggests_the_right_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A misspelt NPC id is an error with a suggestion, exit 1."""
    assert main(["lore", "show", str(SALTMERE), "--npc", "marn"]) == 1
    assert "did you mean 'maren'?" in capsys.readouterr().err


def test_a_tool_that_asks_first_is_callable_only_while_what_it_confirms_is(
        saltmere: World) -> None:
    """Once the fee is paid, the notice that asks for it is not put before the player
    again, though its own ``requires`` stage is still reached."""
    notice = dataclasses.replace(saltmere.tools["collect_harbour_fee"], id="show_notice",
                                 sets_stage=(), examples=())
    fee = dataclasses.replace(saltmere.tools["collect_harbour_fee"], confirm_with="show_notice")
    oskar = saltmere.characters["oskar"]
    world = dataclasses.replace(
        saltmere, tools={**saltmere.tools, "show_notice": notice, fee.id: fee},
        characters={**saltmere.characters, "oskar": dataclasses.replace(
            oskar, tools=(*oskar.tools, "show_notice"))})
    owed = view(world, "oskar", WorldState(stages={"harbour_dues": "owed"}))
    assert {"collect_harbour_fee", "show_notice"} <= {t.id for t in owed.tools}
    cleared = view(world, "oskar", WorldState(stages={"harbour_dues": "cleared"}))
    assert not {"collect_harbour_fee", "show_notice"} & {t.id for t in cleared.tools}
