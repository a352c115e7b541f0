"""
A classifier of what a line does, learnt from example lines per act: softmax regression
over sentence vectors (the encoder comes in as ``embed``; no onnxruntime here) and the
line's words. The vector carries the meaning ("I'd love one" is a yes); the words carry
the form a mean-pooled vector blurs: "can I have the key?" and "can I ask you something?"
lie close as vectors, while "can i have" is a request in every example that has it. The
words are learnt features (stems, stem pairs and the first one to three words, TF-IDF
weighted over the examples), not a list: on ``tests/tools/data/speech_acts_check.yaml``
(lines written apart from the examples) the vector alone read 85 % of acts right and let
25 of 41 requests and yeses act; with the words, 90 % and 32 of 41 (3 of 141 other lines
act where 4 did). The NPC offer reader keeps to the vector (``words=False``, acts.py).

The built-in examples (``speech_acts.yaml`` for player lines, ``npc_acts.yaml`` for the
NPC's) are ~1700 lines; embedding and learning them took 40 s on a busy 2-core machine,
so the vectors and the weights are kept on disk under ``cache``, named by a digest of
everything that shapes them: the examples, the extra lines, the settings below, and what
the encoder makes of a probe sentence (another encoder: another file). A world's extra
lines (its tools' ``examples:``) start from the built-in weights and need fewer steps.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from npc_runtime.cache_files import Arrays, kept
from npc_runtime.tools.intents import Embed, spelt_out, word_features

STEPS = 2000  # full-batch gradient steps from zero (3000 read the check set no better)
EXTRA_STEPS = 300  # ... from the built-in weights, with a world's extra lines
RATE = 10.0
# Weight decay. With 1e-3 the probabilities blur: on the tool benchmark's development
# lines 10 of 24 requests and yeses are read so at 0.4 or more; 1e-4 reads 20 at 0.5,
# with 2 of 54 lines that ask for nothing (speech_acts_check.yaml, lines written apart from
# the examples: 85 % of all acts right; 26 of 41 requests and yeses, 4 of 141 others).
L2 = 1e-4
WORDS = 1.0  # the word features' share beside the vector (both unit length); 0.5 to 2
# read alike on the check set (86-89 %), 1.0 let the most requests act
MODELS_KEPT = 32  # extra-line sets kept in memory; more and all but the built-in one go
_PROBE = "A probe sentence: which encoder is this?"

Weights = tuple[np.ndarray, np.ndarray]


class ActModel:
    """Probabilities of each act for a line, learnt from the package's ``examples`` file."""

    def __init__(self, embed: Embed, examples: str, cache: Path | None = None, *,
                 words: bool = True) -> None:
        """``words``: learn the lines' words beside their vectors (else the vectors alone)."""
        self._embed = embed
        self._cache = cache
        lines = _examples(examples)
        self.acts = tuple(lines)
        self._labels = np.array([i for i, act in enumerate(self.acts) for _ in lines[act]])
        texts = [line for act in self.acts for line in lines[act]]
        self._words = _Words(texts if words else [])
        # The word columns are in the name: weights learnt over other columns never load.
        self._key = _digest(examples, json.dumps(lines), embed([_PROBE]).round(4).tobytes(),
                            "\0".join(self._words.columns))
        vectors, weights = self._stored(
            self._key, lambda: embed(texts),
            lambda vectors: _train(self._words.beside(vectors, texts), self._labels,
                                   len(self.acts)))
        self._features = self._words.beside(vectors, texts)
        self._models: dict[tuple[str, ...], Weights] = {(): weights}
        self._lock = threading.Lock()

    def probabilities(self, text: str, extra: tuple[str, ...] = (), extra_act: str = ""
                      ) -> list[tuple[str, float]]:
        """Each act's probability for ``text``, most likely first; ``extra`` lines (read as
        ``extra_act``) join the examples."""
        weights, bias = self._model(extra, extra_act)
        logits = self._words.beside(self._embed([text]), [text])[0] @ weights + bias
        odds = np.exp(logits - logits.max())
        probs = odds / odds.sum()
        return sorted(zip(self.acts, probs.tolist(), strict=True), key=lambda x: -x[1])

    def _model(self, extra: tuple[str, ...], act: str) -> Weights:
        with self._lock:
            if extra not in self._models:
                if len(self._models) > MODELS_KEPT:
                    self._models = {(): self._models[()]}
                labels = np.concatenate([self._labels,
                                         np.full(len(extra), self.acts.index(act))])
                start = self._models[()]
                _, self._models[extra] = self._stored(
                    _digest(self._key, act, *extra), lambda: self._embed(list(extra)),
                    lambda vectors: _train(
                        np.vstack([self._features, self._words.beside(vectors, extra)]),
                        labels, len(self.acts), start=start, steps=EXTRA_STEPS))
            return self._models[extra]

    def _stored(self, key: str, embed: Callable[[], np.ndarray],
                train: Callable[[np.ndarray], Weights]) -> tuple[np.ndarray, Weights]:
        """Vectors and weights from the cache file named by ``key``, else made and kept."""
        def make() -> Arrays:
            vectors = embed()
            weights, bias = train(vectors)
            return {"vectors": vectors, "weights": weights, "bias": bias}

        arrays = kept(self._cache / f"{key}.npz" if self._cache else None, make)
        return arrays["vectors"], (arrays["weights"], arrays["bias"])


