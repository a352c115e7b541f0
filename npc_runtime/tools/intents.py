"""
Which tool a player's line asks for, from the example lines the world's writers gave
each tool (``examples:``), matched by words.

A 135M model cannot tell "I'll take it" (sell) from "what about this one?" (describe):
it weighs the persona over the request. Writers can: a handful of lines per tool says
what players ask it with, and a line is scored against each tool's nearest example
(TF-IDF cosine over word stems and word pairs, the weights learnt from the examples of
the NPC's own tools, so "it" and "the" weigh nothing and "price" a lot). Names of lore
entities are masked first: "how much is the Long Bow?" asks what "how much is it?" asks.

Each sentence of the line is matched on its own, so one line can ask for two things
("How long does it take? I'd like to sign up."). A sentence that only remarks ("It
looks powerful.": no question, no request) asks for none of the tools players ask about
with questions, however close its words.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence

from npc_runtime.lore.mentions import STOPWORDS, find_mentions, stem
from npc_runtime.lore.model import Tool, World

MATCH = 0.4  # cosine to a tool's nearest example that counts as asking for it
MATCH_AGAIN = 0.55  # ... for a second call in one turn ("talk less, call right")
TOKEN = re.compile(r"[a-z0-9]+")
SENTENCE = re.compile(r"(?<=[.!?;])\s+")
CLAUSE = re.compile(r"[,:;]\s*|\s+[-\u2013\u2014]\s+|\s+and\s+|\s+or\s+")

Vector = dict[str, float]


@dataclasses.dataclass(frozen=True)
class Intent:
    """A tool a sentence of the line asks for, and how closely."""

    tool: str
    score: float
    sentence: int  # which sentence of the line
    aspects: tuple[str, ...] = ()  # tools its clauses ask for, when two or more ("how
    # much, and how long?"): one sentence asking several things about one thing


def sentences(text: str) -> list[str]:
    """The line's sentences (at least one)."""
    parts = [s.strip() for s in SENTENCE.split(text.strip())]
    return [p for p in parts if p] or [text]


def intents(world: World, tools: Sequence[Tool], line: str, minimum: float = MATCH
            ) -> list[Intent]:
    """
    The tools ``line`` asks for, best first: per sentence, its best-matching tool if it
    matches at least ``minimum`` and better than small talk (each tool once, at its best
    sentence).
    """
    index = _index(tuple(tools))
    if not index.examples:
        return []
    found: dict[str, Intent] = {}
    for i, sentence in enumerate(sentences(_masked(world, line))):
        if refuses(sentence):
            continue
        aspects = [a for a in dict.fromkeys(index.best(c, minimum)
                                            for c in CLAUSE.split(sentence) if questions(c))
                   if a] if questions(sentence) else []
        best = index.best(sentence, minimum)
        several = tuple(aspects) if len(aspects) > 1 else ()
        intent = (Intent(best, index.rank(sentence)[0][1], i, several) if best
                  else Intent(aspects[0], minimum, i, several) if several else None)
        if intent and (intent.tool not in found or found[intent.tool].score < intent.score):
            found[intent.tool] = intent
    return sorted(found.values(), key=lambda x: -x.score)


def questions(sentence: str) -> bool:
    """Whether the sentence is a question (players often drop the question mark)."""
    text = _ASIDE.sub("", sentence).strip()
    return text.endswith("?") or any(
        next(itertools.dropwhile(_LEAD_IN.__contains__, _words(clause)), "") in QUESTION_WORDS
        for clause in CLAUSE.split(text))


_ASIDE = re.compile(r"\s*\([^)]*\)\s*$")  # "(pointing at: ...)"
QUESTION_WORDS = frozenset([
    "what", "whats", "how", "hows", "which", "who", "whos", "where", "wheres", "why", "when",
    "is", "are", "does", "do", "can", "could", "would", "will", "any", "anything",
])


def remarks(sentence: str) -> bool:
    """
    Whether the sentence only remarks ("It looks heavy."): no question, no request, no
    exclamation ("Oh, the bow on the wall!" points at it).
    """
    return (not questions(sentence) and not _ASIDE.sub("", sentence).strip().endswith("!")
            and not _REQUEST.search(" ".join(_spelt_out(sentence))))


_REQUEST = re.compile(
    r"\b(tell|show|give|explain|describe|walk me|let me|i would like|i want|i wonder|"
    r"i was wondering|please|need|looking|after|recommend|suggest|curious|interested|"
    r"info|details|more about|i will|i am going to|i shall|can i|could i|may i|prefer|"
    r"wanna|seeking|searching|grateful|could you|would you|can you|do you have)\b")


