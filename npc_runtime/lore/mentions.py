"""
Finding lore entities in free text: names, aliases and ids from the world's gazetteer,
matched whole-word and case-insensitively, longest first ("the old bell tower" before
"bell"). Used to link a player's words to lore (grounding tool arguments) and to check
what an NPC's line names.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable

from npc_runtime.lore.model import World

WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
STOPWORDS = frozenset([
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and",
    "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between",
    "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during",
    "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her",
    "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is",
    "it", "its", "itself", "just", "know", "let", "me", "more", "most", "my", "myself", "no",
    "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours",
    "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the",
    "their", "theirs", "them", "then", "there", "these", "they", "this", "those", "through",
    "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where",
    "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours",
    "yourself", "one", "two", "three", "tell", "said", "says", "told", "like", "well", "yes",
    "still", "ever", "never", "every", "much", "many", "back", "away", "long", "last", "first",
    "next", "came", "come", "goes", "went", "gone", "take", "took", "made", "make", "good",
    "great", "little", "old", "new",
])


@dataclasses.dataclass(frozen=True)
class Mention:
    """One entity named in a text."""

    entity_id: str
    text: str  # as written
    start: int


def find_mentions(world: World, text: str) -> list[Mention]:
    """Every gazetteer name in ``text``, in order, longest match first, no overlaps."""
    pattern = _pattern(world)
    if pattern is None:
        return []
    found = []
    for match in pattern.finditer(text):
        key = match.group("key").lower()
        entity_id = world.gazetteer.get(key) or world.gazetteer[key.replace(" ", "_")]
        found.append(Mention(entity_id, match.group(0), match.start()))
    return found


def refers(world: World, candidates: Iterable[str], text: str, *, counted: bool = False,
           bare: bool = False) -> list[str]:
    """
    The ``candidates`` (entity ids) that ``text`` refers to, in order: by a full name or
    alias, or by a word of a name that no other candidate's name has ("the wolf one" for
    "Wolf Pack Culling" when nothing else there is a wolf). For a player's words about
    the things in front of them, never for checking what an NPC may say. ``counted``:
    the player asks to be handed one of the candidates, so a count or "a" points too ("a
    room" to an innkeeper whose one room thing is the room key, "two stews"), and "my"
    points at the player's own, not at one to hand over ("fill my waterskin"); ``bare``:
    any word of a name will do (an NPC offering its own wares: "Room's free tonight.").
    """
    pool = {e for e in candidates if e in world.entities}
    found = {m.start: m.entity_id for m in find_mentions(world, text) if m.entity_id in pool
             and not (counted and owned(text, m.start))}
    named = set(found.values())
    owners: dict[str, list[str]] = {}  # a word of a name -> the candidates it names
    for entity in pool:
        for word in {stem(w) for w in content_words(world.entities[entity].name)}:
            owners.setdefault(word, []).append(entity)
    for match in WORD.finditer(text):
        entity = _only(owners.get(stem(match.group(0).lower().removesuffix("'s")), []))
        pointer = _COUNTED if counted else _DEFINITE
        if (entity and entity not in named and (bare or pointer.search(text, 0, match.start())
                                                or _ONE.match(text, match.end()))
                and not (counted and owned(text, match.start()))):
            found.setdefault(match.start(), entity)
            named.add(entity)
    return list(dict.fromkeys(found[at] for at in sorted(found)))


def _only(entities: list[str]) -> str:
    return entities[0] if len(entities) == 1 else ""


# "the wolf one", "that spear", "Kraken one": a part of a name points at one thing only
# with a definite word before it or "one" after it ("a spear" is any spear).
_DEFINITE = re.compile(r"\b(the|that|this|these|those|your|my)\s+(\w+\s+)?$", re.IGNORECASE)
_ONE = re.compile(r"\s+one\b", re.IGNORECASE)
_OWN = re.compile(r"\bmy\s+(\w+\s+)?$", re.IGNORECASE)


def owned(text: str, at: int) -> bool:
    """Whether the name at ``at`` in ``text`` is the player's own thing ("fill my
    waterskin", "my old lamp"): not one to be handed over or asked for."""
    return bool(_OWN.search(text, 0, at))
_COUNTED = re.compile(r"\b(the|that|this|these|those|your|my|a|an|another|some|\d+|one|two|"
                      r"three|four|five|six|seven|eight|nine|ten|both|all)\s+(\w+\s+)?$",
                      re.IGNORECASE)


def alternation(keys: Iterable[str], *, plural: bool = False) -> re.Pattern[str] | None:
    """One case-insensitive, whole-word regex matching any key, longest first, as the
    group "key"; ``plural``: also with "s" or "es" after it ("two salves", "the stews")."""
    ordered = sorted(set(keys), key=len, reverse=True)
    if not ordered:
        return None
    # Ids are written with underscores; in text they appear with spaces too.
    body = "|".join(re.escape(k).replace("_", "[_ ]") for k in ordered)
    ending = "(?:e?s)?" if plural else ""
    return re.compile(rf"(?<![\w-])(?P<key>{body}){ending}(?![\w-])", re.IGNORECASE)


def _pattern(world: World) -> re.Pattern[str] | None:
    return _compiled(world.version, tuple(world.gazetteer))


@functools.lru_cache(maxsize=8)
def _compiled(version: str, keys: tuple[str, ...]) -> re.Pattern[str] | None:
    del version  # part of the cache key only
    # Two-letter keys ("it", "an") would match ordinary words.
    return alternation((k for k in keys if len(k) > 2), plural=True)


def content_words(text: str) -> set[str]:
    """The lower-cased words of ``text`` that carry meaning (no stopwords, 4+ letters)."""
    return {w for w in (m.lower().removesuffix("'s") for m in WORD.findall(text))
            if len(w) > 3 and w not in STOPWORDS}


def stem(word: str) -> str:
    """A crude stem, so "shops" meets "shop", "opening" meets "open" and "living" meets
    "live"."""
    suffix = next((x for x in ("ing", "ed", "es", "s")
                   if word.endswith(x) and len(word) - len(x) >= 3), "")
    base = word.removesuffix(suffix) if suffix else word
    if suffix in {"ing", "ed"} and base[-1] == base[-2] and base[-1] not in "lsz":
        return base[:-1]  # "equipping" meets "equip"
    return base[:-1] if base.endswith("e") and len(base) > 3 else base  # "lived", "live"


NUMBER_WORDS = {w: i for i, w in enumerate((
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen", "twenty"))}
_NUMBER = re.compile(r"\d+|[a-z]+")


def numbers(text: str) -> list[int]:
    """Numbers written in digits (also in "12th", "3pm") or as words up to twenty."""
    return [int(w) if w[0].isdigit() else NUMBER_WORDS[w]
            for w in _NUMBER.findall(text.lower()) if w[0].isdigit() or w in NUMBER_WORDS]
