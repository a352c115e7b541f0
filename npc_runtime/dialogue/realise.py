"""
Realisation: how a reply plan reaches the model, and the NPC's voice examples.

The model phrases the plan; it sees it as one short note right after the player's line,
the place a small model follows best (see ``prompt.build_messages``), written as
instructions to the character. Most replies have a gist, a line the reply must include:
a fact the way the NPC would put it (``lore.voice.says``: its authored ``says:``, else its
text in the first person), or for a reply that tells nothing, a line of the NPC's own
(its ``fallback_lines`` when it does not know, its ``sample_lines`` as a greeting), else a
stock line (``stock_lines.yaml``). Told "what you say next must include this: ...", the
135M model kept to it; told only what to do ("greet them in a few words, in character")
it mostly repeated the order or drifted out of the world ("Greet them in a few words, as
they are here to help."; "I'm the king of this land, I'll be your guide."). After a tool
call the gist says what the call did ("Here you are, the room key."), then any fact the
line also tells: left to itself after handing a key over, the model said "I'm sorry for
the error, but I can't help you." or "I'll be your guide in all things magical". A plain
remark gets no gist: the model answers it freely.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Sequence
from importlib import resources

import yaml

from npc_runtime.dialogue.plan import Act, Plan
from npc_runtime.lore.model import Character, World
from npc_runtime.lore.voice import first_person, says

# The note's two forms. Worded as what the NPC says next, never "the player" or "the
# game": the model repeats such words ("The player asks: ...") and they are off-world.
# Wording chosen on the persona benchmark's development set: "must include this:" 31/43
# facts answered, "tell the player:" 26/43. Every other act has a gist (a fact, a lore
# line or a stock line), so the order is for a plain remark only. It is four words or
# more: the model sometimes repeats its note, and the scorer spots a repeat by four words
# in a row (a short statement such as "They are leaving." came back as the NPC's line).
MUST_INCLUDE = "What you say next must include this:"
FREE_ANSWER = "Answer in one or two short sentences, in character."


def note(plan: Plan, npc: Character, gist: str = "") -> str:
    """The note after the player's line that tells the model what this reply does: the
    reply's ``gist`` when it has one (see ``gist``); none after a tool call (the call's
    result is the last thing the model read); else to answer freely."""
    del npc  # how the NPC puts things is in the gist
    if gist:
        return f"{MUST_INCLUDE} {gist}"
    return "" if plan.act is Act.ACT else FREE_ANSWER


@dataclasses.dataclass(frozen=True)
class Gist:
    """The line a reply must include ("": none) and where it comes from: "facts", or for a
    reply that tells no fact (said as written) the lore field or "stock lines"."""

    text: str
    source: str = ""


def gist(plan: Plan, npc: Character, recent: Sequence[str] = ()) -> Gist:
    """
    The line this reply must include (empty: none, the model speaks freely): the planned
    facts as the NPC says them; else, for a reply that tells nothing, one of the NPC's own
    lines for it, else a stock line; of those, the first the NPC did not say among its
    ``recent`` lines (a second greeting is not the first one again).
    """
    if plan.act is Act.ACT:  # what the call did first, then what the line also tells
        done = _stock_line(_acted(plan), plan.thing, recent)
        told = [says(f, npc) for f in plan.facts]
        # "the keeper's token" or "the Maren's key", handed over by their owner: "my token"
        line = re.sub(r"\b(?:the|a|an) my\b", "my", first_person(done.text, npc))
        return Gist(" ".join([line, *told]), "facts" if told else done.source)
    if plan.facts and plan.act is Act.ANSWER:
        return Gist(" ".join(says(f, npc) for f in plan.facts), "facts")
    if plan.act is Act.CONFIRM:  # the offer the player's yes takes, in so many words
        return _stock_line("confirm_thing" if plan.thing else "confirm", plan.thing)
    # A question it cannot answer gets its own "can't help" line whatever it reads like:
    # "I don't know what that is." is for a line that reads as real-world talk above all.
    key = plan.kind if plan.act is Act.SMALL_TALK else plan.act.value
    own = {"does_not_know": ("fallback_lines", npc.fallback_lines),
           "greeting": ("speech.sample_lines", npc.persona.sample_lines)}.get(key, ("", ()))
    return _unsaid([*(Gist(line, own[0]) for line in own[1]),
                    *(Gist(line, f"stock lines ({key})")
                      for line in _stock_lines().get(key, ()))], recent)


def _acted(plan: Plan) -> str:
    """The stock lines for what a call did: the game carried it out (with or without a
    thing it handed over or worked on), or it did not (failed, refused, no answer)."""
    if plan.tool_status != "ok":
        return "not_acted"
    return "acted_thing" if plan.thing else "acted"


def _stock_line(key: str, thing: str = "", recent: Sequence[str] = ()) -> Gist:
    """A stock line for ``key`` (``{thing}`` filled in), chosen as ``_unsaid`` does."""
    return _unsaid([Gist(line.format(thing=thing), f"stock lines ({key})")
                    for line in _stock_lines()[key]], recent)


def _unsaid(lines: Sequence[Gist], recent: Sequence[str]) -> Gist:
    """The first of ``lines`` the NPC did not say among its ``recent`` lines; the first
    when it said them all (none: an empty gist)."""
    said = {line.strip().lower() for line in recent}
    return next((g for g in lines if g.text.lower() not in said),
                lines[0] if lines else Gist(""))


@functools.cache
def _stock_lines() -> dict[str, tuple[str, ...]]:
    text = resources.files("npc_runtime.dialogue").joinpath("stock_lines.yaml").read_text()
    return {kind: tuple(lines) for kind, lines in yaml.safe_load(text).items()}


def voice_examples(world: World, npc: Character) -> list[tuple[str, str]]:
    """
    Example exchanges (player line, NPC line) that show the NPC's voice; they go in the
    shared prompt prefix. The writer's ``speech.examples`` when given; else two built from
    what the lore has: who the NPC is, and its first sample line as its greeting.
    """
    if npc.persona.examples:
        return list(npc.persona.examples)
    role = f", {npc.role}" if npc.role else ""
    made = [("Who are you?", f"I'm {npc.name}{role}.")]
    if npc.persona.sample_lines:
        made.insert(0, ("Hello.", npc.persona.sample_lines[0]))
    return made
