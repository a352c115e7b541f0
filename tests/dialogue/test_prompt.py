"""Prompt assembly from the world."""

from __future__ import annotations

from npc_runtime.dialogue.prompt import build_messages, persona_card
from npc_runtime.lore.knowledge import view
from npc_runtime.lore.model import World, WorldState


def test_persona_card_holds_only_what_the_npc_knows_now(world: World) -> None:
    """Maren's card gains the cellar secret only once the quest reaches 'trusted'."""
    secret = world.facts["cellar_stowaway"].text
    early = persona_card(world, view(world, "maren", WorldState({"noises_below": "asked"})))
    later = persona_card(world, view(world, "maren", WorldState({"noises_below": "trusted"})))
    assert "You are Maren Ashveil, keeper of the Gull and Lantern inn, in Saltmere." in early
    assert world.facts["room_price"].text in early
    assert secret not in early
    assert secret in later


def test_messages_keep_the_player_out_of_the_shared_card() -> None:
    """The card comes first and alone, so it is shared; the player is named after it."""
    history = [("user", "hi"), ("assistant", "hello, love"), ("user", "a room?")]
    assert build_messages("SYS", "Ada", history) == [
        ("system", "SYS"), ("system", "You are talking to Ada."), ("user", "hi"),
        ("assistant", "hello, love"), ("user", "a room?"),
    ]
