"""Shared fixtures: the tiny real model (seconds to build), the real default model, and a
throwaway PostgreSQL server (`tests/postgres.py`)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from npc_runtime.config import EXAMPLE_WORLD, Settings
from npc_runtime.logs import configure_logging
from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import World
from npc_runtime.model.loader import LoadedModel, load_model
from npc_runtime.tools.acts import Embed, SpeechActs

# A throwaway PostgreSQL server for the session; pytest finds fixtures imported here.
from tests.postgres import postgres  # noqa: F401


@pytest.fixture(scope="session", autouse=True)
def _quiet_logs() -> None:
    """Only warnings and errors from the package while tests run."""
    configure_logging("console", "warning")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """
    A random-weight Llama exported to fp32 ONNX by the real build pipeline.
    ``NPC_TEST_TINY_MODEL`` names a prebuilt folder (a machine without the export extra).
    """
    if prebuilt := os.environ.get("NPC_TEST_TINY_MODEL"):
        return Path(prebuilt)
    from npc_runtime.testing import build_tiny_model

    out, _ = build_tiny_model(tmp_path_factory.mktemp("tiny"))
    return out


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir: Path) -> LoadedModel:
    """The tiny model, loaded."""
    return load_model(tiny_model_dir, device="cpu", threads=1)


@pytest.fixture(scope="session")
def tiny_cuda_model(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    """
    The tiny model built for CUDA (fp16) and loaded on the GPU; skipped without one.
    ``NPC_TEST_CUDA_TINY_MODEL`` names a prebuilt folder (a GPU machine without the
    export extra).
    """
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        pytest.skip("needs onnxruntime-gpu and an NVIDIA GPU")
    if prebuilt := os.environ.get("NPC_TEST_CUDA_TINY_MODEL"):
        folder = Path(prebuilt)
    else:
        from npc_runtime.testing import build_tiny_model

        folder, _ = build_tiny_model(tmp_path_factory.mktemp("tiny-cuda"), precision="fp16",
                                     device="cuda")
    return load_model(folder, device="cuda")


@pytest.fixture(scope="session")
def default_model_dir() -> Path:
    """The real default model (SmolLM2-135M-Instruct int4), built if missing."""
    from npc_runtime.model.build import build_model, default_source, model_dir_for

    settings = Settings.load()
    source = default_source()
    out = model_dir_for(settings.cache_dir, source, "int4")
    build_model(source, out, precision="int4")
    return out


@functools.cache
def default_encoder_dir() -> Path:
    """The real sentence encoder (all-MiniLM-L6-v2, fp32), built if missing (~10 s)."""
    from npc_runtime.errors import ModelNotFoundError
    from npc_runtime.model.encoder_build import ensure_default_encoder

    try:
        return ensure_default_encoder(Settings.load().cache_dir, progress=lambda _: None)
    except ModelNotFoundError as exc:
        pytest.skip(f"the encoder's weights are not installed: {exc}")


@functools.cache
def default_embed() -> Embed:
    """The real sentence encoder's ``embed``, as the dialogue engine's reply planner takes
    it (helpers that are not fixtures call this; it is loaded once)."""
    from npc_runtime.model.encoder import load_encoder

    return load_encoder(default_encoder_dir()).embed


@pytest.fixture(scope="session", name="default_encoder_dir")
def default_encoder_dir_fixture() -> Path:
    """See ``default_encoder_dir``."""
    return default_encoder_dir()


@pytest.fixture(scope="session")
def embed() -> Embed:
    """See ``default_embed``."""
    return default_embed()


@pytest.fixture(scope="session")
def speech_acts(embed: Embed) -> SpeechActs:
    """The speech-act reader, its weights kept where the server keeps them."""
    return SpeechActs(embed, Settings.load().cache_dir)


@pytest.fixture(scope="session")
def world() -> World:
    """The Quickstart example world."""
    return load_world(EXAMPLE_WORLD)
