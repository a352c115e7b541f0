"""Prompt assembly from the world."""

from __future__ import annotations

import dataclasses

from npc_runtime.dialogue.prompt import (
    CARD_FACT_CHARS,
    build_messages,
    card_facts,
    persona_card,
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


def test_an_npc_that_knows_more_than_fits_keeps_the_rest_out_of_its_card(
        world: World) -> None:
    """Facts past the card's budget stay out of it (the reply plan tells them)."""
    extra = {f"ledger_{i}": Fact(f"ledger_{i}", f"Ledger entry {i}: the inn bought "
                                 f"{i} barrels of salted herring from Harlan Voss.",
                                 known_by=("maren",))
             for i in range(200)}
    big = dataclasses.replace(world, facts={**world.facts, **extra})
    known = view(big, "maren")
    in_card, rest = card_facts(known)
    card = persona_card(big, known)
    assert len(card) < CARD_FACT_CHARS + 2000
    assert world.facts["room_price"] in in_card  # always-known facts come first
    assert extra["ledger_199"] in rest
    assert extra["ledger_199"].text not in card


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


def test_the_plans_note_goes_right_after_the_players_latest_line() -> None:
    """The last thing the model reads before it speaks; earlier turns keep no note."""
    history = [("user", "hi"), ("assistant", "hello, love"), ("user", "a room?")]
    messages = build_messages("SYS", "Ada", history, "What you say next must include this: X")
    assert messages[-2:] == [("user", "a room?"),
                             ("system", "What you say next must include this: X")]
    assert sum(role == "system" for role, _ in messages) == 3  # card, who, the note


def test_voice_examples_are_exchanges_in_the_shared_head(world: World,
                                                         tiny_model: LoadedModel) -> None:
    """Example exchanges come right after the card, before the player is named, so every
    player's prompt shares them."""
    examples = [("Got a room?", "Aye, over the kitchen, love.")]
    messages = build_messages("SYS", "Ada", [("user", "hi")], examples=examples)
    assert messages[:4] == [("system", "SYS"), ("user", "Got a room?"),
                            ("assistant", "Aye, over the kitchen, love."),
                            ("system", "You are talking to Ada.")]
    tokenizer = tiny_model.tokenizer
    head = shared_head(tokenizer, "SYS", examples)
    for name in ["Ada", "Bo"]:
        prompt = tokenizer.encode_chat(build_messages("SYS", name, [("user", "x")],
                                                      examples=examples))
        assert prompt[:len(head)] == head
