"""
The line checker: does a finished NPC line stay inside what the lore lets this NPC say now?

A small model will name things it has never heard of, blurt out secrets and slip out of
character; the checker catches that before a line counts as said. It looks at:

- entity mentions (names, aliases and ids from the world's gazetteer) that this NPC does
  not know at the player's stage: ``spoiler`` when the NPC learns of it at a later stage,
  ``unknown_entity`` otherwise (a name the player used may be echoed);
- facts it may not tell, recognised by their distinctive words: ``secret`` (withheld
  until its condition holds), ``spoiler`` (learnt at a later stage), ``unknown_fact``
  (someone else's knowledge);
- capitalised names that exist nowhere in the lore, the NPC's card or the player's words:
  ``unknown_name``;
- talk of being an AI, a model or a prompt: ``breaks_character``;
- the character's authored ``never_say`` phrases: ``hard_rule``;
- a reply with no words, or with control or undecodable characters: ``empty``,
  ``garbled``.

Pure and fast (regexes and set lookups compiled once per NPC view): no model, no I/O.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterable

from npc_runtime.lore.knowledge import KnowledgeView
from npc_runtime.lore.mentions import (
    STOPWORDS,
    WORD,
    alternation,
    content_words,
    find_mentions,
    stem,
)
from npc_runtime.lore.model import World

_GARBLED = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffd]")
_SENTENCE = re.compile(r"[^.!?]+[.!?]*")
_CAPITALISED = re.compile(r"(?<![A-Za-z'-])[A-Z][a-z][A-Za-z'-]*")
# Capitalised words that are ordinary English, not names.
_COMMON_CAPITALISED = frozenset([
    "i", "i'm", "i'll", "i've", "i'd", "ok", "okay", "sir", "madam", "miss", "mister",
    "mistress", "lady", "lord", "lords", "master", "mr", "mrs", "ms", "god", "gods", "aye",
    "nay", "oh", "ah", "eh", "hm", "hmm", "well", "yes", "no", "please", "thanks", "thank",
    "mother", "father", "ma", "pa", "monday", "tuesday", "wednesday", "thursday", "friday",
    "saturday", "sunday", "january", "february", "march", "april", "may", "june", "july",
    "august", "september", "october", "november", "december", "north", "south", "east", "west",
])
_BREAKS_CHARACTER = re.compile(
    r"\b(as an ai|an ai\b|a\.?i\. (assistant|model)|(large )?language model|llm\b|"
    r"artificial intelligence|chat ?bot|chatgpt|openai|hugging ?face|smollm|"
    r"(system|my) (prompt|instructions)|i am (just )?an? (assistant|program|bot)|"
    r"i'm (just )?an? (assistant|program|bot)|my (training|programming))", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Violation:
    """One reason a line may not be said."""

    # spoiler | secret | unknown_fact | unknown_entity | unknown_name | breaks_character
    # | hard_rule | empty | garbled
    kind: str
    text: str  # the offending words, as said
    detail: str  # why, for logs and the check report


class CheckAction(enum.Enum):
    """What was done so that no violating line is said."""

    PASSED = "passed"  # the first line passed
    REGENERATED = "regenerated"  # a line generated again with the offending words banned
    REPAIRED = "repaired"  # the offending sentences were cut
    FALLBACK = "fallback"  # an authored fallback line was said instead


@dataclasses.dataclass(frozen=True)
class CheckReport:
    """The checker's verdict on one reply, as reported on the line-done event."""

    violations: tuple[Violation, ...] = ()  # found in the generated lines, first first
    action: CheckAction = CheckAction.PASSED
    attempts: int = 1  # lines generated


