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
        key = match.group(0).lower()
        entity_id = world.gazetteer.get(key) or world.gazetteer[key.replace(" ", "_")]
        found.append(Mention(entity_id, match.group(0), match.start()))
    return found


def alternation(keys: Iterable[str]) -> re.Pattern[str] | None:
    """One case-insensitive, whole-word regex matching any key, longest first."""
    ordered = sorted(set(keys), key=len, reverse=True)
    if not ordered:
        return None
    # Ids are written with underscores; in text they appear with spaces too.
    body = "|".join(re.escape(k).replace("_", "[_ ]") for k in ordered)
    return re.compile(rf"(?<![\w-])(?:{body})(?![\w-])", re.IGNORECASE)


def _pattern(world: World) -> re.Pattern[str] | None:
    return _compiled(world.version, tuple(world.gazetteer))


@functools.lru_cache(maxsize=8)
def _compiled(version: str, keys: tuple[str, ...]) -> re.Pattern[str] | None:
    del version  # part of the cache key only
    # Two-letter keys ("it", "an") would match ordinary words.
    return alternation(k for k in keys if len(k) > 2)
