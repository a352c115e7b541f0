"""The CPDC replay harness, on a conversation of our own in the kit's format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.cpdc_eval import choose_tools, score, write_world
from npc_runtime.lore.loader import load_world


def _function(name: str, params: list[str], doc: str) -> dict[str, Any]:
    return {"name": name, "docstring": f"{doc} Parameters: ...",
            "parameters": [{"name": p} for p in params]}


FUNCTIONS = {
    "tools": [_function("search_item", ["item_description"], "Find weapons by description."),
              _function("check_basic_info", ["item_name"], "The basics of a weapon."),
              _function("check_price", ["item_name"], "The price of a weapon.")],
    "actions": [_function("sell", ["item_names"], "Sell a weapon."),
                _function("equip", ["item_name"], "Equip the weapon sold.")],
}


def _turn(lines: list[str], gold: list[str], item: str = "Reed Bow") -> dict[str, Any]:
    dialogue = [{"speaker": "player" if i % 2 == 0 else "npc", "text": t, "target_item": []}
                for i, t in enumerate(lines)]
    return {"dialogue": dialogue, "gold_response": "",
            "gold_functions": [{"name": g, "parameters": {} if g.startswith("search") else {
                "item_name": [item] if g == "sell" else item}, "return": {}} for g in gold]}


def test_the_harness_replays_turns_and_scores_tool_names(tmp_path: Path) -> None:
    said = ["Good day! Do you have anything light for a beginner?",
            "The Reed Bow is light.",
            "How much is the Reed Bow?",
            "Forty gold.",
            "I'll take it.",
            "It's yours. Shall I string it for you?",
            "Yes, please."]
    conversation = {
        "total_turn": 4, "worldview": "A smithy by a river.",
        "player": {"persona": {"name": "Ada"}},
        "npc": {"role": "A weapon merchant.", "persona": {"name": "Brann"}},
        "knowledge": {"knowledge_info": [{"name": "Reed Bow", "price": "40G"},
                                         {"name": "Frost Axe", "price": "90G"}]},
        "turn_0": _turn(said[:1], ["search_item"]),
        "turn_1": _turn(said[:3], ["check_price"]),
        "turn_2": _turn(said[:5], ["sell"]),
        "turn_3": _turn(said[:7], ["equip"]),
    }
    names = write_world(conversation, FUNCTIONS, tmp_path / "world")
    turns = choose_tools(conversation, load_world(tmp_path / "world"), names, verbose=False)
    assert [[c["name"] for c in t["calls"]] for t in turns] == [
        ["search_item"], ["check_price"], ["sell"], ["equip"]]
    assert score(turns)["name_accuracy"] == 1.0
    turns[0]["calls"] = []
    assert score(turns)["name_accuracy"] == 0.75