class LineChecker:
    """Checks lines of one NPC at one point of the story (build one per turn)."""

    def __init__(self, world: World, known: KnowledgeView, card: str) -> None:
        npc = known.npc
        allowed_ids = {e.id for e in known.entities} | {f.id for f in known.facts}
        later = _ever_known(world, npc.id) - allowed_ids - {f.id for f in known.withheld}
        self._world = world
        self._allowed_entities = {e.id for e in known.entities}
        self._later = later
        # Naming what the NPC may name, or repeating its card, tells no forbidden fact.
        # All it may tell, not only what fits its card (the rest is recalled per turn).
        told_text = " ".join([card, *(f.text for f in known.facts)])
        allowed_words = content_words(" ".join(
            [told_text, *(n for e in known.entities for n in (e.name, *e.aliases))]))
        forbidden = [(f, "secret") for f in known.withheld] + [
            (f, "spoiler" if f.id in later else "unknown_fact")
            for f in world.facts.values()
            if f.id not in allowed_ids and f.id not in {w.id for w in known.withheld}
            and f.available]
        # A fact is recognised by its words that nothing allowed uses; a withheld secret
        # even by one such word (being wrong there costs a regenerated line, not a plot).
        self._allowed_words = allowed_words
        # What the lore makes the NPC ("an assistant research engineer"): no persona break.
        self._lore_roles = {w for w in ("assistant", "program", "bot")
                            if re.search(rf"\b{w}\b", told_text, re.IGNORECASE)}
        own_name = content_words(" ".join([npc.name, *npc.aliases]))
        # Told by their stems: a telling in the NPC's own words changes forms ("they live
        # in the ruins" tells "living in the ruins").
        self._tellable = [(f.id, {stem(w) for w in words}) for f in known.facts
                          if len(words := content_words(f.text) - own_name) >= 2]
        self._facts = [(fact.id, kind, words) for fact, kind in forbidden
                       if len(words := content_words(fact.text) - allowed_words)
                       >= (1 if kind == "secret" else 2)]
        names = " ".join([*world.gazetteer, *(e.name for e in world.entities.values()),
                          *(a for e in world.entities.values() for a in e.aliases)])
        self._known_words = ({w.lower().removesuffix("'s") for w in WORD.findall(names)}
                             | {w.lower().removesuffix("'s") for w in WORD.findall(told_text)}
                             | _COMMON_CAPITALISED)
        self._never = alternation(phrase.lower() for phrase in npc.never_say)

    def check(self, line: str, player_line: str = "") -> tuple[Violation, ...]:
        """Every violation in ``line`` (empty when it may be said)."""
        if not line.strip():
            return (Violation("empty", "", "the reply has no words"),)
        found: list[Violation] = []
        if garbled := _GARBLED.findall(line):
            found.append(Violation("garbled", "".join(garbled),
                                   "control or undecodable characters"))
        lowered_player = player_line.lower()
        for mention in find_mentions(self._world, line):
            if mention.entity_id in self._allowed_entities or (
                    content_words(mention.text) <= self._allowed_words):
                continue  # allowed, or a generic alias ("the courier") of allowed words
            if mention.entity_id in self._later:
                found.append(Violation("spoiler", mention.text, f"{mention.entity_id} is "
                                       "only known at a later quest stage"))
            elif mention.text.lower() not in lowered_player:
                found.append(Violation("unknown_entity", mention.text,
                                       f"this character does not know {mention.entity_id}"))
        said = content_words(line)
        for fact_id, kind, words in self._facts:
            hits = words & said
            if len(hits) >= min(len(words), max(2, (len(words) + 1) // 2)):
                found.append(Violation(kind, " ".join(sorted(hits)),
                                       f"tells fact {fact_id}, which may not be told now"))
        player_words = {w.lower() for w in WORD.findall(player_line)}
        for sentence in _SENTENCE.findall(line):
            for index, match in enumerate(_CAPITALISED.finditer(sentence)):
                word = match.group(0).lower().removesuffix("'s")
                at_start = index == 0 and not sentence[: match.start()].strip(" \"'(-")
                if at_start or word in self._known_words or word in player_words:
                    continue
                found.append(Violation("unknown_name", match.group(0),
                                       "a name that exists nowhere in the lore"))
        for match in _BREAKS_CHARACTER.finditer(line):
            if match.group(0).split()[-1].lower() in self._lore_roles:
                continue  # "I am an assistant engineer", when the lore says so
            found.append(Violation("breaks_character", match.group(0),
                                   "talks about being an AI, a model or a prompt"))
        for match in self._never.finditer(line) if self._never else ():
            found.append(Violation("hard_rule", match.group(0),
                                   "the character must never say this (never_say)"))
        return tuple(found)

    @property
    def recognised(self) -> frozenset[str]:
        """The ids of the facts ``told`` can find in a line (those with two content words
        or more)."""
        return frozenset(fact_id for fact_id, _ in self._tellable)

    def told(self, line: str) -> list[str]:
        """The ids of the facts this NPC may tell that ``line`` tells (by their words)."""
        said = {stem(w) for w in content_words(line)}
        return [fact_id for fact_id, words in self._tellable
                if len(words & said) >= min(len(words), max(2, (len(words) + 1) // 2))]

    def repair(self, line: str, player_line: str = "") -> str:
        """The line without its offending sentences ("" when none is left)."""
        kept = [s.strip() for s in _SENTENCE.findall(line)
                if s.strip() and not self.check(s, player_line)]
        return " ".join(kept)


def offending_words(violations: Iterable[Violation]) -> list[str]:
    """The words to ban when generating again: those of each violation's text."""
    return list(dict.fromkeys(w for v in violations for w in WORD.findall(v.text)
                              if len(w) > 2 and w.lower() not in STOPWORDS))




def _ever_known(world: World, npc_id: str) -> set[str]:
    """Every fact and entity id this NPC knows at some stage of some quest."""
    npc = world.character(npc_id)
    ids = set(npc.knows)
    for quest in world.quests.values():
        for stage in quest.stages:
            ids.update(stage.unlocks.get(npc_id, ()))
            ids.update(f for f, by in stage.reveals if by == npc_id)
            ids.update(a for f, by in stage.reveals if by == npc_id
                       for a in world.facts[f].about if f in world.facts)
    for fact in world.facts.values():
        if npc_id in fact.known_by:
            ids.add(fact.id)
            ids.update(fact.about)
    for fact_id in list(ids):
        if fact_id in world.facts:
            ids.update(world.facts[fact_id].about)
    return ids
