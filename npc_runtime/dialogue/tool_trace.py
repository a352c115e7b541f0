"""
Why an NPC would or would not call each of its tools for a player's line, in words a
designer can check (`npc-runtime tools explain`). It runs the same steps as a live turn
(``choice.offer`` and ``choice.wanted``, the speech-act reading of ``tools/acts.py``)
without the model: where a turn leaves the choice to the model (a tool without examples
that no other step asks for), it says so.
"""

from __future__ import annotations

from collections.abc import Sequence

from npc_runtime.lore.knowledge import KnowledgeView
from npc_runtime.lore.model import Tool, World
from npc_runtime.model.tokenizer import Message
from npc_runtime.tools.acts import (
    ACTING_AT,
    Reading,
    SpeechActs,
    acting_at,
    changes_game,
)
from npc_runtime.tools.calls import MEANT_AT, MEANT_BY, choices, ground, nearest
from npc_runtime.tools.choice import offer, other_items, wanted
from npc_runtime.tools.intents import chances, examples, sentences
from npc_runtime.tools.proposal import Proposal


def trace(world: World, known: KnowledgeView, acts: SpeechActs, history: Sequence[Message],
          line: str, *, proposal: Proposal | None = None, reading: Reading | None = None,
          first: Proposal | None = None) -> list[str]:
    """The reading of ``line`` after ``history`` (and the NPC's ``proposal`` waiting for an
    answer) and, per tool of the NPC, what became of it; the last line says what the NPC
    would call, or the call it offers first (``first``: ``tools/confirm.py``'s
    ``ask_first``). ``reading``: the line as already read (else it is read here)."""
    answering = proposal is not None
    reading = reading or acts.read(world, line, tools=known.tools, answering=answering)
    top = ", ".join(f"{act} {p:.2f}" for act, p in reading.scores[:3])
    read = (f"after a yes that answers no offer, {reading.after_yes!r} reads"
            if reading.after_yes else "the line reads")
    out = [f"{read} as {reading.act} ({top}); "
           + ("it asks the NPC to act" if reading.acting else "it asks the NPC to do nothing")
           + (f" (acting needs a request at >= {ACTING_AT}, or a yes to an offer"
              + (f"; or the first clause, the answer to the NPC's offer ({proposal.why}), "
                 f"read as request or yes: it reads as {reading.answer})" if proposal
                 else ")"))]
    offered = offer(world, known, [*history, ("user", line)], line, set(),
                    reading=reading, proposal=proposal)
    odds = chances(world, known.tools, line, embed=reading.embed)
    for tool in known.tools:
        best = max((per.get(tool.id, 0.0) for per in odds), default=0.0)
        by_examples = (f"; its examples match {best:.2f}" if tool.examples
                       else f"; built-in examples of its kind match {best:.2f}"
                       if examples(tool) else "; no examples")
        by_meaning = _by_meaning(world, known, tool, line, reading)
        if tool.id in offered:
            named = {p.name: v for p, v in offered[tool.id] if v}
            others = sorted(other_items(world, known, tool, line))
            out.append(f"{tool.id}: on offer" + (f" with {named}" if named else "")
                       + by_examples + by_meaning
                       + (f"; the line names {', '.join(others)}, which it does not take"
                          if others else ""))
        elif reading.waits(tool) and not reading.acts_for(at := acting_at(world, known.npc,
                                                                          tool)):
            bar = f" (acting_at: {at} %)" if at is not None else ""
            kind = ("gives or moves a quest" if changes_game(tool) else "has no examples"
                    if not examples(tool) else "is asked for with requests")
            out.append(f"{tool.id}: not offered: it {kind} and the line does not ask for "
                       f"it{bar}{by_examples}")
        else:
            missing = [p.name for p in tool.params if not p.optional and p.type == "string"
                       and choices(world, known, p)]
            why = (f"the player named no {' or '.join(missing)} it takes" if missing
                   else "nothing in the line asks for it")
            out.append(f"{tool.id}: not offered: {why}{by_examples}{by_meaning}")
    called = wanted(world, known, list(history), line, offered, reading=reading,
                    proposal=proposal)  # as the engine calls it
    unexampled = [t for t in offered if not examples(world.tools[t]) and t not in called]
    if called:
        out.append(f"the NPC calls {called[0]}" + (f", then {', '.join(called[1:])}"
                                                   if called[1:] else ""))
    elif unexampled:
        out.append(f"no step asks for a tool: the model chooses between speaking and "
                   f"{', '.join(unexampled)} (tools without examples)")
    elif first is not None:
        out.append(f"the NPC calls nothing and offers {first.tool} {dict(first.args)} "
                   f"({first.why}); a yes takes it")
    else:
        out.append("the NPC calls nothing and speaks")
    if len(sentences(line)) > 1:
        out.append(f"(examples are matched per sentence: {len(sentences(line))} sentences)")
    return out


def _by_meaning(world: World, known: KnowledgeView, tool: Tool, line: str, reading: Reading
                ) -> str:
    """For each lore-valued parameter of ``tool`` the line does not name: the values its
    meaning lies nearest (``calls.meant``), and the bar a guess must pass."""
    if reading.embed is None:
        return ""
    named = ground(world, known, tool, line)
    parts = []
    for param in tool.params:
        if param.optional or named.get(param.name) or not (
                ranked := nearest(world, known, param, line, reading.embed)):
            continue
        near = ", ".join(f"{value} {score:.2f}" for score, value in ranked[:2])
        parts.append(f"{param.name} nearest by meaning: {near}")
    return (f"; {'; '.join(parts)} (a thing meant, not named, needs >= {MEANT_AT} and "
            f"{MEANT_BY} over the next)") if parts else ""
