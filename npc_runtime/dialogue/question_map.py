"""
How players ask, mapped towards how lore states: a learnt linear map on sentence vectors.

The reply planner (``plan.py``) finds the fact a line asks about by the cosine between the
line's vector and the fact's. A general sentence encoder puts a question ("what do I owe
you for a bed?") and the statement that answers it ("A room costs five copper pieces a
night.") only so close, and puts a remark about the same thing ("I'll take a room, here's
the coin.") about as close. This map moves a line's vector before the comparison:
``normalise(v + W v)``, with ``W`` learnt so that, over many small worlds, each player line
lands nearest the fact it asks for, and a line that asks for none stays below the plan's
bar (``plan.ASKS_ABOUT``) for every fact.

What it learns from is our own corpus (``asking/*.yaml``, written for this and for nothing
else: invented settings, 8 facts each, 7 ways a player asks for each fact, 3 lines on the
same topic that ask for none, and greetings, bait and small talk), never a benchmark's
lines nor a world the runtime ships. Softmax over each corpus world's facts plus a "none"
class scored at the bar; weight decay keeps ``W`` small (a nudge, not a new encoder). It is
learnt with numpy in about a second once the lines are embedded, and kept on disk by a
digest of the corpus, the settings below and the encoder (``cache_files.kept``).

Switch it off with ``NPC_QUESTION_MAP=0`` (the plan then compares raw vectors); ``say
--explain`` prints the cosines the plan used either way.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import structlog
import yaml

from npc_runtime.cache_files import kept
from npc_runtime.tools.intents import Embed

# Chosen with benchmarks/plan_probe.py over the persona development sets (dev,
# plan_probe_extra and the spent held-out set, 130 fact lines and 163 others): 10 passes at
# 0.03 gave 109 right first facts (106 without the map) and 29 lines a fact they do not ask
# for (35); 0.1 and 0.3, or 30 passes, no better.
EPOCHS = 10  # passes over the corpus worlds
L2 = 3e-2  # weight decay on W
RATE = 1e-3  # Adam's step
TEMPERATURE = 0.05  # of the softmax over cosines
NONE_AT = 0.30  # the "asks for none" class's cosine: plan.ASKS_ABOUT when it was learnt
_PROBE = "A probe sentence: which encoder is this?"

log = structlog.get_logger(__name__)


@dataclasses.dataclass(frozen=True)
class CorpusWorld:
    """One small world of the corpus: its facts' texts, and lines with the index of the
    fact each asks for (-1: none)."""

    facts: tuple[str, ...]
    lines: tuple[str, ...]
    asks: tuple[int, ...]


class QuestionMap:
    """Moves line vectors towards the facts they ask for (see the module doc)."""

    def __init__(self, weights: np.ndarray) -> None:
        self._lift = np.eye(weights.shape[0], dtype=np.float32) + weights.T

    def __call__(self, vectors: np.ndarray) -> np.ndarray:
        """``vectors`` (unit rows) mapped, unit rows again."""
        moved: np.ndarray = vectors @ self._lift
        unit: np.ndarray = moved / np.maximum(np.linalg.norm(moved, axis=1, keepdims=True),
                                              1e-12)
        return unit


def learn_question_map(embed: Embed, cache_dir: Path | None = None) -> QuestionMap:
    """The map learnt from the package's corpus, from ``cache_dir/question-map/`` when
    it was learnt before with the same corpus, settings and encoder."""
    worlds = corpus()
    key = hashlib.sha256("\0".join([
        json.dumps([dataclasses.asdict(w) for w in worlds]),
        f"{EPOCHS} {L2} {RATE} {TEMPERATURE} {NONE_AT}",
        embed([_PROBE]).round(4).tobytes().hex()]).encode()).hexdigest()[:20]
    path = cache_dir / "question-map" / f"{key}.npz" if cache_dir else None

    def learn() -> dict[str, np.ndarray]:
        started = time.perf_counter()
        weights = train(worlds, embed)
        log.info("question_map_learnt", worlds=len(worlds), kept_in=str(path or ""),
                 seconds=round(time.perf_counter() - started, 1))
        return {"weights": weights}

    return QuestionMap(kept(path, learn)["weights"])


@functools.cache
def corpus() -> tuple[CorpusWorld, ...]:
    """The corpus worlds (``asking/*.yaml``), in file order."""
    folder = resources.files(__package__).joinpath("asking")
    worlds = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        data = yaml.safe_load(entry.read_text(encoding="utf-8"))
        lines: list[str] = []
        asks: list[int] = []
        for i, fact in enumerate(data["facts"]):
            lines += fact["asks"]
            asks += [i] * len(fact["asks"])
            lines += fact.get("not_asking", [])
            asks += [-1] * len(fact.get("not_asking", []))
        lines += data.get("asks_none", [])
        asks += [-1] * len(data.get("asks_none", []))
        worlds.append(CorpusWorld(tuple(f["text"] for f in data["facts"]), tuple(lines),
                                  tuple(asks)))
    return tuple(worlds)


def train(worlds: Sequence[CorpusWorld], embed: Embed, *, epochs: int = EPOCHS,
          l2: float = L2, seed: int = 0) -> np.ndarray:
    """``W`` learnt by Adam on the softmax loss, one corpus world per step, in a fixed
    shuffled order (``seed``)."""
    batches = [(embed(list(w.lines)).astype(np.float32),
                embed(list(w.facts)).astype(np.float32), np.array(w.asks)) for w in worlds]
    dim = batches[0][0].shape[1]
    weights = np.zeros((dim, dim), np.float32)
    moment, square = np.zeros_like(weights), np.zeros_like(weights)
    order = np.random.default_rng(seed)
    step = 0
    for _ in range(epochs):
        for index in order.permutation(len(batches)):
            step += 1
            grad = _gradient(weights, *batches[index]) + 2 * l2 * weights
            moment = 0.9 * moment + 0.1 * grad
            square = 0.999 * square + 0.001 * grad * grad
            weights -= RATE * (moment / (1 - 0.9 ** step)) / (
                np.sqrt(square / (1 - 0.999 ** step)) + 1e-8)
    return weights


def _gradient(weights: np.ndarray, lines: np.ndarray, facts: np.ndarray,
              asks: np.ndarray) -> np.ndarray:
    """d(mean cross-entropy)/dW for one world: each line's softmax over its world's facts
    and the "none" class, cosines over TEMPERATURE."""
    moved = lines + lines @ weights.T
    norm = np.linalg.norm(moved, axis=1, keepdims=True)
    unit = moved / norm
    logits = np.hstack([unit @ facts.T, np.full((len(lines), 1), NONE_AT, np.float32)])
    logits /= TEMPERATURE
    odds = np.exp(logits - logits.max(axis=1, keepdims=True))
    odds /= odds.sum(axis=1, keepdims=True)
    target = np.where(asks < 0, facts.shape[0], asks)
    odds[np.arange(len(lines)), target] -= 1.0
    d_unit = (odds[:, :-1] / (TEMPERATURE * len(lines))) @ facts
    d_moved = (d_unit - unit * (d_unit * unit).sum(axis=1, keepdims=True)) / norm
    grad: np.ndarray = (d_moved.T @ lines).astype(np.float32)
    return grad
