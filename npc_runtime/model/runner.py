"""
The ONNX causal LM: one onnxruntime session and its KV cache.

This is the only module that imports onnxruntime. The graph (from the
onnxruntime-genai builder, or any export with the same names) takes ``input_ids``,
``attention_mask``, optionally ``position_ids``, and ``past_key_values.{i}.key|value``;
it returns ``logits`` and ``present.{i}.key|value``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
import structlog

from npc_runtime.errors import ModelCorruptError
from npc_runtime.model.manifest import REBUILD_HINT

log = structlog.get_logger(__name__)

_ORT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


@dataclasses.dataclass(frozen=True)
class KVCache:
    """The attention keys and values of every token seen so far, for one sequence."""

    arrays: tuple[np.ndarray, ...]  # per past input, in session order: [1, kv_heads, seq, head_dim]
    length: int  # tokens covered

    def rewind(self, length: int) -> KVCache:
        """The cache of the first ``length`` tokens (views, no copy), e.g. to regenerate."""
        if not 0 <= length <= self.length:
            raise ValueError(f"cannot rewind a {self.length}-token cache to {length}")
        if length == self.length:
            return self
        return KVCache(tuple(a[:, :, :length, :] for a in self.arrays), length)


def choose_providers(device: str) -> list[str]:
    """Execution providers for ``device`` (auto picks CUDA when onnxruntime-gpu has it)."""
    available = ort.get_available_providers()
    if device == "cuda" and "CUDAExecutionProvider" not in available:
        raise ModelCorruptError(
            "device=cuda but this onnxruntime has no CUDA provider; "
            "install npc-runtime[gpu] (onnxruntime-gpu) instead of onnxruntime"
        )
    if device != "cpu" and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class OnnxCausalLM:
    """Runs forward passes of an exported causal LM, one sequence at a time."""

    def __init__(self, model_path: Path, *, kv_heads: int, head_dim: int,
                 device: str = "auto", threads: int = 0) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session = ort.InferenceSession(
                str(model_path), options, providers=choose_providers(device)
            )
        except (ort.capi.onnxruntime_pybind11_state.Fail,
                ort.capi.onnxruntime_pybind11_state.InvalidGraph,
                ort.capi.onnxruntime_pybind11_state.InvalidProtobuf,
                ort.capi.onnxruntime_pybind11_state.NoSuchFile) as exc:
            raise ModelCorruptError(f"cannot load {model_path}: {exc}; {REBUILD_HINT}") from exc
        self.providers: list[str] = self._session.get_providers()
        inputs = {i.name: i for i in self._session.get_inputs()}
        self._past_names = [n for n in inputs if n.startswith("past_key_values.")]
        self._present_names = [n.replace("past_key_values.", "present.") for n in self._past_names]
        if "input_ids" not in inputs or not self._past_names:
            raise ModelCorruptError(
                f"{model_path} is not a causal LM with KV cache inputs; {REBUILD_HINT}"
            )
        first = inputs[self._past_names[0]]
        self._kv_dtype = _ORT_TYPES.get(first.type, np.float32)
        self._kv_heads, self._head_dim = kv_heads, head_dim
        self._has_position_ids = "position_ids" in inputs
        log.info("model_loaded", path=str(model_path), providers=self.providers,
                 layers=len(self._past_names) // 2)

    def empty_cache(self) -> KVCache:
        """A cache holding no tokens."""
        shape = (1, self._kv_heads, 0, self._head_dim)
        return KVCache(tuple(np.zeros(shape, self._kv_dtype) for _ in self._past_names), 0)

    def forward(self, token_ids: Sequence[int], cache: KVCache) -> tuple[np.ndarray, KVCache]:
        """
        Run ``token_ids`` after the tokens in ``cache``.

        Returns:
            The logits for the token after the last one (``[vocab]``, float32) and the
            cache extended by ``token_ids``.
        """
        n, past = len(token_ids), cache.length
        feeds: dict[str, np.ndarray] = {
            "input_ids": np.asarray([token_ids], dtype=np.int64),  # [1, n]
            "attention_mask": np.ones((1, past + n), dtype=np.int64),  # [1, past + n]
        }
        if self._has_position_ids:
            feeds["position_ids"] = np.arange(past, past + n, dtype=np.int64)[None, :]  # [1, n]
        feeds.update(zip(self._past_names, cache.arrays, strict=True))
        outputs = self._session.run(["logits", *self._present_names], feeds)
        logits = np.asarray(outputs[0][0, -1], dtype=np.float32)  # [vocab]
        return logits, KVCache(tuple(outputs[1:]), past + n)
