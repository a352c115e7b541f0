"""
What a player's line does: asks the NPC to do something, says yes or no to an offer,
asks a question, remarks, thanks, greets. A tool that changes the game (hands over an
item, sells one, moves a quest) is called only for a line that asks for it or says yes:
never for a question about the thing or its price, a remark, thanks or a no.

Before, any line that named an item an NPC holds could make it act: "Is the stew still two
coppers?" had Maren hand the stew over, "good morning again, harbour master" had Oskar
take his fee (12 of 57 lines that ask for nothing made a call on the tool benchmark's
development set). Word lists cannot tell "I'll take it" from "I'll think about it"; the
sentence encoder reads the whole line. A softmax regression over its vectors, learnt at
start from ``speech_acts.yaml`` (our own generic lines, ~1400 since they came from a
writer who never saw a benchmark; every act weighing the same however many lines it has;
``act_model.py``), reads the line with the lore's names taken out ("how much is
the stew?" asks what "how much is it?" asks).

This module is policy: it imports no onnxruntime (the encoder comes in as ``embed``).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from npc_runtime.lore.model import Character, Tool, World
from npc_runtime.tools.act_model import ActModel
from npc_runtime.tools.intents import INTERJECTIONS, Embed, examples, masked, sentences

__all__ = ["ACTING", "ACTING_AT", "OFFER_AT", "Embed", "Reading", "SpeechActs", "changes_game",
           "waits_for_asking"]

ACTING = frozenset({"request", "yes"})  # acts that may make an NPC change the game
_ACTING_ALONE = frozenset({"request"})  # ... when no offer of the NPC's waits
_ASKING = frozenset({"question", "request"})  # acts that ask the NPC for something
# ... when read with at least this probability (the act the line most likely does); see
# act_model.L2 for what it reads at 0.5 (at 0.4: 21 of 24 and 2 of 54 on the benchmark).
ACTING_AT = 0.5
COURTESY = frozenset({"thanks", "greeting"})  # acts said before an answer, not as one
# An NPC line read as an offer at least this surely leaves it pending. On npc_acts_check.yaml
# 0.5 to 0.7 read alike (31 of 32 offers, 2 of 32 other lines); the higher bar keeps a
# price told as an answer ("A room costs five coppers.", read 0.69) from becoming an offer
# that "that sounds fine" would accept.
OFFER_AT = 0.7
# A tool with at least this share of its examples read as questions is a lookup: questions
# may ask for it, however many of its other examples are requests ("I'm looking for ...").
LOOKUP_SHARE = 0.25
# A line's last sentence of at least this many words may make it a request.
LAST_REQUEST_WORDS = 3


@dataclasses.dataclass(frozen=True)
class Reading:
    """What a line does, how likely, every act's probability (for the trace), and whether
    it asks the NPC to do something (a request, or a yes to an offer)."""

    act: str
    p: float
    scores: tuple[tuple[str, float], ...] = ()
    acting: bool = False
    # An offer of the NPC's waited for this line: what its first clause does (the answer
    # comes first: "sure, I'll wear it out" is a yes, "hmm, not yet, could you wrap it?"
    # is none); "" when no offer waited.
    answer: str = ""
    # A line read as a yes with no offer waiting: the words after its first clause, which
    # were read instead ("" when the whole line was read).
    after_yes: str = ""
    # The NPC's tools that act for the player (``SpeechActs.acts_on``).
    acting_tools: frozenset[str] = frozenset()
    # The sentence encoder that read it: the tools' examples are matched with it too.
    embed: Embed | None = dataclasses.field(default=None, compare=False, repr=False)
    # The reader of one sentence of the line (each act's probability), for ``remarks``.
    sentence_acts: Callable[[str], list[tuple[str, float]]] | None = dataclasses.field(
        default=None, compare=False, repr=False)

    @property
    def asking(self) -> bool:
        """Read as a request, or a yes to an offer, however surely."""
        return self.act in (ACTING if self.answer else _ACTING_ALONE)

    @property
    def accepts(self) -> bool:
        """The line answers the NPC's offer with a yes or a request."""
        return self.answer in ACTING

    def waits(self, tool: Tool) -> bool:
        """Whether ``tool`` is called only if this line asks for it: ``waits_for_asking``,
        or it is asked for with requests and the line is a question ("what would you
        charge to mend a lamp?" mends nothing; "I'll go with the Drowned Bell.", read
        unsurely, is still matched by the tool's examples)."""
        return waits_for_asking(tool) or (self.acts_on(tool) and self.act == "question")

    def acts_on(self, tool: Tool) -> bool:
        """Whether ``tool`` does something for the player when called (it waits for asking,
        or it is asked for with requests) rather than looking something up."""
        return waits_for_asking(tool) or tool.id in self.acting_tools

    def remarks(self, sentence: str) -> bool:
        """Whether a ``sentence`` of the line only remarks ("It looks heavy."): more likely
        to ask nothing than to be a question or a request ("... so I'm after work that
        suits me" read as a remark at 0.42 and a request at 0.42 asks), and not marked as
        a question or an exclamation ("Then, how should we approach it?" read as a yes;
        "Oh, the bow on the wall!" points at it). Such a sentence asks for no tool asked
        for with questions."""
        if self.sentence_acts is None or sentence.rstrip().endswith(("!", "?")):
            return False
        asks = sum(p for act, p in self.sentence_acts(sentence) if act in _ASKING)
        return asks < ACTING_AT

    def acts_for(self, at: int | None) -> bool:
        """Whether the line may set off a tool whose bar (``acting_at``, percent) is
        ``at``: as ``acting`` when None (the default bar)."""
        if at is None:
            return self.acting
        return self.accepts or (self.asking and self.p >= at / 100)


