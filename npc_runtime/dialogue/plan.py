"""
The reply plan: what the NPC's next line should do, decided before any token is generated.

A 135M model asked to "stay in character" with its whole card in view mostly drifts (it
answered 14 % of plain fact questions on our benchmark). It does follow a short note next
to the player's line (DESIGN.md section 4; ``realise.py``), so the runtime decides the
content and the model only phrases it. The plan is made from the NPC's gated knowledge and
the player's line, with a sentence encoder (no language model):

- the facts the NPC may tell, ranked by meaning against the line (a paraphrase such as
  "what do I owe you for a bed?" finds a room's price without sharing a word with it); a
  fact is matched by several of the lore's sentences for it (``fact_forms.py``) and a line
  by its sentences too;
- the facts it knows but may not tell yet (secrets, later stages of a quest), ranked the same
  way: a line nearer to one of those than to anything tellable is not answered;
- what kind of line it is (greeting, farewell, thanks, question, remark, rude, about the
  real world), by its nearest example lines in ``line_kinds.yaml``.

Every plan carries ``why``, in words a writer can check (``say --explain``, ``LineDone``).
The engine turns the plan into a note for the model (``realise.py``) and may replace the
act when a tool is called (``actions.py`` decides that, for now).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import re
from collections.abc import Sequence
from importlib import resources

import numpy as np
import yaml

from npc_runtime.dialogue.fact_forms import Form, fact_forms
from npc_runtime.dialogue.question_map import QuestionMap
from npc_runtime.lore.knowledge import KnowledgeView
from npc_runtime.lore.model import Character, Fact, World
from npc_runtime.tools.acts import Embed, Reading
from npc_runtime.tools.proposal import Proposal

# Cosine between the line and a fact from which the line counts as asking about it. For the
# encoder's paraphrases of a fact question, right answers scored 0.13-0.63 (DESIGN.md). Set
# on the persona benchmark's development set (0.35), then lowered to 0.30 once the first
# held-out set was spent (session 16, benchmarks/plan_probe.py over dev, plan_probe_extra
# and that set: right first facts 103 -> 106 of 130, lines given a fact they do not ask
# about 34 -> 35 of 163; below 0.30 no more right facts, more told unasked: 38 at 0.28,
# 40 at 0.25).
ASKS_ABOUT = 0.30
# A line that is a question may ask about a fact it is less close to, when that fact stands
# out from the rest ("what does the letter say?" to the courier who carries it). 0.25 rather
# than 0.28 (benchmarks/plan_probe.py): one more right fact and one more fact told unasked on
# the development set ("Who's the mayor?" -> Tobin at 0.26), four more right facts and none
# unasked on our own check set.
MAY_ASK_ABOUT = 0.25
STANDS_OUT = 0.08
ALSO_TELL = 0.06  # a second fact goes too when it scores within this of the first
# A question reads as small talk only when its kind's examples beat every fact by this much
# ("What do I owe you for a bed tonight?" is near "Good night." and nearer a room's price).
QUESTION_MARGIN = 0.1
# A line goes unanswered for a fact the NPC may not tell only when that fact is nearer than
# any it may tell by this much: refusing a fair question costs more than a near miss.
UNTOLD_MARGIN = 0.05
SENTENCE_WORDS = 3  # a line's sentence shorter than this is not read on its own ("Right.")
KIND_NEIGHBOURS = 3  # example lines per kind whose mean similarity scores the kind
SOCIAL = {"greeting", "farewell", "thanks"}
IDENTITY = "@identity"


class Act(enum.StrEnum):
    """What the reply does."""

    ANSWER = "answer"  # tell these facts
    ACT = "act"  # call a tool (the game does something)
    DOES_NOT_KNOW = "does_not_know"
    WILL_NOT_TELL = "will_not_tell"  # a secret, or something for later in a quest
    SMALL_TALK = "small_talk"
    GREETING = "greeting"
    FAREWELL = "farewell"
    CONFIRM = "confirm"  # offer a call the line may ask for, before acting (tools/confirm.py)


_SENTENCE_END = re.compile(r"(?<=[.?!;:])\s+")  # sentences, and clauses after ";" or ":"
_BY_KIND = {"greeting": Act.GREETING, "farewell": Act.FAREWELL}  # others: small talk


@dataclasses.dataclass(frozen=True)
class Plan:
    """One reply's plan: its act, what it tells, the kind of line it answers, and why."""

    act: Act
    facts: tuple[Fact, ...] = ()
    kind: str = ""  # the player's line: greeting, question, remark, meta, ...
    why: str = ""
    tool: str = ""  # the tool called, when ``act`` is ACT
    tool_status: str = ""  # what became of that call: ok, failed, timed_out, rejected
    matches: tuple[tuple[str, float], ...] = ()  # the closest facts and their cosines
    # The line's first sentences as drafted, with their faults (speech.py), the said last.
    drafts: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # What the line does (tools/acts.py); None: not read (no tool that changes the game).
    speech: Reading | None = None
    tool_trace: tuple[str, ...] = ()  # why each tool was or was not called (tool_trace.py)
    offer: Proposal | None = None  # when ``act`` is CONFIRM: the call offered
    # The name of what the call offered (CONFIRM) or made (ACT) hands over or works on.
    thing: str = ""
    opening: str = ""  # the words the line starts with (tree generation), "" for none


