"""Prompt assembly from the world."""

from __future__ import annotations

from npc_runtime.dialogue.prompt import build_messages, persona_card
from npc_runtime.lore.world import World


def test_persona_card_holds_only_what_the_npc_knows(world: World) -> None:
    """Oskar's card has the harbour fee but not Maren's private grief."""
    card = persona_card(world, world.character("oskar"), "Ada")
    assert "You are Oskar Brenn, harbour master, in Saltmere." in card
    assert world.facts["harbour_fee"].text in card
    assert world.facts["tobin_lost"].text not in card
    assert "talking to Ada" in card


def test_messages_put_history_between_system_and_new_line() -> None:
    """The new player line comes last, after earlier turns."""
    history = [("user", "hi"), ("assistant", "hello, love")]
    assert build_messages("SYS", history, "a room?") == [
        ("system", "SYS"), ("user", "hi"), ("assistant", "hello, love"), ("user", "a room?"),
    ]