def refuses(sentence: str) -> bool:
    """Whether the sentence says no ("Not now, I'll carry it."): it asks for nothing."""
    words = list(itertools.dropwhile(INTERJECTIONS.__contains__, _words(sentence)))[:2]
    return bool(words) and (words[0] in NO or " ".join(words) in NO)


NO = frozenset(["no", "nope", "nah", "not", "never", "maybe later", "dont"])
INTERJECTIONS = frozenset(["hmm", "hm", "um", "uh", "er", "ah", "oh", "well", "ugh", "sorry"])
_LEAD_IN = INTERJECTIONS | {"and", "so", "but", "then", "ok", "okay", "also", "now", "right"}


def affirms(line: str) -> bool:
    """Whether the line says yes (to a question the NPC just asked)."""
    words = _words(line)[:4]
    return bool(words) and (words[0] in YES or " ".join(words[:2]) in YES)


def bounds(line: str) -> bool:
    """
    Whether the line sets a bound on an amount ("under 500 gold", "40 or more", "two days
    or less", "C or below"): what a player asks a finder for, whatever the words around.
    """
    return bool(_BOUND_BEFORE.search(line) or _BOUND_AFTER.search(line))


_AMOUNT = (r"(?:\d[\d,.]*\w*|one|two|three|four|five|six|seven|eight|nine|ten|twenty|fifty|"
           r"hundred|thousand|[A-Z])")
_BOUND_BEFORE = re.compile(
    r"\b(?:under|below|above|over|at least|at most|less than|more than|fewer than|"
    r"cheaper than|up to|no more than|within)\s+(?:\w+\s+)?" + _AMOUNT + r"\b")
_BOUND_AFTER = re.compile(
    r"\b" + _AMOUNT + r"(?:\s+\w+)?\s+or\s+(?:less|more|below|above|under|over|fewer|lower|"
    r"higher|cheaper|so)\b")

YES = frozenset([
    "yes", "yeah", "yep", "yup", "sure", "ok", "okay", "alright", "absolutely", "certainly",
    "definitely", "indeed", "correct", "right", "please", "gladly", "aye", "agreed",
    "thats right", "of course", "go ahead", "lets", "do it", "sounds good", "i do",
    "i am", "im sure", "i will", "id love", "i would",
])


@dataclasses.dataclass(frozen=True)
class _Index:
    examples: tuple[tuple[str, Vector], ...]  # (tool id, unit vector)
    idf: dict[str, float]
    asked_by_questions: frozenset[str] = frozenset()  # tools most examples ask as questions

    def best(self, text: str, minimum: float) -> str:
        """The tool ``text`` asks for ("" when none matches ``minimum`` above small talk)."""
        ranked = self.rank(text)
        if remarks(text):  # "It looks powerful." asks for no tool that is asked about
            ranked = [(t, v) for t, v in ranked if t not in self.asked_by_questions]
        if ranked and ranked[0][1] >= minimum and ranked[0][0] != SMALL_TALK:
            return ranked[0][0]
        return ""

    def rank(self, text: str) -> list[tuple[str, float]]:
        """Tools by their nearest example's cosine to ``text``, best first."""
        query = _unit(_weigh(_features(text), self.idf))
        best: dict[str, float] = {}
        for tool, vector in self.examples:
            score = sum(w * vector.get(f, 0.0) for f, w in query.items())
            best[tool] = max(best.get(tool, 0.0), score)
        return sorted(best.items(), key=lambda x: -x[1])


