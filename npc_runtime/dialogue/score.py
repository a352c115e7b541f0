"""
Choosing among drafts: what makes the opening of a line one the NPC may say.

The checker (constraints/) decides what a line must never say. This decides which of a few
drafts is the better line, by faults a reader can check, each found by a plain rule:

- ``misses the plan``: a reply that does not state its gist (``realise.gist``: the planned
  fact, all its numbers and some of its words, "two coppers" for "two copper pieces"
  counts, and as many as the checker reveals it by, ``LineChecker.told``; or the line it
  was given for a greeting, a refusal, ...), or after a call that handed a thing over,
  does not name it;
- ``talks about the game``: "player", "game", "character", "user", "assistant": the words of
  the runtime's own notes, never of a person in a world;
- ``sounds like an assistant``: "here to help", "how can I assist": a chatbot's register
  (mild: an innkeeper may be glad to help);
- ``repeats its instructions``: four words in a row from the plan's note;
- ``third person``: the NPC calls itself by name ("Maren is tired"), not in "I'm Maren";
- ``repeats itself``: the same words as one of its recent lines;
- ``unknown number``: a number neither the world, the plan nor the conversation has;
- ``unfinished``: a line that stops at ":" or "," or is a single word.

A draft without faults is said at once; otherwise the next draft is tried. When every
draft has faults (``stand_in``): a reply none of whose drafts states its gist says the
gist (a fact as the NPC puts it, its ``says:``) rather than a wrong line; when every draft
has a severe fault (all but the ``MILD`` ones) an authored line is said; else the best
draft.
A later sentence with a severe fault ends the line before it.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterable, Sequence

from npc_runtime.constraints.checker import LineChecker
from npc_runtime.dialogue.plan import Act, Plan
from npc_runtime.lore.knowledge import KnowledgeView
from npc_runtime.lore.mentions import NUMBER_WORDS, STOPWORDS, numbers
from npc_runtime.lore.model import Character
from npc_runtime.lore.voice import names_of

_META = re.compile(r"\b(players?|games?|gamers?|characters?|users?|assistants?|narrator|"
                   r"role-?play|npc)\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+")
_ASSISTANT = re.compile(r"\b(here|happy|glad|ready|able) to (help|assist)|\bhow (can|may) i "
                        r"(help|assist)|\bassist you\b", re.IGNORECASE)
_INTRODUCED = re.compile(r"(i'm|i am|name is|name's|call me|called)\s*$", re.IGNORECASE)
ECHO_WORDS = 4  # words in a row shared with the note that count as repeating it
SAME_LINE = 0.8  # share of a recent line's words a draft repeats to count as the same line


# The line is still one a game could ship.
MILD = ("misses the plan", "repeats itself", "sounds like an assistant")


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A draft's faults (empty: say it) and its text, for the debug trace."""

    text: str
    faults: tuple[str, ...]

    @property
    def severe(self) -> tuple[str, ...]:
        """The faults that make it a line not to ship."""
        return tuple(f for f in self.faults if not f.startswith(MILD))


def judge(plan: Plan, known: KnowledgeView, checker: LineChecker, *, note: str, gist: str,
          recent: Sequence[str], player_line: str, context: str) -> Callable[[str], Verdict]:
    """The faults of a draft of this reply, the checker's violations included ("checker:
    kind"); numbers are known when ``context`` (card, conversation) or a fact the NPC may
    tell has them."""
    told = " ".join(t for f in known.facts for t in (f.text, f.says))
    known_numbers = set(numbers(f"{context} {told}"))
    # A planned fact counts as said only where the checker finds it too: that is what
    # the line reveals (the quest moves on, a tree's answer keeps the line). And only with
    # all its numbers: told two prices, the model tends to give one of them to both things
    # ("eel stew ... five copper pieces" when the stew is two).
    facts = {f.id: set(numbers(f.text)) for f in plan.facts
             if f.id in checker.recognised} if gist else {}

    def find(text: str) -> Verdict:
        verdict = faults(text, plan, known.npc, note=note, gist=gist, recent=recent,
                         known_numbers=known_numbers)
        told, said_numbers = set(checker.told(text)), set(numbers(text))
        short = [f for f, wanted in facts.items() if f not in told or wanted - said_numbers]
        missed = ("misses the plan",) if (short
                                           and "misses the plan" not in verdict.faults) else ()
        broken = tuple(f"checker: {v.kind}" for v in checker.check(text, player_line))
        return dataclasses.replace(verdict, faults=missed + verdict.faults + broken)

    return find


