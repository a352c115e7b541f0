"""Names of lore things found in text: whole words, longest first, plurals too."""

from __future__ import annotations

from pathlib import Path

from npc_runtime.lore.loader import load_world
from npc_runtime.lore.mentions import find_mentions

SALTMERE = Path(__file__).parents[2] / "examples" / "worlds" / "saltmere"


def test_a_name_is_found_in_the_plural_too() -> None:
    """ "both your salves" names the healing salve (its alias "salve"); "stews" the stew."""
    world = load_world(SALTMERE)
    found = find_mentions(world, "Both your salves, and two stews. No eels in the cellars?")
    assert [(m.entity_id, m.text) for m in found][:2] == [("healing_salve", "salves"),
                                                          ("eel_stew", "stews")]
    assert all(m.text.lower() != "stewsy" for m in find_mentions(world, "a stewsy night"))