class _Words:
    """The word features of lines, as columns learnt from the examples' words (those in
    at least two examples), TF-IDF weighted, rows of unit length."""

    def __init__(self, examples: Sequence[str]) -> None:
        seen = Counter(f for line in examples for f in set(_word_features(line)))
        kept = sorted(f for f, n in seen.items() if n >= 2)
        self.columns = tuple(kept)
        self._columns = {f: i for i, f in enumerate(kept)}
        self._idf = np.array([math.log((1 + len(examples)) / (1 + seen[f])) for f in kept],
                             np.float32)

    def beside(self, vectors: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """The sentence ``vectors`` of ``texts`` with their word features after them."""
        words = np.zeros((len(texts), len(self._columns)), np.float32)
        for row, text in enumerate(texts):
            for feature, n in _word_features(text).items():
                if (column := self._columns.get(feature)) is not None:
                    words[row, column] = (1 + math.log(n)) * self._idf[column]
        norms = np.linalg.norm(words, axis=1, keepdims=True)
        return np.hstack([vectors.astype(np.float32), WORDS * words / np.maximum(norms, 1e-9)])


def _word_features(text: str) -> Counter[str]:
    """Stems, stem pairs, the first one to three words, contractions spelt out ("^can
    i", "^here is": how a line opens says much of what it does), and the mark it ends with
    ("$?": "one silver?? for a rowing boat?" read as a request, 0.40, without it)."""
    words = spelt_out(text)
    end = _END.search(text)
    return word_features(text) + Counter(
        [*(f"^{' '.join(words[:n])}" for n in (1, 2, 3) if len(words) >= n),
         *([f"${end.group(1)}"] if end else [])])


_END = re.compile(r"([?!.])[\s\"')\]]*$")


def _digest(*parts: str | bytes) -> str:
    sha = hashlib.sha256(f"{STEPS} {EXTRA_STEPS} {RATE} {L2} words {WORDS}".encode())
    for part in parts:
        sha.update(part if isinstance(part, bytes) else part.encode())
        sha.update(b"\0")
    return sha.hexdigest()[:20]


@functools.cache
def _examples(name: str) -> dict[str, tuple[str, ...]]:
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    return {str(act): tuple(lines) for act, lines in yaml.safe_load(text).items()}


def _train(vectors: np.ndarray, labels: np.ndarray, n_classes: int, *,
           start: Weights | None = None, steps: int = STEPS) -> Weights:
    """Softmax regression by full-batch gradient descent, each class weighing the same."""
    vectors = vectors.astype(np.float32)
    target = np.eye(n_classes, dtype=np.float32)[labels]
    counts = np.bincount(labels, minlength=n_classes)
    share = ((len(labels) / (n_classes * counts))[labels][:, None] / len(labels)
             ).astype(np.float32)
    weights, bias = ((start[0].astype(np.float32).copy(), start[1].astype(np.float32).copy())
                     if start else (np.zeros((vectors.shape[1], n_classes), np.float32),
                                    np.zeros(n_classes, np.float32)))
    for _ in range(steps):
        logits = vectors @ weights + bias
        odds = np.exp(logits - logits.max(axis=1, keepdims=True))
        error = (odds / odds.sum(axis=1, keepdims=True) - target) * share
        weights -= RATE * (vectors.T @ error + L2 * weights)
        bias -= RATE * error.sum(axis=0)
    return weights, bias
