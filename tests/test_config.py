"""Settings: the onnxruntime spinning switch (the rest is exercised by the CLI tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from npc_runtime.config import Settings
from npc_runtime.model.loader import load_model


def test_threads_sleep_between_steps_unless_npc_spin_turns_spinning_on() -> None:
    """Threads sleep by default (a shared machine); NPC_SPIN=1 makes them spin."""
    assert not Settings.load(env={}).spin
    assert Settings.load(env={"NPC_SPIN": "1"}).spin
    assert not Settings.load(env={"NPC_SPIN": "0"}).spin


def test_a_model_without_spinning_computes_the_same_logits(tiny_model_dir: Path) -> None:
    """Spinning is a scheduling choice: the numbers do not change."""
    spinning = load_model(tiny_model_dir, device="cpu", threads=2).runner
    sleeping = load_model(tiny_model_dir, device="cpu", threads=2, spin=False).runner
    expected, _ = spinning.forward([1, 2, 3], spinning.empty_cache())
    actual, _ = sleeping.forward([1, 2, 3], sleeping.empty_cache())
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)
