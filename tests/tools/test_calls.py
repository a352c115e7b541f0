"""Tool calls against the lore: allowed values, grounding, validation, effects."""

from __future__ import annotations

from pathlib import Path

import pytest

from npc_runtime.lore.knowledge import view
from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import World, WorldState
from npc_runtime.tools.calls import (
    ToolCall,
    choices,
    ground,
    json_schema,
    problems,
    with_count,
)
from npc_runtime.tools.progress import apply, reveal

SALTMERE = Path(__file__).parents[2] / "examples" / "worlds" / "saltmere"


@pytest.fixture(scope="module")
def saltmere() -> World:
    return load_world(SALTMERE)


def test_lore_valued_parameters_take_the_npcs_inventory(saltmere: World) -> None:
    known = view(saltmere, "wren")
    item = next(p for p in saltmere.tools["sell_item"].params if p.name == "item")
    assert set(choices(saltmere, known, item)) == {"lamp_oil", "rope", "healing_salve",
                                                   "silver_heron"}
    schema = json_schema(saltmere, known, saltmere.tools["sell_item"])
    assert schema["required"] == ["item", "count"]
    props = schema["properties"]
    assert isinstance(props, dict)
    assert props["count"] == {"type": "integer", "minimum": 1, "maximum": 10}
    assert "rope" in props["item"]["enum"]


def test_the_players_words_ground_arguments_by_name_and_alias(saltmere: World) -> None:
    known = view(saltmere, "wren")
    tool = saltmere.tools["sell_item"]
    assert ground(saltmere, known, tool, "Some lamp oil and a coil of rope, please.") == {
        "item": ("lamp_oil", "rope")}
    assert ground(saltmere, known, tool, "Got any salve?") == {"item": ("healing_salve",)}
    assert ground(saltmere, known, tool, "Got any bread?") == {"item": ()}


@pytest.mark.parametrize(("call", "message"), [
    (ToolCall("give_item", {"item": "rope"}), "cannot call 'give_item'"),
    (ToolCall("sell_item", {"item": "rope"}), "missing argument 'count'"),
    (ToolCall("sell_item", {"item": "rope", "count": 1, "x": 1}), "unknown argument 'x'"),
    (ToolCall("sell_item", {"item": "rope", "count": "2"}), "must be an integer"),
    (ToolCall("sell_item", {"item": "rope", "count": 11}), "the maximum is 10"),
    (ToolCall("sell_item", {"item": "bread", "count": 1}), "allowed: lamp_oil"),
    (ToolCall("sell_item", {"item": "rope", "count": 6}), "does not have 6 'rope'"),
])
def test_calls_are_validated_again(saltmere: World, call: ToolCall, message: str) -> None:
    found = problems(saltmere, view(saltmere, "wren"), call)
    assert any(message in p for p in found), found


def test_a_valid_call_has_no_problems(saltmere: World) -> None:
    assert problems(saltmere, view(saltmere, "wren"),
                    ToolCall("sell_item", {"item": "rope", "count": 2})) == []


def test_stage_gated_tools_wait_for_their_stage(saltmere: World) -> None:
    call = ToolCall("collect_harbour_fee", {})
    assert problems(saltmere, view(saltmere, "oskar"), call)
    owed = WorldState(stages={"harbour_dues": "owed"})
    assert problems(saltmere, view(saltmere, "oskar", owed), call) == []


def test_effects_hand_over_items_and_advance_quests(saltmere: World) -> None:
    state = WorldState(stages={"the_hidden_courier": "ask_around"})
    call = ToolCall("give_item", {"item": "silver_heron"})
    new, changes = apply(saltmere, state, call, saltmere.tools["give_item"])
    assert "silver_heron" in new.player_items
    assert new.stages["the_hidden_courier"] == "found_courier"
    assert changes == ["item: silver_heron", "the_hidden_courier: ask_around -> found_courier"]
    fee, changes = apply(saltmere, WorldState(stages={"harbour_dues": "owed"}),
                         ToolCall("collect_harbour_fee", {}),
                         saltmere.tools["collect_harbour_fee"])
    assert fee.stages["harbour_dues"] == "cleared"
    assert changes == ["harbour_dues: owed -> cleared"]


def test_telling_a_fact_moves_quests_waiting_for_it(saltmere: World) -> None:
    state = WorldState(stages={"the_hidden_courier": "rumour"})
    new, changes = reveal(saltmere, state, ["courier_rumour"])
    assert new.stages["the_hidden_courier"] == "ask_around"
    assert "courier_rumour" in new.revealed
    assert changes == ["revealed: courier_rumour", "the_hidden_courier: rumour -> ask_around"]
    again, more = reveal(saltmere, new, ["courier_rumour"])
    assert (again, more) == (new, [])


def test_a_word_of_one_name_refers_to_that_thing_only(saltmere: World) -> None:
    known = view(saltmere, "wren")
    tool = saltmere.tools["sell_item"]
    # "salve" is in one item's name only; the player need not say the whole name.
    assert ground(saltmere, known, tool, "I'll have the salve, please.") == {
        "item": ("healing_salve",)}
    assert ground(saltmere, known, tool, "How is the weather?") == {"item": ()}


def test_a_count_not_decoded_is_sent_as_one(saltmere: World) -> None:
    """The game reads the count a hand-over takes, never a missing one; a tool that hands
    nothing over is left as decoded."""
    sell = saltmere.tools["sell_item"]
    assert with_count(sell, {"item": "rope"}) == {"item": "rope", "count": 1}
    assert with_count(sell, {"item": "rope", "count": 3}) == {"item": "rope", "count": 3}
    assert with_count(saltmere.tools["open_shop"], {}) == {}
