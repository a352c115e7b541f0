"""Prompt assembly from the world."""

from __future__ import annotations

import dataclasses

from npc_runtime.dialogue.prompt import (
    CARD_FACT_CHARS,
    build_messages,
    card_facts,
    persona_card,
    recall,
    shared_head,
)
from npc_runtime.lore.knowledge import view
from npc_runtime.lore.model import Fact, World, WorldState
from npc_runtime.model.loader import LoadedModel


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


def test_an_npc_that_knows_more_than_fits_recalls_what_the_line_asks_about(
        world: World) -> None:
    """Facts past the card's budget stay out of it, and come back when asked about."""
    extra = {f"ledger_{i}": Fact(f"ledger_{i}", f"Ledger entry {i}: the inn bought "
                                 f"{i} barrels of salted herring from Harlan Voss.",
                                 known_by=("maren",))
             for i in range(200)}
    extra["voss"] = Fact("voss", "Harlan Voss the cooper owes Maren nine silver pieces.",
                         about=("tobin",), known_by=("maren",))
    big = dataclasses.replace(world, facts={**world.facts, **extra})
    known = view(big, "maren")
    in_card, rest = card_facts(known)
    card = persona_card(big, known)
    assert len(card) < CARD_FACT_CHARS + 2000
    assert world.facts["room_price"] in in_card  # always-known facts come first
    assert extra["voss"] in rest
    recalled = recall(big, rest, "Does Harlan Voss the cooper owe you money?")
    assert recalled[0] == extra["voss"]
    assert recall(big, rest, "Lovely weather.") == []
    messages = build_messages(card, "Ada", [("user", "hi"), ("assistant", "hello"),
                                            ("user", "Voss?")], recalled)
    assert messages[-2] == ("system", "You also know: " + " ".join(f.text for f in recalled))
    assert messages[-1] == ("user", "Voss?")


def test_every_players_prompt_starts_with_the_shared_head(world: World,
                                                         tiny_model: LoadedModel) -> None:
    """The shared KV runs up to the player's name, whatever the name."""
    tokenizer = tiny_model.tokenizer
    card = persona_card(world, view(world, "maren"))
    head = shared_head(tokenizer, card)
    card_only = tokenizer.encode(tokenizer.render([("system", card)],
                                                  add_generation_prompt=False))
    assert head[:len(card_only)] == card_only
    assert len(head) > len(card_only)  # the introduction's start is shared too
    for name in ["", "Ada", "O'Brien", "Zoë-Ann", "123", "the stranger"]:
        prompt = tokenizer.encode_chat(build_messages(card, name, [("user", "Hello.")]))
        assert prompt[:len(head)] == head, name


def test_the_fact_a_line_asks_about_goes_right_before_it(world: World) -> None:
    """A question about a known thing gets that fact as the note before the line; small
    talk gets none; the caller's own choice (tree generation) wins."""
    from npc_runtime.dialogue.prompt import notes

    known = view(world, "maren")
    told, _ = notes(world, known, [], "How much is a room for the night?")
    assert [f.id for f in told] == ["room_price"]
    assert notes(world, known, [], "Hello there.")[0] == ()
    stew = world.facts["eel_stew_price"]
    assert notes(world, known, [], "How much is a room for the night?", (stew,))[0] == (stew,)
    messages = build_messages("card", "Ada", [("user", "How much is a room for the night?")],
                              (), told)
    assert messages[-2] == ("system", "In your answer, tell the player: "
                            + world.facts["room_price"].text)