def stand_in(gist: str, drafts: Sequence[Verdict]) -> str | None:
    """What to say when every draft has faults: the reply's gist when no draft stated it
    or every draft has a severe fault; "" (an authored fallback line) when there is no
    gist and even the best draft has a severe fault; None: say the best draft."""
    if gist and all("misses the plan" in d.faults or d.severe for d in drafts):
        return gist
    if all(d.severe for d in drafts):
        return ""
    return None


def best(drafts: Sequence[Verdict]) -> int:
    """The index of the draft to say: fewest severe faults, then fewest faults, earliest."""
    return min(range(len(drafts)), key=lambda i: (len(drafts[i].severe),
                                                  len(drafts[i].faults), i))


def faults(text: str, plan: Plan, npc: Character, *, note: str, gist: str = "",
           recent: Sequence[str] = (), known_numbers: Iterable[int] = ()) -> Verdict:
    """What is wrong with ``text`` as the NPC's line for ``plan`` with this ``gist`` (see
    the module doc)."""
    found = []
    told = states(text, gist) or any(states(text, f.text) for f in plan.facts)
    # After a call that handed something over, the line names it by its head noun, the
    # last word of its name ("Here's your key." for the room key): a line telling only the
    # room's price would leave the player to guess what just happened.
    handed = plan.act is not Act.ACT or plan.tool_status != "ok" or not plan.thing or bool(
        _stems(plan.thing.split()[-1]) & _stems(text))
    if gist and not (told and handed):
        found.append("misses the plan")
    if _ASSISTANT.search(text):
        found.append("sounds like an assistant")
    if match := _META.search(text):
        found.append(f"talks about the game ({match.group(0)!r})")
    instruction = note.split(":", 1)[0] if gist else note
    if _shares_run(text, instruction, ECHO_WORDS):
        found.append("repeats its instructions")
    if named := third_person(text, npc):
        found.append(f"third person ({named!r})")
    if any(_overlap(text, line) >= SAME_LINE for line in recent):
        found.append("repeats itself")
    if text.rstrip().endswith((":", ",", ";")) or len(_WORD.findall(text.lower())) < 2:
        found.append("unfinished")
    allowed = set(known_numbers) | set(numbers(note))
    if unknown := [n for n in numbers(text) if n not in allowed and n > 1]:
        found.append(f"unknown number ({unknown[0]})")
    return Verdict(text, tuple(found))


def states(text: str, fact: str) -> bool:
    """Whether ``text`` states ``fact``: all its numbers, and a third of its words (at least
    two, or all if it has fewer), stems compared ("coppers" for "copper")."""
    if not set(numbers(fact)) <= set(numbers(text)):
        return False
    wanted = _stems(fact)
    return len(wanted & _stems(text)) >= max(min(2, len(wanted)), math.ceil(len(wanted) / 3))


def third_person(text: str, npc: Character) -> str:
    """The NPC's own name used as if of someone else ("" when it only introduces itself:
    "I'm Maren", "Maren Ashveil, keeper of the inn.")."""
    seen: set[int] = set()  # where a longer name matched ("Maren" in "Maren Ashveil")
    for name in names_of(npc):
        for match in re.finditer(rf"\b{re.escape(name)}\b", text):
            introduced = _INTRODUCED.search(text[:match.start()].rstrip(" ,")) or (
                match.start() == 0 and text[match.end():].startswith(","))
            if not introduced and match.start() not in seen:
                return name
            seen.add(match.start())
    return ""


def _stems(text: str) -> set[str]:
    words = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS and not w.isdigit()
             and w not in NUMBER_WORDS]
    return {w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words}


def _shares_run(text: str, other: str, run: int) -> bool:
    def runs(words: list[str]) -> set[tuple[str, ...]]:
        return {tuple(words[i:i + run]) for i in range(len(words) - run + 1)}
    return bool(runs(_WORD.findall(text.lower())) & runs(_WORD.findall(other.lower())))


def _overlap(text: str, line: str) -> float:
    mine, theirs = set(_WORD.findall(text.lower())), set(_WORD.findall(line.lower()))
    return len(mine & theirs) / len(mine) if mine and theirs else 0.0