def acting_at(world: World, npc: Character, tool: Tool) -> int | None:
    """How sure (percent) a line must read as a request or a yes before ``tool`` may be
    called: the tool's own ``acting_at``, else the NPC's, else the world's (None: the
    default, ``ACTING_AT``)."""
    return next((at for at in (tool.acting_at, npc.acting_at, world.acting_at)
                 if at is not None), None)


def changes_game(tool: Tool) -> bool:
    """Whether calling ``tool`` changes the game: it hands the player an item or moves a
    quest (the tools a question or a remark must never set off)."""
    return bool(tool.gives_player or tool.sets_stage)


def waits_for_asking(tool: Tool) -> bool:
    """Whether ``tool`` is called only for a line that asks (a request, or a yes to an
    offer): it changes the game, or it has no examples, so nothing tells a question about
    its thing from a request for it (the model, offered one, takes it: a fitter with no
    examples put mittens on a player who asked what they cost)."""
    return changes_game(tool) or not examples(tool)


class SpeechActs:
    """
    Reads the speech act of player lines (``speech_acts.yaml``), with each NPC's tools that
    change the game adding their authored ``examples:`` as requests ("May I have it?"):
    that NPC's players' ways of asking. Reads the NPC's own lines too: whether one offers
    the player something to accept (``npc_acts.yaml``: "Want the key?", "Pay now?").
    ``cache_dir``: the runtime's cache folder; the learnt weights are kept in its
    ``speech-acts/`` (``act_model.py``; None: learnt again each start).
    """

    def __init__(self, embed: Embed, cache_dir: Path | None = None) -> None:
        self.embed = embed
        cache = cache_dir / "speech-acts" if cache_dir else None
        self._player = ActModel(embed, "speech_acts.yaml", cache)
        # The NPC's lines by their vectors alone: with the words, a price told as an answer
        # ("A room costs five copper coins a night.") read as an offer at >= 0.7, and
        # "That sounds fine." after it took the room key.
        self._npc = ActModel(embed, "npc_acts.yaml", cache, words=False)
        self._requests: dict[tuple[str, ...], bool] = {}  # examples -> read as requests

    def read(self, world: World, line: str, *, tools: Sequence[Tool] = (),
             answering: bool = False) -> Reading:
        """What ``line`` does (its lore names read as "it"), for an NPC with ``tools``.
        ``answering``: an offer of the NPC's waits for this line, so its first clause is
        read too, as the answer: a yes or a request there accepts the offer."""
        extra = tuple(e for t in tools if waits_for_asking(t) for e in examples(t))

        def probabilities(text: str) -> list[tuple[str, float]]:
            return self._player.probabilities(masked(world, text), extra, "request")

        ranked = probabilities(line)
        first = _first_clause(line)
        answer = self._answer(line, probabilities) if answering else ""
        parts = sentences(line)
        if (ranked[0][0] != "request" and len(parts) > 1
                and len(parts[-1].split()) >= LAST_REQUEST_WORDS):
            # A request closing a line after a remark ("Money is no concern, so the bow
            # seems a good choice. I would like to buy it.") read as a remark, whole.
            # Only the last sentence ("ten bits for a pick head... anything cheaper?" asks
            # none), and not an aside ("... Clumsy me." alone reads as an order).
            asked = probabilities(parts[-1])
            if asked[0][0] == "request" and asked[0][1] >= ACTING_AT:
                ranked = asked
        rest = _after(line, first) if ranked[0][0] == "yes" and not answering else ""
        if rest:
            # A yes that answers no offer does nothing by itself ("it's done. oskar has
            # your letter" had Elin hand the letter over); what follows it may ask ("fine.
            # here's your silver, take it").
            ranked = probabilities(rest)
        act, p = ranked[0]
        return Reading(act, round(p, 3), tuple((a, round(q, 3)) for a, q in ranked),
                       acting=(act in _ACTING_ALONE and p >= ACTING_AT) or answer in ACTING,
                       answer=answer, after_yes=rest, embed=self.embed,
                       sentence_acts=functools.lru_cache(maxsize=64)(probabilities),
                       acting_tools=frozenset(t.id for t in tools if self.acts_on(world, t)))

    @staticmethod
    def _answer(line: str, probabilities: Callable[[str], list[tuple[str, float]]]) -> str:
        """The act of ``line`` as the answer to an offer: its first clause's when that reads
        surely, else the whole line's ("wait, what's in it?": "wait," read as a yes at 0.20
        and bought the salve). Courtesy first is not the answer: what follows it is ("Thank
        you, brother, I'll take it gladly." is a yes; "Thank you." alone is thanks)."""
        text = line
        while True:
            clause = _first_clause(text)
            act, p = probabilities(clause)[0]
            rest = _after(text, clause)
            if not (act in COURTESY and p >= ACTING_AT and rest):
                break
            text = rest
        return act if p >= ACTING_AT else probabilities(text)[0][0]

    def acts_on(self, world: World, tool: Tool) -> bool:
        """Whether ``tool`` acts for the player rather than looks something up:
        ``waits_for_asking``, or most of its examples read as requests ("Mend it,
        please.") and few as questions. ``Reading.waits`` keeps such a tool from a
        question ("what would you charge to mend a lamp?"); a lookup its writers ask for
        with questions too ("Do you have anything for a beginner?" beside "I'm looking for
        something cheap.") is not kept from them."""
        if waits_for_asking(tool):
            return True
        lines = examples(tool)
        if lines not in self._requests:
            acts = [self._player.probabilities(masked(world, e))[0][0] for e in lines]
            self._requests[lines] = (2 * sum(a in ACTING for a in acts) > len(acts)
                                     and LOOKUP_SHARE * len(acts) > acts.count("question"))
        return self._requests[lines]

    def offers(self, world: World, said: str) -> float:
        """How likely the NPC's line ``said`` offers the player something to accept."""
        return dict(self._npc.probabilities(masked(world, said)))["offer"]


def _after(line: str, clause: str) -> str:
    """What ``line`` says after its ``clause`` ("" if nothing)."""
    at = line.find(clause)
    return line[at + len(clause):].strip() if at >= 0 and clause != line else ""


def _first_clause(line: str) -> str:
    """The clause that answers: the first one that is more than a filler ("hmm", "well":
    read alone, a filler is anything), with the mark that ends it ("a whole silver?" asks,
    "a whole silver" could be anything)."""
    clauses = [c.strip() for part in _DASH.split(line) for c in _CLAUSE.findall(part)
               if c.strip()]
    return next((c for c in clauses
                  if set(_CLAUSE_END.sub("", c).lower().split()) - INTERJECTIONS), line)


_DASH = re.compile(r"\s+[-\u2013\u2014]\s+")
_CLAUSE = re.compile(r"[^,;:.!?]+(?:[.!?]+|[,;:]|$)")  # with the mark that ends it
_CLAUSE_END = re.compile(r"[,;:.!?\s]+$")
