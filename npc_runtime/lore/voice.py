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
_APOSTROPHE = "['\u2019]"  # straight or typographic
# Where a name is the subject of a clause: a sentence or clause starts, or a conjunction.
_SUBJECT_AT = re.compile(r"(?:^\s*|[.!?;:,]\s+|\b(?:and|but|so|because|while|when|until|after|"
                         r"before|since|if|though|although|where)\s+)$", re.IGNORECASE)
# Adverbs between a subject and its verb ("Agnes also threatens"), never verbs themselves.
_ADVERB = re.compile(r"\w+ly|also|often|never|always|still|once|later|soon|even|only|just"
                     r"|sometimes|then|now", re.IGNORECASE)
# Words after a name that make it no subject ("Maren and Tobin": "me and Tobin").
_NOT_A_VERB = frozenset({"and", "or", "of", "to", "in", "on", "at", "for", "with", "the", "a"})


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
    """``text`` as the NPC would say it: its own name as "my" ("Maren's", "Agnes'"), as "I"
    where it is the subject of a clause or a verb follows ("Agnes will ask you": "I will
    ask you"), else as "me"."""
    for name in names_of(npc):
        pattern = re.escape(name)
        text = re.sub(rf"\b{pattern}{_APOSTROPHE}s\b", "my", text)
        if name.endswith("s"):  # "Agnes' son"
            text = re.sub(rf"\b{pattern}{_APOSTROPHE}(?!\w)", "my", text)
        text = re.sub(rf"\b{pattern}\b(?:(\s+)(\w+)(?:(\s+)(\w+))?)?", _as_person, text)
    return _capitalised(text)


def _as_person(match: re.Match[str]) -> str:
    """The NPC's name (with the two words after it) as "I" or "me" (see ``first_person``)."""
    space, word, space2, word2 = (g or "" for g in match.groups())
    rest = f"{space}{word}{space2}{word2}"
    subject = bool(_SUBJECT_AT.search(match.string[:match.start()]))
    if word and (verb := _agreed(word)):
        return f"I{space}{verb}{space2}{word2}"
    if subject and word2 and _ADVERB.fullmatch(word) and (verb := _agreed(word2)):
        return f"I{space}{word}{space2}{verb}"  # "Agnes also threatens": "I also threaten"
    if subject and (not word or (word.islower() and word not in _NOT_A_VERB)):
        return f"I{rest}"  # "Sanjar, acting for SubLight, ...": "I, acting ..."
    return f"me{rest}"


def _agreed(word: str) -> str:
    """``word`` as the verb after "I" ("is": "am", "keeps": "keep"), "" if it is none
    this can tell."""
    if word in _I_FORMS:
        return _I_FORMS[word]
    if _ADVERB.fullmatch(word) or not word.islower():
        return ""
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word if word.endswith("ed") else ""


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


def _capitalised(text: str) -> str:
    """Sentence starts capitalised again after a name became "my"/"me"."""
    return re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)