def identity_fact(npc: Character, world: World) -> Fact:
    """Who the NPC is, as a fact it may always tell (answers "who are you?")."""
    role = f", {npc.role}" if npc.role else ""
    text = f"My name is {npc.name}{role}, in {world.name}."
    return Fact(IDENTITY, text, about=(npc.id,), says=text)


def untold(world: World, known: KnowledgeView) -> tuple[Fact, ...]:
    """
    Facts this NPC knows or will know but may not tell now: its withheld secrets and what
    later quest stages give it. A line about one of these gets "will not tell", never
    "does not know" (which would be a lie the quest later contradicts).
    """
    npc = known.npc.id
    later = {f.id for f in world.facts.values() if npc in f.known_by}
    for quest in world.quests.values():
        for stage in quest.stages:
            later.update(stage.unlocks.get(npc, ()))
            later.update(f for f, by in stage.reveals if by == npc)
    tellable = {f.id for f in known.facts}
    withheld = {f.id for f in known.withheld}
    extra = [world.facts[f] for f in sorted(later - tellable - withheld)
             if f in world.facts and world.facts[f].available]
    return (*known.withheld, *extra)


class Planner:
    """Plans replies; holds the encoder and the vectors of what it has embedded."""

    def __init__(self, embed: Embed, question_map: QuestionMap | None = None) -> None:
        """``question_map``: moves a line's vector before it is compared with facts
        (``question_map.py``); None: the encoder's vectors as they are."""
        self._embed = embed
        self._map = question_map
        kinds = yaml.safe_load(resources.files(__package__).joinpath("line_kinds.yaml")
                               .read_text(encoding="utf-8"))
        self._kinds = [kind for kind, lines in kinds.items() for _ in lines]
        self._kind_vectors = embed([line for lines in kinds.values() for line in lines])
        self._vectors: dict[str, np.ndarray] = {}

    def plan(self, world: World, known: KnowledgeView, line: str,
             tell: Sequence[Fact] = (), previous: str = "") -> Plan:
        """The plan for answering ``line`` with what ``known`` allows; ``tell``: the facts
        the caller wants told (tree generation), which decide the act; ``previous``: the
        player's line before this one, for a follow-up ("and something hot to eat?")."""
        if tell:
            return Plan(Act.ANSWER, tuple(tell), why="the caller asked for these facts")
        read = self._read(line)
        kind, kind_score = self._kind(read[0])
        ranked = self._rank(read, known.facts, known.npc, world)
        asking = kind == "question" or line.rstrip().endswith("?")
        follow_up = ""
        if previous and asking and not _answers(ranked, asking):
            ranked, follow_up = self._follow_up(world, known, line, previous, ranked)
        # What it may not tell is matched by its own words only: a thing's description
        # ("the iron tongue of the storm bell") would turn fair questions ("why is the bell
        # silent?") into refusals, which cost more than a near miss.
        hidden = self._rank(read, untold(world, known), known.npc, world, described=False)
        matches = tuple((f.id, round(s, 3)) for s, f, _ in (ranked[:3] + hidden[:1]))
        plan = functools.partial(Plan, kind=kind, matches=matches)
        best, best_fact = (ranked[0][0], ranked[0][1]) if ranked else (0.0, None)
        # How much it asks about a fact; a question ("?") must read as small talk by a margin.
        topical = max(best, hidden[0][0] if hidden else 0.0) + (QUESTION_MARGIN if asking
                                                               else 0.0)
        if kind == "identity" and kind_score > topical:
            return plan(Act.ANSWER, (identity_fact(known.npc, world),),
                        why=f"the line asks who {known.npc.name} is ({kind_score:.2f})")
        if kind in SOCIAL | {"rude", "remark", "meta"} and kind_score > topical:
            return plan(_BY_KIND.get(kind, Act.SMALL_TALK),
                        why=f"the line reads as {kind} ({kind_score:.2f})")
        if hidden and hidden[0][0] >= ASKS_ABOUT and hidden[0][0] >= best + UNTOLD_MARGIN:
            score, fact, form = hidden[0]
            return plan(Act.WILL_NOT_TELL, why=(
                f"the line asks about {_matched(score, fact, form)}, which "
                f"{known.npc.name} may not tell now"))
        if _answers(ranked, asking):
            told = ranked[:1] + [m for m in ranked[1:2]
                                 if m[0] >= best - ALSO_TELL and m[0] >= MAY_ASK_ABOUT]
            return plan(Act.ANSWER, tuple(f for _, f, _ in told),
                        why="the line asks about " + ", ".join(_matched(*m) for m in told)
                        + follow_up)
        closest = (f"closest fact {best_fact.id} at {best:.2f}" if best_fact
                   else "no fact to tell")
        if kind in {"question", "meta", "identity"}:
            return plan(Act.DOES_NOT_KNOW, why=f"a {kind} about nothing "
                        f"{known.npc.name} knows ({closest})")
        return plan(_BY_KIND.get(kind, Act.SMALL_TALK),
                    why=f"the line reads as {kind} ({closest})")

    def _follow_up(self, world: World, known: KnowledgeView, line: str, previous: str,
                   ranked: list[tuple[float, Fact, Form]]
                   ) -> tuple[list[tuple[float, Fact, Form]], str]:
        """
        A question that names no fact on its own, read with the player's line before it:
        "since when?" after "Is the tower always this quiet?" asks about the silent bell,
        "so who stashed it?" after the bell's clapper about who took it. Each fact scores
        the mean of its closeness to the two lines together and to this line alone (the
        line before says what is talked about; this one, what about it). Kept only when it
        finds a fact closer than the line alone did.
        """
        alone = {fact.id: score for score, fact, _ in ranked}
        joint = sorted((((score + alone.get(fact.id, 0.0)) / 2, fact, form)
                        for score, fact, form in self._rank(self._read(f"{previous} {line}"),
                                                            known.facts, known.npc, world)),
                       key=lambda m: -m[0])
        if joint and joint[0][0] > (ranked[0][0] if ranked else 0.0):
            return joint, f" (read with the line before it, {previous!r})"
        return ranked, ""

    def _kind(self, said: np.ndarray) -> tuple[str, float]:
        """The kind of line whose closest examples are closest on average."""
        sims = self._kind_vectors @ said
        best: dict[str, list[float]] = {}
        for kind, sim in zip(self._kinds, sims, strict=True):
            best.setdefault(kind, []).append(float(sim))
        scores = {k: float(np.mean(sorted(v)[-KIND_NEIGHBOURS:])) for k, v in best.items()}
        kind = max(scores, key=scores.__getitem__)
        return kind, scores[kind]

    def _read(self, line: str) -> np.ndarray:
        """The line's vector, then its sentences' (of SENTENCE_WORDS words or more) when it
        has several: "Something nipped my ankle in the shallows last night. What was that?"
        asks about what its first sentence says, and the whole line's vector is nearer the
        small talk that "What was that?" sounds like."""
        parts = [p for p in _SENTENCE_END.split(line.strip())
                 if len(p.split()) >= SENTENCE_WORDS]
        return self._embed([line, *parts] if len(parts) > 1 else [line])

    def _rank(self, read: np.ndarray, facts: Sequence[Fact], npc: Character, world: World,
              *, described: bool = True) -> list[tuple[float, Fact, Form]]:
        """``facts`` by cosine to the line, best first, each with the sentence that matched.
        A fact is as close as the closest of its forms (``fact_forms.py``: its text, the
        NPC's own words for it, with what its subjects are to the NPC, as told to the
        player, with what its subjects are) to the closest of the line and its sentences."""
        if not facts:
            return []
        if self._map is not None:
            read = self._map(read)
        forms = [fact_forms(f, npc, world, described=described) for f in facts]
        missing = list(dict.fromkeys(form.text for fs in forms for form in fs
                                     if form.text not in self._vectors))
        if missing:
            if len(self._vectors) > 50_000:  # many worlds hot-reloaded: start over
                self._vectors.clear()
            self._vectors.update(zip(missing, self._embed(missing), strict=True))
        best = []
        for fact, fs in zip(facts, forms, strict=True):
            sims = (np.stack([self._vectors[form.text] for form in fs]) @ read.T).max(axis=1)
            i = int(np.argmax(sims))
            best.append((float(sims[i]), fact, fs[i]))
        return sorted(best, key=lambda m: -m[0])


def _answers(ranked: Sequence[tuple[float, Fact, Form]], asking: bool) -> bool:
    """Whether the best fact is one the line asks about: close enough, or (a question)
    close and standing out from the next."""
    best = ranked[0][0] if ranked else 0.0
    second = ranked[1][0] if len(ranked) > 1 else 0.0
    return best >= ASKS_ABOUT or (best >= MAY_ASK_ABOUT and best - second >= STANDS_OUT
                                  and asking)


def _matched(score: float, fact: Fact, form: Form) -> str:
    """A fact the line asks about, for ``why``: its id, cosine, and the sentence that matched
    when that was not the fact's own text or the NPC's words for it."""
    return f"{fact.id} ({score:.2f}" + (f", by {form.source})" if form.source else ")")
