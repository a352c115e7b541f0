"""`model tune` end to end on the tiny model: data, LoRA training, merge and export to a
model folder that loads and generates, with a manifest that says what it was tuned on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from npc_runtime.config import Settings
from npc_runtime.model.build import source_from_path
from npc_runtime.model.loader import load_model
from npc_runtime.model.manifest import Manifest
from npc_runtime.tune.pipeline import TuneJob, tune
from npc_runtime.tune.train import TrainSettings

pytestmark = pytest.mark.e2e  # trains and exports a model (~40 s)
ROOT = Path(__file__).resolve().parents[2]


def test_tune_makes_a_model_folder_that_loads_and_generates(
        tmp_path: Path, default_encoder_dir: Path) -> None:
    """A handful of judged examples and steps on the tiny model give a model folder that
    serving loads and runs; its manifest records base, world, data hash and settings; a
    second run with the same inputs keeps the data and training stages."""
    from npc_runtime.testing import write_tiny_hf_model

    base = source_from_path(write_tiny_hf_model(tmp_path / "hf"))
    # The cache folder is the real one: the tiny base model is built there once, and the
    # speech-act reader's weights are learnt there once.
    settings = Settings(max_new_tokens=8, candidates=2, precision="fp32", state_db=None,
                        cache_dir=Settings.load().cache_dir, encoder_dir=default_encoder_dir)
    job = TuneJob(ROOT / "examples/worlds/saltmere", base, tmp_path / "tuned",
                  tmp_path / "work", settings,
                  TrainSettings(rank=4, alpha=8, epochs=1, batch=2, minutes=1,
                                lore_lines=True),
                  max_examples=6, max_points=1)
    said: list[str] = []
    manifest = tune(job, said.append)

    assert manifest == Manifest.read(tmp_path / "tuned")
    tuned = manifest.tuned or {}
    assert (tuned["world"], tuned["base"]["sha256"]) == ("Saltmere", base.fingerprint())
    records = (tmp_path / "work/data.jsonl").read_text().splitlines()
    assert len(records) == tuned["data"]["kept"] >= 6
    assert {"rank", "learning_rate", "steps", "loss_first"} <= set(tuned["training"])
    assert all(json.loads(r)["prompt"] for r in records)
    model = load_model(tmp_path / "tuned", device="cpu", threads=1)
    prompt = model.tokenizer.encode_chat([("user", "Hello there.")])
    logits, _ = model.runner.forward(prompt, model.runner.empty_cache())
    assert np.isfinite(logits).all()

    said.clear()
    tune(job, said.append)
    assert any("data: kept from an earlier run" in s for s in said)
    assert any("train: kept from an earlier run" in s for s in said)

