"""Prompt assembly from the world."""

from __future__ import annotations

from npc_runtime.dialogue.prompt import build_messages, persona_card
from npc_runtime.lore.knowledge import view
from npc_runtime.lore.model import World, WorldState


def test_persona_card_holds_only_what_the_npc_knows_now(world: World) -> None:
    """Maren's card gains the cellar secret only once the quest reaches 'trusted'."""
    secret = world.facts["cellar_stowaway"].text
    early = persona_card(world, view(world, "maren", WorldState({"noises_below": "asked"})),
                         "Ada")
    later = persona_card(world, view(world, "maren", WorldState({"noises_below": "trusted"})),
                         "Ada")
    assert "You are Maren Ashveil, keeper of the Gull and Lantern inn, in Saltmere." in early
    assert world.facts["room_price"].text in early
    assert secret not in early
    assert secret in later
    assert "talking to Ada" in early


def test_messages_put_history_between_system_and_new_line() -> None:
    """The new player line comes last, after earlier turns."""
    history = [("user", "hi"), ("assistant", "hello, love")]
    assert build_messages("SYS", history, "a room?") == [
        ("system", "SYS"), ("user", "hi"), ("assistant", "hello, love"), ("user", "a room?"),
    ]