# Lines that ask for no tool. They compete with the tools' examples (a sentence nearer to
# small talk than to any tool asks for none) and teach the weights which words any
# conversation uses ("thanks", "I'd like to", "you").
SMALL_TALK = ""
SMALL_TALK_LINES = (
    "Thank you.", "Thanks for your help.", "Hello there!", "Good morning.", "Goodbye.",
    "See you later.", "How are you today?", "Nice weather today, isn't it?",
    "What's your name?", "How long have you been here?", "That's interesting.", "I see.",
    "Got it.", "Tell me about yourself.", "What do you think about that?",
    "I'm just looking around.", "Where are you from?", "Do you like your work?",
    "Any news around town?", "I'm new here.", "That makes sense.", "Have a nice day.",
    "Sorry, I was only curious.", "I had a long trip.", "My name is Rook.",
    "I appreciate it.", "I'd like to hear your story.", "You seem busy today.",
    "I'm not sure yet.", "Let me think for a moment.", "Have you heard the rumours?",
    "I've always wanted to be an adventurer.", "I'm doing well, thanks.",
    "Have you ever been there yourself?", "Is the road safe these days?",
    "You look like you've seen a few fights.", "What's your story?", "How's business?",
    "Sorry, I'm rambling.", "That's a shame.", "Good luck to you too.", "Farewell.",
    "I'll be back later.", "Maybe another time.", "No, thanks.",
    "Nice place you have here.", "Hi, first time in town.", "Good talking to you.",
    "Take care.", "See you around.", "Bye for now.", "What a day.", "I'm just curious.",
    "Did you ever fight yourself?", "How did you end up here?", "Who runs this place?",
    "It's cold today.", "I heard a rumour.", "Ha, fair enough.", "Thanks a lot!",
    "You must be the owner.", "Are you the one they call the smith?",
    "People in town speak well of you.", "Where did you learn your craft?",
    "Do you make these yourself?", "How long have you been doing this?",
    "Is it true what they say about the old road?", "Is that place really haunted?",
    "Any advice for a traveller?", "Any tips for staying alive out there?",
    "How do you cope with this heat?", "I hate the rain.", "The food at the inn is awful.",
    "May the gods watch over you.", "Safe travels.", "Until next time, friend.",
    "Wish me luck.", "You've been very kind.", "That happened to me once.",
    "My last one broke in a fight.", "I'm a bit nervous, honestly.", "Ha, that's funny.",
    "You look tired.", "Have you ever left this town?", "What brings you here?",
    "Do you have family here?", "Where can I find a place to sleep?",
    "Which way is the harbour?", "Do you know a good healer?", "Nice to meet you.",
    "Busy day, huh?", "I'll keep that in mind.", "Thanks for the advice.",
)


@functools.lru_cache(maxsize=64)
def _index(tools: tuple[Tool, ...]) -> _Index:
    docs = [(t.id, _features(e)) for t in tools for e in t.examples]
    if not docs:
        return _Index((), {})
    docs += [(SMALL_TALK, _features(line)) for line in SMALL_TALK_LINES]
    df = Counter(f for _, feats in docs for f in set(feats))
    # Smoothed IDF over the NPC's own examples: words every tool's examples share weigh ~0.
    idf = {f: math.log((1 + len(docs)) / (1 + n)) for f, n in df.items()}
    by_questions = frozenset(t.id for t in tools
                             if sum(map(questions, t.examples)) > len(t.examples) / 2)
    return _Index(tuple((tool, _unit(_weigh(feats, idf))) for tool, feats in docs), idf,
                  by_questions)


def _masked(world: World, line: str) -> str:
    """The line with lore names taken out (they say which thing, not what to do)."""
    out, end = [], 0
    for mention in find_mentions(world, line):
        out.append(line[end:mention.start])
        out.append(" it ")
        end = mention.start + len(mention.text)
    return "".join([*out, line[end:]])


def _words(text: str) -> list[str]:
    # Apostrophes dropped: players type "whats" and "lets" as often as "what's".
    return TOKEN.findall(text.lower().replace("\u2019", "").replace("'", ""))


def _spelt_out(text: str) -> list[str]:
    """The words with contractions spelt out: "I'll take it" asks what "I will" does."""
    text = _CONTRACTION.sub(lambda m: " " + _CONTRACTIONS[m.group(1)],
                            text.lower().replace("\u2019", "'"))
    return [w for t in _words(text) for w in _TYPED.get(t, (t,))]


_CONTRACTIONS = {"ll": "will", "d": "would", "m": "am", "re": "are", "ve": "have"}
_CONTRACTION = re.compile(r"(?<=[a-z])'(ll|d|m|re|ve)\b")
_TYPED = {  # contractions typed without the apostrophe
    "im": ("i", "am"), "ive": ("i", "have"), "youre": ("you", "are"),
    "whats": ("what", "is"), "thats": ("that", "is"), "hows": ("how", "is"),
    "wheres": ("where", "is"), "whos": ("who", "is"), "theres": ("there", "is"),
}


def _features(text: str) -> Counter[str]:
    stems = [stem(w) for w in _spelt_out(text)]
    return Counter([*stems, *(f"{a} {b}" for a, b in itertools.pairwise(stems))])


def _weigh(features: Counter[str], idf: dict[str, float]) -> Vector:
    return {f: (1 + math.log(n)) * idf[f] * (FUNCTION_WORD if f in STOPWORDS else 1.0)
            for f, n in features.items() if idf.get(f, 0) > 0}


FUNCTION_WORD = 0.7  # "and", "its", "that" say less of what is asked than "level" does


def _unit(vector: Vector) -> Vector:
    norm = math.sqrt(sum(w * w for w in vector.values()))
    return {f: w / norm for f, w in vector.items()} if norm else {}
