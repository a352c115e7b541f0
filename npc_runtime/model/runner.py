"""
The ONNX causal LM: one onnxruntime session and its KV cache.

This is the only module that imports onnxruntime. The graph (from the
onnxruntime-genai builder, or any export with the same names) takes ``input_ids``,
``attention_mask``, optionally ``position_ids``, and ``past_key_values.{i}.key|value``;
it returns ``logits`` and ``present.{i}.key|value``.
"""

from __future__ import annotations

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


CAPACITY_STEP = 256  # KV buffers grow in chunks of this many tokens


class KVCache:
    """
    The attention keys and values of one sequence's first ``length`` tokens.

    The buffers have room for ``capacity`` tokens: GroupQueryAttention writes each new
    token's keys and values in place (the same buffer is bound as past and present), so a
    decode step copies nothing and allocates nothing. Mutable: a cache belongs to one
    sequence at a time; shared prefixes are copied before use.
    """

    def __init__(self, arrays: list[np.ndarray], length: int) -> None:
        self.arrays = arrays  # per past input, session order: [1, kv_heads, capacity, head_dim]
        self.length = length

    @property
    def capacity(self) -> int:
        """Tokens the buffers can hold before they must grow."""
        return int(self.arrays[0].shape[2]) if self.arrays else 0

    @property
    def nbytes(self) -> int:
        """Memory held by the buffers."""
        return sum(a.nbytes for a in self.arrays)

    def rewind(self, length: int) -> KVCache:
        """Forget every token after the first ``length`` (no copy), e.g. to regenerate."""
        if not 0 <= length <= self.length:
            raise ValueError(f"cannot rewind a {self.length}-token cache to {length}")
        self.length = length
        return self

    def clear(self) -> None:
        """Free the buffers (the tokens live on elsewhere, e.g. in a decode batch row)."""
        self.arrays, self.length = [], 0

    def copy(self, capacity: int = 0) -> KVCache:
        """A new cache with the same tokens and room for ``capacity`` (at least ``length``)."""
        size = _round_up(max(capacity, self.length + 1))
        arrays = []
        for old in self.arrays:
            new = np.zeros((*old.shape[:2], size, old.shape[3]), old.dtype)
            new[:, :, : self.length] = old[:, :, : self.length]
            arrays.append(new)
        return KVCache(arrays, self.length)


def _round_up(tokens: int) -> int:
    return -(-tokens // CAPACITY_STEP) * CAPACITY_STEP


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

    # The graph must use GroupQueryAttention (the onnxruntime-genai builder's), which
    # accepts a past buffer larger than the past and writes present into it in place.

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

    def empty_cache(self, capacity: int = CAPACITY_STEP) -> KVCache:
        """A cache holding no tokens, with room for ``capacity``."""
        shape = (1, self._kv_heads, _round_up(max(capacity, 1)), self._head_dim)
        # Zeros, not empty: attention reads the buffer and masks the unused part; garbage
        # there could hold NaNs that survive a zero weight.
        return KVCache([np.zeros(shape, self._kv_dtype) for _ in self._past_names], 0)

    def forward(self, token_ids: Sequence[int], cache: KVCache) -> tuple[np.ndarray, KVCache]:
        """
        Run ``token_ids`` after the tokens in ``cache``, extending it in place.

        Returns:
            The logits for the token after the last one (``[vocab]``, float32) and
            ``cache``, now covering ``token_ids`` too (grown first if it had no room).
        """
        n, past = len(token_ids), cache.length
        if past + n > cache.capacity:
            cache.arrays = cache.copy(past + n + CAPACITY_STEP).arrays
        # [1, past + n]: attention derives each token's position and the valid length here
        mask = np.ones((1, past + n), dtype=np.int64)
        logits = self.forward_rows([list(token_ids)], mask, cache.arrays)
        cache.length = past + n
        return logits[0], cache

    def forward_rows(self, token_ids: list[list[int]], attention_mask: np.ndarray,
                     arrays: list[np.ndarray]) -> np.ndarray:
        """
        One forward pass over rows of KV buffers, written in place.

        Args:
            token_ids: ``[rows, n]`` new tokens.
            attention_mask: ``[rows, total]``; row r has ones over its past and new tokens.
            arrays: per past input, ``[rows, kv_heads, capacity, head_dim]`` buffers.

        Returns:
            ``[rows, vocab]`` float32 logits for each row's next token.
        """
        binding = self._session.io_binding()
        binding.bind_cpu_input("input_ids", np.asarray(token_ids, dtype=np.int64))
        binding.bind_cpu_input("attention_mask", attention_mask)
        if self._has_position_ids:
            first = attention_mask.sum(axis=1, keepdims=True) - len(token_ids[0])
            binding.bind_cpu_input("position_ids",
                                   first + np.arange(len(token_ids[0]), dtype=np.int64))
        binding.bind_output("logits")  # first, so it is get_outputs()[0]
        for name, present, array in zip(self._past_names, self._present_names, arrays,
                                        strict=True):
            buffer = ort.OrtValue.ortvalue_from_numpy(array)  # no copy: wraps the array
            binding.bind_ortvalue_input(name, buffer)
            binding.bind_ortvalue_output(present, buffer)  # written in place
        self._session.run_with_iobinding(binding)
        logits = binding.get_outputs()[0].numpy()  # [rows, 1, vocab]: the graph keeps the last
        return np.asarray(logits[:, -1], dtype=np.float32)
