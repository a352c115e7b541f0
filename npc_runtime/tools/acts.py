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
start from ``speech_acts.yaml`` (our own generic lines, every act weighing the same
however many lines it has), reads the line with the lore's names taken out ("how much is
the stew?" asks what "how much is it?" asks).

This module is policy: it imports no onnxruntime (the encoder comes in as ``embed``).
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Callable, Sequence
from importlib import resources

import numpy as np
import yaml

from npc_runtime.lore.model import Tool, World
from npc_runtime.tools.intents import masked

Embed = Callable[[Sequence[str]], np.ndarray]  # texts -> unit vectors, one row each

ACTING = frozenset({"request", "yes"})  # acts that may make an NPC change the game
# ... when read with at least this probability. On the tool benchmark's development set
# (benchmarks/tool_eval.py), lines read as a request or a yes: 18 of 24 requests and 12 of
# 57 lines that ask for nothing at any probability; 17 and 3 from 0.4; 14 and 2 from 0.45.
ACTING_AT = 0.4
STEPS = 600
RATE = 10.0
L2 = 1e-3  # weight decay: the examples are few, the vectors long
MODELS_KEPT = 32  # per NPC tool sets learnt; more and all but the built-in one go


@dataclasses.dataclass(frozen=True)
class Reading:
    """What a line does, how likely, every act's probability (for the trace), and whether
    it asks the NPC to do something (a request, or a yes to an offer)."""

    act: str
    p: float
    scores: tuple[tuple[str, float], ...] = ()
    acting: bool = False

    @property
    def leaning(self) -> bool:
        """Read as a request or a yes, however surely (a "yes" said in words counts only
        if its reading agrees)."""
        return self.act in ACTING


def changes_game(tool: Tool) -> bool:
    """Whether calling ``tool`` changes the game: it hands the player an item or moves a
    quest (the tools a question or a remark must never set off)."""
    return bool(tool.gives_player or tool.sets_stage)


class SpeechActs:
    """
    Reads the speech act of player lines. Learnt at construction from the built-in lines
    (~10 ms), and again for each NPC's set of tools that change the game, whose authored
    ``examples:`` are requests too ("May I have it?"): that NPC's players' ways of asking.
    """

    def __init__(self, embed: Embed) -> None:
        self._embed = embed
        examples = _examples()
        self.acts = tuple(examples)
        self._labels = np.array([i for i, act in enumerate(self.acts)
                                 for _ in examples[act]])
        self._vectors = embed([line for act in self.acts for line in examples[act]])
        self._models: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {
            (): _train(self._vectors, self._labels, len(self.acts))}
        self._lock = threading.Lock()

    def read(self, world: World, line: str, *, tools: Sequence[Tool] = (),
             answering: bool = False) -> Reading:
        """What ``line`` does (its lore names read as "it"), for an NPC with ``tools``.
        ``answering``: the NPC's last line asked the player something (an offer may wait
        for its yes): a line read as a request or a yes acts whatever its probability
        ("Yes please, I'm starving.")."""
        weights, bias = self._model(tuple(e for t in tools if changes_game(t)
                                          for e in t.examples))
        vector = self._embed([masked(world, line)])[0]
        logits = vector @ weights + bias
        odds = np.exp(logits - logits.max())
        probs = odds / odds.sum()
        ranked = sorted(zip(self.acts, probs.tolist(), strict=True), key=lambda x: -x[1])
        act, p = ranked[0]
        return Reading(act, round(p, 3), tuple((a, round(q, 3)) for a, q in ranked),
                       acting=act in ACTING and (p >= ACTING_AT or answering))

    def _model(self, requests: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """The regression learnt with these extra request lines (kept, a few per world)."""
        with self._lock:
            if requests not in self._models:
                if len(self._models) > MODELS_KEPT:
                    self._models = {(): self._models[()]}
                vectors = np.vstack([self._vectors, self._embed(list(requests))])
                labels = np.concatenate([self._labels, np.full(len(requests),
                                                               self.acts.index("request"))])
                self._models[requests] = _train(vectors, labels, len(self.acts))
            return self._models[requests]


@functools.cache
def _examples() -> dict[str, tuple[str, ...]]:
    text = resources.files(__package__).joinpath("speech_acts.yaml").read_text(encoding="utf-8")
    return {str(act): tuple(lines) for act, lines in yaml.safe_load(text).items()}


def _train(vectors: np.ndarray, labels: np.ndarray, n_classes: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """Softmax regression by full-batch gradient descent, each class weighing the same."""
    target = np.eye(n_classes)[labels]
    counts = np.bincount(labels, minlength=n_classes)
    share = (len(labels) / (n_classes * counts))[labels][:, None] / len(labels)
    weights = np.zeros((vectors.shape[1], n_classes))
    bias = np.zeros(n_classes)
    for _ in range(STEPS):
        logits = vectors @ weights + bias
        odds = np.exp(logits - logits.max(axis=1, keepdims=True))
        error = (odds / odds.sum(axis=1, keepdims=True) - target) * share
        weights -= RATE * (vectors.T @ error + L2 * weights)
        bias -= RATE * error.sum(axis=0)
    return weights, bias
