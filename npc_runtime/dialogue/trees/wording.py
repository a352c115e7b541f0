"""
Whether a tree's answer is in the NPC's own words: the character speaking, not a fact's
sentence pasted into its mouth.

A 135M model handed "What you say next must include this: <fact>" mostly repeats the fact,
sometimes with a word changed or a clause added ("The saltuna is an aquatic creature native
to Terra 2 and the story follows..."); a line equal to the fact missed those. A line is a
paste when it copies a long run of a fact's words in order: ``PASTE_RUN`` words, or half
the fact when the fact is short (at least four words, or all of a shorter one). The fact's
text and its first-person form (``says``) both count, so "I am the owner of the factory"
pasted from "Clive is the owner of the factory" is still a paste. A line that names the
NPC in the third person is not its own words either.
The generator uses this to choose among attempts; ``benchmarks/knudge_eval.py`` reports it.
"""

from __future__ import annotations

from collections.abc import Iterable

from npc_runtime.constraints.copying import words as _words
from npc_runtime.dialogue.score import third_person
from npc_runtime.lore.model import Character, Fact
from npc_runtime.lore.voice import says

PASTE_RUN = 8  # words in a row from a fact that make a line a copy of it
PASTE_SHARE = 0.5  # or this share of the fact's words in one run (short facts)


def own_words(text: str, facts: Iterable[Fact], npc: Character) -> bool:
    """Whether ``text``, the NPC's answer telling ``facts``, is in the NPC's own words."""
    return not third_person(text, npc) and not any(pasted(text, f, npc) for f in facts)


def pasted(text: str, fact: Fact, npc: Character) -> bool:
    """Whether ``text`` copies ``fact`` (its text or the NPC's form of it) in one long run."""
    line = _words(text)
    for source in {fact.text, says(fact, npc)}:
        words = _words(source)
        run = longest_run(line, words)
        if words and run >= min(PASTE_RUN, len(words), max(4, PASTE_SHARE * len(words))):
            return True
    return False


def longest_run(a: list[str], b: list[str]) -> int:
    """The most words in a row that ``a`` and ``b`` share (longest common substring)."""
    best, previous = 0, [0] * (len(b) + 1)
    for word in a:
        current = [0] * (len(b) + 1)
        for j, other in enumerate(b, start=1):
            if word == other:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


