"""Load a built model folder: manifest, tokenizer and ONNX session together."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from npc_runtime.model.manifest import Manifest
from npc_runtime.model.runner import OnnxCausalLM
from npc_runtime.model.tokenizer import ChatTokenizer


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """What the dialogue layer needs from a model folder."""

    path: Path
    manifest: Manifest
    tokenizer: ChatTokenizer
    runner: OnnxCausalLM


def load_model(model_dir: Path, *, device: str = "auto", threads: int = 0,
               spin: bool = True) -> LoadedModel:
    """
    Open a model folder built by ``npc-runtime model build``.

    Raises:
        ModelNotFoundError: The folder does not exist.
        ModelCorruptError: Its files are missing, truncated or unloadable.
    """
    manifest = Manifest.read(model_dir)
    tokenizer = ChatTokenizer(model_dir, manifest)
    runner = OnnxCausalLM(model_dir / "model.onnx", kv_heads=manifest.kv_heads,
                          head_dim=manifest.head_dim, device=device, threads=threads,
                          spin=spin)
    return LoadedModel(model_dir, manifest, tokenizer, runner)
