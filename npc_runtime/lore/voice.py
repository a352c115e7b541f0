"""
How a character puts what it knows: facts are authored in the third person ("Maren's
husband Tobin was lost at sea"); a character speaks in the first. A fact's ``says:`` is the
writer's own wording; without one, the NPC's names in the text become "I", "me" or "my".
A model handed "Maren's husband..." as Maren repeats it, and an NPC naming itself in the
third person is a persona break.
"""

from __future__ import annotations

import re

from npc_runtime.lore.model import Character, Fact

# How a fact names the player (the schema's facts talk about "the player" in the third person).
_PLAYER = (("the player's", "your"), ("The player's", "Your"), ("the player", "you"),
           ("The player", "You"))
# Verbs after the NPC's name that change with "I" (the rest just drop a final "s").
_I_FORMS = {"is": "am", "was": "was", "has": "have", "does": "do", "goes": "go"}


def names_of(npc: Character) -> list[str]:
    """The names a fact may call the NPC by: its name, first name, proper aliases and
    aliases that are a title ("the harbour master", either case of "the"), longest first
    (so "Maren Ashveil" goes before "Maren"). A bare common noun ("innkeeper") is not one:
    "the innkeeper's wife" must not become "the my wife"."""
    titles = [a for a in npc.aliases if a.lower().startswith("the ")]
    names = {npc.name, npc.name.split()[0], *(a for a in npc.aliases if a[:1].isupper()),
             *(f"{article}{a[3:]}" for a in titles for article in ("the", "The"))}
    return sorted((n for n in names if n), key=len, reverse=True)


def first_person(text: str, npc: Character) -> str:
    """``text`` as the NPC would say it: its own name as "I", "me" or "my"."""
    for name in names_of(npc):
        pattern = re.escape(name)
        text = re.sub(rf"\b{pattern}'s\b", "my", text)
        text = re.sub(rf"\b{pattern}\s+(\w+)", _subject, text)
        text = re.sub(rf"\b{pattern}\b", "me", text)
    return _capitalised(text)


def says(fact: Fact, npc: Character) -> str:
    """How the NPC tells ``fact``: its authored ``says:``, else the text in the first
    person, told to the player ("the player's boat" is "your boat": an NPC that says "the
    player" talks about the game)."""
    return fact.says or to_player(first_person(fact.text, npc))


def to_player(text: str) -> str:
    """``text`` with "the player" as "you" (the fact as told to the player)."""
    for third, second in _PLAYER:
        text = re.sub(rf"\b{re.escape(third)}\b", second, text)
    return text


def _subject(match: re.Match[str]) -> str:
    """The name as the subject of a verb, "I" with the verb agreeing; other words after the
    name are left for the "me" rule ("a gift from Maren to ...")."""
    verb = match.group(1)
    if verb in _I_FORMS:
        return f"I {_I_FORMS[verb]}"
    if verb.islower() and verb.endswith("s") and not verb.endswith("ss"):
        return f"I {verb[:-1]}"
    if verb.islower() and verb.endswith("ed"):
        return f"I {verb}"
    return match.group(0)


def _capitalised(text: str) -> str:
    """Sentence starts capitalised again after a name became "my"/"me"."""
    return re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)
