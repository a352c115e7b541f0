"""Settings: the onnxruntime spinning switch and the state URL (the rest is exercised by the
CLI tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from npc_runtime.config import Settings
from npc_runtime.errors import ConfigError
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


def test_npc_state_url_is_read_and_never_shown() -> None:
    """The URL comes from NPC_STATE_URL; a Settings' repr leaves it out (its password)."""
    url = "postgresql://npc:s3cret@db.internal:5432/npc"
    settings = Settings.load(env={"NPC_STATE_URL": url})
    assert url == settings.state_url
    assert "s3cret" not in repr(settings)
    assert Settings.load(env={}).state_url is None


def test_a_state_url_that_is_not_postgresql_is_refused_without_echoing_it() -> None:
    """Anything but postgresql:// is a ConfigError that shows the form, not the value."""
    with pytest.raises(ConfigError, match=r"postgresql://USER:PASSWORD@HOST") as info:
        Settings.load(env={"NPC_STATE_URL": "mysql://npc:s3cret@db/npc"})
    assert "s3cret" not in str(info.value)
