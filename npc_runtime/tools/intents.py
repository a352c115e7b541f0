"""
Which tool a player's line asks for, from the example lines the world's writers gave
each tool (``examples:``).

A 135M model cannot tell "I'll take it" (sell) from "what about this one?" (describe):
it weighs the persona over the request. Writers can: lines per tool say what players
ask it with. Per NPC, a small classifier learns them: softmax regression over TF-IDF
word stems and word pairs and, when a sentence encoder is given (``embed``), the
sentence's vector beside them, with built-in small talk as the class that asks for
nothing. The words make "it" and "the" weigh nothing and "price" a lot, and score a line
by what it has in common with all of a tool's examples rather than with the nearest one
(which let one stray shared word decide). The vector adds what no shared word shows
("Lemme see the merchandise." is nearer "Show me your wares."). At ``MEANING`` 0.2 it
raised CPDC task-1 name accuracy on 7 of our 15 sets (0.923 -> 0.962 on the sample) and
lowered none; at 0.5 it lowered the 13-turn sample by three turns (0.692), so the words
still decide most lines (README, tool-choice benchmark).
Names of lore entities are masked first: "how much is the Long Bow?" asks what "how
much is it?" asks.

Each sentence of the line is matched on its own, so one line can ask for two things
("How long does it take? I'd like to sign up."). A sentence that only remarks ("It
looks powerful.": the speech-act reader, ``acts.Reading.remarks``, reads it as more
likely to ask nothing than to ask a question or make a request, and it ends in no "?" or
"!") asks for none of the tools players ask about with questions, however close its
words.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from importlib import resources

import numpy as np
import yaml

from npc_runtime.lore.mentions import STOPWORDS, find_mentions, stem
from npc_runtime.lore.model import Tool, World

MATCH = 0.4  # the classifier's probability for a tool that counts as asking for it
MATCH_AGAIN = 0.55  # ... for a second call in one turn ("talk less, call right")
TOKEN = re.compile(r"[a-z0-9]+")
SENTENCE = re.compile(r"(?<=[.!?;])\s+")
CLAUSE = re.compile(r"[,:;]\s*|\s+[-\u2013\u2014]\s+|\s+and\s+|\s+or\s+")

Vector = dict[str, float]
Embed = Callable[[Sequence[str]], np.ndarray]  # texts -> unit vectors, one row each
Remarks = Callable[[str], bool]  # whether a sentence only remarks (``acts.Reading.remarks``)
MEANING = 0.2  # the sentence vector's length beside the unit vector of the words


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


def intents(world: World, tools: Sequence[Tool], line: str, minimum: float = MATCH, *,
            embed: Embed | None = None, remarks: Remarks | None = None) -> list[Intent]:
    """
    The tools ``line`` asks for, best first: per sentence, its best-matching tool if it
    matches at least ``minimum`` and better than small talk (each tool once, at its best
    sentence). ``embed``: the sentence encoder (None: the words alone). ``remarks``:
    whether a sentence only remarks (the speech-act reader's ``Reading.remarks``); such a
    sentence asks for none of the tools asked for with questions (None: none is taken
    as a remark).
    """
    index = _index(tuple(tools), embed)
    if not index.classes:
        return []
    parts = sentences(masked(world, line))
    index.read_ahead([*parts, *(c for s in parts for c in CLAUSE.split(s))])
    found: dict[str, Intent] = {}
    for i, sentence in enumerate(parts):
        if refuses(sentence):
            continue
        aspects = [a for a in dict.fromkeys(index.best(c, minimum, remark=False)[0]
                                            for c in CLAUSE.split(sentence) if questions(c))
                   if a] if questions(sentence) else []
        best, score = index.best(sentence, minimum, remark=bool(remarks and remarks(sentence)))
        several = tuple(aspects) if len(aspects) > 1 else ()
        intent = (Intent(best, score, i, several) if best
                  else Intent(aspects[0], minimum, i, several) if several else None)
        if intent and (intent.tool not in found or found[intent.tool].score < intent.score):
            found[intent.tool] = intent
    return sorted(found.values(), key=lambda x: -x.score)


def chances(world: World, tools: Sequence[Tool], line: str, *, embed: Embed | None = None
            ) -> list[dict[str, float]]:
    """Per sentence of ``line`` (as ``sentences`` splits it), each tool's probability."""
    index = _index(tuple(tools), embed)
    if not index.classes:
        return []
    parts = sentences(masked(world, line))
    index.read_ahead(parts)
    return [dict(index.rank(s)) for s in parts]


def pointed_at(world: World, tools: Sequence[Tool], among: Sequence[str], text: str, *,
               embed: Embed | None = None, at: float, by: float) -> str | None:
    """The one of ``among`` (tool ids) that ``text`` points at by the examples of ``tools``
    (at its likeliest sentence), if clearly one: at least ``at`` likely and ``by`` times
    likelier than the next; else None. With fewer than two, None: nothing to tell apart."""
    if len(among) < 2:
        return None
    odds = chances(world, tools, text, embed=embed)
    best = sorted(((max((c.get(t, 0.0) for c in odds), default=0.0), t) for t in among),
                  reverse=True)
    (p, first), (q, _) = best[:2]
    return first if p >= at and p >= by * q else None


def learn(tools: Sequence[Tool], embed: Embed | None = None) -> None:
    """Learn these tools' examples now (kept), so no player's line waits for it."""
    _index(tuple(tools), embed)


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


def refuses(sentence: str) -> bool:
    """Whether the sentence says no ("Not now, I'll carry it."): it asks for nothing."""
    words = list(itertools.dropwhile(INTERJECTIONS.__contains__, _words(sentence)))[:2]
    return bool(words) and (words[0] in NO or " ".join(words) in NO)


NO = frozenset(["no", "nope", "nah", "not", "never", "maybe later", "dont"])
INTERJECTIONS = frozenset(["hmm", "hm", "um", "uh", "er", "ah", "oh", "well", "ugh", "sorry"])
_LEAD_IN = INTERJECTIONS | {"and", "so", "but", "then", "ok", "okay", "also", "now", "right"}


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

@dataclasses.dataclass(frozen=True)
class _Index:
    """A softmax classifier of sentences into tools and small talk ("")."""

    classes: tuple[str, ...]
    columns: dict[str, int]  # feature -> its row of ``weights``
    weights: np.ndarray  # (features, classes)
    bias: np.ndarray  # (classes,)
    idf: dict[str, float]
    asked_by_questions: frozenset[str] = frozenset()  # tools most examples ask as questions
    vectors: _Vectors | None = None  # the sentence encoder's, when there is one

    def best(self, text: str, minimum: float, *, remark: bool) -> tuple[str, float]:
        """
        The tool ``text`` asks for and its probability (("", 0) when none reaches
        ``minimum`` above small talk). ``remark``: ``text`` only remarks.
        """
        ranked = self.rank(text)
        if remark:  # "It looks powerful." asks for no tool that is asked about
            ranked = [(t, v) for t, v in ranked if t not in self.asked_by_questions]
        if ranked and ranked[0][1] >= minimum and ranked[0][0] != SMALL_TALK:
            return ranked[0]
        return "", 0.0

    def rank(self, text: str) -> list[tuple[str, float]]:
        """Tools (and small talk) by the probability that ``text`` asks for them."""
        logits: np.ndarray = self.bias.astype(np.float64)
        for feature, weight in self.features(text).items():
            if (row := self.columns.get(feature)) is not None:
                logits = logits + weight * self.weights[row]
        odds = np.exp(logits - logits.max())
        return sorted(zip(self.classes, (odds / odds.sum()).tolist(), strict=True),
                      key=lambda x: -x[1])

    def features(self, text: str) -> Vector:
        """The words (unit length) and, with an encoder, the vector beside them."""
        words = _unit(_weigh(word_features(text), self.idf))
        return words | self.vectors.features(text) if self.vectors else words

    def read_ahead(self, texts: Sequence[str]) -> None:
        """Embed ``texts`` in one batch (the sentences and clauses a line is read by)."""
        if self.vectors:
            self.vectors.read_ahead(texts)


class _Vectors:
    """The encoder's vectors of texts, as features, the latest few thousand kept: a turn
    reads its line's sentences several times (offer, choice, trace)."""

    KEPT = 4096

    def __init__(self, embed: Embed) -> None:
        self._embed = embed
        self._kept: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def read_ahead(self, texts: Sequence[str]) -> None:
        with self._lock:
            new = [t for t in dict.fromkeys(texts) if t not in self._kept]
        if not new:
            return
        vectors = self._embed(new)
        with self._lock:
            for text, vector in zip(new, vectors, strict=True):
                self._kept[text] = vector
            while len(self._kept) > self.KEPT:
                self._kept.popitem(last=False)

    def features(self, text: str) -> Vector:
        self.read_ahead([text])
        with self._lock:
            vector = self._kept[text]
            self._kept.move_to_end(text)
        return {f"#{i}": MEANING * float(v) for i, v in enumerate(vector)}


# Lines that ask for no tool. They compete with the tools' examples (a sentence nearer to
# small talk than to any tool asks for none) and teach the weights which words any
# conversation uses ("thanks", "I'd like to", "you").
SMALL_TALK = ""
SMALL_TALK_LINES = tuple(
    line for line in resources.files(__package__).joinpath("small_talk.txt")
    .read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#"))


def examples(tool: Tool) -> tuple[str, ...]:
    """
    The lines players ask for ``tool`` with: its writers' ``examples:``; else, for a tool
    that moves a quest and hands nothing over, the built-in lines of that kind
    (``kind_examples.yaml``: "Let's get it done now."), so it is not left to the model (which,
    offered the harbour fee, took it for "Good morning"); else none.
    """
    if tool.examples or tool.gives_player or not tool.sets_stage:
        return tool.examples
    return KIND_EXAMPLES["moves_quest"]


KIND_EXAMPLES: dict[str, tuple[str, ...]] = {
    str(kind): tuple(lines) for kind, lines in yaml.safe_load(
        resources.files(__package__).joinpath("kind_examples.yaml").read_text(encoding="utf-8")
    ).items()}


@functools.lru_cache(maxsize=4)
def _vectors(embed: Embed) -> _Vectors:
    """One store of vectors per encoder: every NPC's classifier reads the small talk."""
    return _Vectors(embed)


@functools.lru_cache(maxsize=64)
def _index(tools: tuple[Tool, ...], embed: Embed | None) -> _Index:
    lines = [(t.id, e) for t in tools for e in examples(t)]
    if not lines:
        return _Index((), {}, np.zeros((0, 0)), np.zeros(0), {})
    lines += [(SMALL_TALK, line) for line in SMALL_TALK_LINES]
    df = Counter(f for _, line in lines for f in set(word_features(line)))
    # Smoothed IDF over the NPC's own examples: words every tool's examples share weigh ~0.
    idf = {f: math.log((1 + len(lines)) / (1 + n)) for f, n in df.items()}
    reader = _Index((), {}, np.zeros((0, 0)), np.zeros(0), idf,
                    vectors=_vectors(embed) if embed else None)
    reader.read_ahead([line for _, line in lines])
    vectors = [(tool, vector) for tool, line in lines
               if _unit(_weigh(word_features(line), idf)) and (vector := reader.features(line))]
    classes = tuple(dict.fromkeys(tool for tool, _ in vectors))
    columns = {f: i for i, f in enumerate(dict.fromkeys(f for _, v in vectors for f in v))}
    weights, bias = _train([{columns[f]: w for f, w in v.items()} for _, v in vectors],
                           [classes.index(tool) for tool, _ in vectors],
                           len(columns), len(classes))
    by_questions = frozenset(t.id for t in tools
                             if sum(map(questions, examples(t))) > len(examples(t)) / 2)
    return dataclasses.replace(reader, classes=classes, columns=columns, weights=weights,
                               bias=bias, asked_by_questions=by_questions)


L2 = 1e-4  # weight decay: enough to keep weights finite, little enough to fit the examples
STEPS = 500
RATE = 5.0
MOMENTUM = 0.9


def _train(rows: list[dict[int, float]], labels: list[int], n_features: int,
           n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """
    Softmax regression by full-batch gradient descent with Nesterov momentum, on sparse
    rows (~1 s for 1,000 examples over 4,000 features; once per NPC's set of tools).
    """
    at = np.array([i for i, row in enumerate(rows) for _ in row])
    feature = np.array([f for row in rows for f in row])
    value = np.array([w for row in rows for w in row.values()], np.float32)[:, None]
    row_starts = np.flatnonzero(np.r_[True, at[1:] != at[:-1]])
    order = np.argsort(feature, kind="stable")  # the same entries, grouped by feature
    feature_starts = np.flatnonzero(np.r_[True, np.diff(feature[order]) != 0])
    target = np.eye(n_classes, dtype=np.float32)[labels]
    # Each class weighs the same in all, however many lines it has: small talk's many
    # lines must not make it likelier than a tool with five examples.
    counts = np.bincount(labels, minlength=n_classes)
    share = (1.0 / (n_classes * counts))[labels].astype(np.float32)[:, None]
    weights: np.ndarray = np.zeros((n_features, n_classes), np.float32)
    bias: np.ndarray = np.zeros(n_classes, np.float32)
    step_w, step_b = np.zeros_like(weights), np.zeros_like(bias)
    for _ in range(STEPS):
        ahead_w, ahead_b = weights + MOMENTUM * step_w, bias + MOMENTUM * step_b
        logits = np.add.reduceat(value * ahead_w[feature], row_starts, axis=0) + ahead_b
        odds = np.exp(logits - logits.max(axis=1, keepdims=True))
        error = (odds / odds.sum(axis=1, keepdims=True) - target) * share
        grad_w = np.add.reduceat(value[order] * error[at[order]], feature_starts, axis=0)
        step_w = MOMENTUM * step_w - RATE * (grad_w + L2 * ahead_w)
        step_b = MOMENTUM * step_b - RATE * error.sum(axis=0)
        weights, bias = weights + step_w, bias + step_b
    return weights, bias


def masked(world: World, line: str) -> str:
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


def spelt_out(text: str) -> list[str]:
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
    "heres": ("here", "is"),
}


def word_features(text: str) -> Counter[str]:
    """The line's word stems and stem pairs, contractions spelt out, with counts."""
    stems = [stem(w) for w in spelt_out(text)]
    return Counter([*stems, *(f"{a} {b}" for a, b in itertools.pairwise(stems))])


def _weigh(features: Counter[str], idf: dict[str, float]) -> Vector:
    return {f: (1 + math.log(n)) * idf[f] * (FUNCTION_WORD if f in STOPWORDS else 1.0)
            for f, n in features.items() if idf.get(f, 0) > 0}


FUNCTION_WORD = 0.7  # "and", "its", "that" say less of what is asked than "level" does


def _unit(vector: Vector) -> Vector:
    norm = math.sqrt(sum(w * w for w in vector.values()))
    return {f: w / norm for f, w in vector.items()} if norm else {}
