"""The question map: its corpus, its gradient, what it learns, and its cache file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from npc_runtime.cache_files import kept
from npc_runtime.dialogue import question_map
from npc_runtime.dialogue.question_map import CorpusWorld, QuestionMap, corpus, train
from npc_runtime.tools.acts import Embed


def test_the_corpus_has_its_worlds_and_every_line_names_a_fact_or_none() -> None:
    worlds = corpus()
    assert len(worlds) >= 24
    for world in worlds:
        assert len(world.lines) == len(world.asks)
        assert set(world.asks) <= {-1, *range(len(world.facts))}
        assert all(world.asks.count(i) >= 5 for i in range(len(world.facts)))
        assert world.asks.count(-1) >= 8  # lines that ask for no fact


def test_the_gradient_is_the_losss_slope() -> None:
    """The hand-written gradient against finite differences of the loss it descends."""
    rng = np.random.default_rng(1)

    def unit(rows: int) -> np.ndarray:
        v = rng.normal(size=(rows, 6)).astype(np.float64)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    lines, facts, asks = unit(5), unit(3), np.array([0, 2, -1, 1, -1])
    weights = rng.normal(scale=0.1, size=(6, 6))

    def loss(w: np.ndarray) -> float:
        moved = lines + lines @ w.T
        moved /= np.linalg.norm(moved, axis=1, keepdims=True)
        logits = np.hstack([moved @ facts.T, np.full((5, 1), question_map.NONE_AT)])
        logits /= question_map.TEMPERATURE
        logits -= logits.max(axis=1, keepdims=True)
        log_odds = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return float(-log_odds[np.arange(5), np.where(asks < 0, 3, asks)].mean())

    grad = question_map._gradient(weights, lines, facts, asks)
    step = 1e-6
    for i, j in [(0, 0), (2, 5), (4, 1), (5, 3)]:
        bumped = weights.copy()
        bumped[i, j] += step
        assert abs((loss(bumped) - loss(weights)) / step - grad[i, j]) < 1e-3


def test_the_map_brings_unseen_worlds_questions_nearer_their_facts(embed: Embed) -> None:
    """Learnt on all but four corpus worlds, the map ranks the right fact first for more
    of the other four worlds' questions, and leaves fewer of their no-fact lines over the
    plan's bar, than the raw vectors do."""
    worlds = corpus()
    learnt, apart = worlds[:-4], worlds[-4:]
    mapped = QuestionMap(train(learnt, embed))

    def scores(world: CorpusWorld, move: QuestionMap | None) -> tuple[int, int]:
        lines, facts = embed(list(world.lines)), embed(list(world.facts))
        sims = (move(lines) if move else lines) @ facts.T
        asks = np.array(world.asks)
        right = int((sims.argmax(axis=1) == asks)[asks >= 0].sum())
        over = int((sims.max(axis=1) >= question_map.NONE_AT)[asks < 0].sum())
        return right, over

    raw = np.sum([scores(w, None) for w in apart], axis=0)
    moved = np.sum([scores(w, mapped) for w in apart], axis=0)
    assert moved[0] > raw[0]
    assert moved[1] < raw[1]


def test_an_untrained_map_changes_nothing() -> None:
    vectors = np.eye(4, dtype=np.float32)[:2]
    assert np.allclose(QuestionMap(np.zeros((4, 4), np.float32))(vectors), vectors)


def test_learnt_arrays_are_kept_and_a_damaged_file_is_made_again(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "key.npz"
    made: list[int] = []

    def make() -> dict[str, np.ndarray]:
        made.append(1)
        return {"weights": np.arange(4.0)}

    assert kept(path, make)["weights"].tolist() == [0, 1, 2, 3]
    assert kept(path, make)["weights"].tolist() == [0, 1, 2, 3]
    assert len(made) == 1  # the second came from the file
    path.write_bytes(b"not an npz")
    assert kept(path, make)["weights"].tolist() == [0, 1, 2, 3]
    assert len(made) == 2
    kept(None, make)
    assert len(made) == 3  # no cache folder: made every time
